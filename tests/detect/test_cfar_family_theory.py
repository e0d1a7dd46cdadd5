"""The CFAR family's model against textbook theory.

Threshold factors (CA closed form, GO/SO by quadrature against the Gandhi–Kassam
sums, OS by Rohling's product), the false-alarm rate measured by the bit-exact model
in exponential noise (CA, GO, SO, OS, 1-D and 2-D), Swerling-1 detection of CA,
masking (CA masks a weaker target beside a stronger one, OS does not), and the
factors on correlated cells.

Noise power is exponential with mean ``2**20`` LSB², rounded to integers (the
rounding moves a Pfa by about ``1e-6`` relative). Each trial is a cell under test
whose window shares no cell with another trial's (one tested row per map; in 2-D
only every ``2(Dd + Gd) + 1``-th Doppler bin is counted), so the detection count is
binomial; its bounds are two-sided with probability ``1 - 5.7e-7`` (5 sigma). The
seeds are fixed.
"""

from math import comb

import numpy as np
import pytest
from scipy import signal, stats

from amaradar.sim.models.detect.cfar import (cfar_alpha, cfar_alpha_correlated, cfar_applied_alpha,
                                             cfar_pfa, cfar_pfa_correlated, cfar_scale_word,
                                             cfar_thresholds, doppler_acf, reference_count,
                                             taps_acf)

from pulses import centred_lfm

MEAN = 2.0 ** 20
CONFIDENCE = 1 - 5.7e-7
ONE_D = dict(reference_cells=8, guard_cells=2)                     # n = 16
TWO_D = dict(reference_cells=2, guard_cells=1, doppler_reference_cells=1,
             doppler_guard_cells=0)                                # n = 7 * 3 - 3 = 18


def assert_binomial(count, trials, p):
    low, high = stats.binom.interval(CONFIDENCE, trials, p)
    assert low <= count <= high, f"{count} of {trials}: outside [{low}, {high}] for p={p:.4g}"


def window_shape(window):
    rows = 2 * (window["reference_cells"] + window["guard_cells"]) + 1
    stride = 2 * (window.get("doppler_reference_cells", 0)
                  + window.get("doppler_guard_cells", 0)) + 1
    return rows, stride


def count_false_alarms(rng, window, cfar_type, scale, os_k, trials, *, columns=66, batch=4000):
    """Detections among ``trials`` independent cells under test in exponential noise."""
    rows, stride = window_shape(window)
    centre = rows // 2
    counted = np.arange(0, columns, stride)
    assert columns % stride == 0
    hits = done = 0
    while done < trials:
        x = np.round(rng.standard_exponential((batch, rows, columns)) * MEAN).astype(np.int64)
        hit, _ = cfar_thresholds(x, cfar_type=cfar_type, scale=scale, os_k=os_k, **window)
        hits += int(hit[:, centre, counted].sum())
        done += batch * len(counted)
    return hits, done


# ---------------------------------------------------------------- factors

def test_factors_textbook_values():
    assert round(cfar_alpha("ca", 1e-3, 16), 4) == 8.6388
    assert round(cfar_alpha("ca", 1e-6, 16), 2) == 21.94
    assert round(cfar_alpha("go", 1e-6, 16), 2) == 19.36       # on the larger half mean
    assert round(cfar_alpha("so", 1e-6, 16), 2) == 41.06       # on the smaller half mean
    assert round(cfar_alpha("os", 1e-3, 16, os_k=12), 4) == 7.4214
    for cfar_type, k in (("ca", None), ("go", None), ("so", None), ("os", 12)):
        alpha = cfar_alpha(cfar_type, 1e-4, 18, os_k=k)
        assert cfar_pfa(cfar_type, alpha, 18, os_k=k) == pytest.approx(1e-4, rel=1e-9)


def gandhi_kassam(cfar_type, alpha, half):
    """Closed forms on the half *sum* (factor ``t = alpha / half``): SO is
    ``2 sum_{i<h} C(h-1+i, i) (2+t)^-(h+i)``, GO the two-half CA minus SO."""
    t = alpha / half
    so = 2 * sum(comb(half - 1 + i, i) * (2 + t) ** -(half + i) for i in range(half))
    return so if cfar_type == "so" else 2 * (1 + t) ** -half - so


@pytest.mark.parametrize("cfar_type", ["go", "so"])
def test_go_so_quadrature_matches_closed_form(cfar_type):
    for half in (2, 8, 9, 24):
        for alpha in (0.5, 3.0, 12.0, 40.0):
            assert cfar_pfa(cfar_type, alpha, 2 * half) == pytest.approx(
                gandhi_kassam(cfar_type, alpha, half), rel=1e-8)


def test_two_d_window_counts():
    assert reference_count(**TWO_D) == 18
    assert reference_count(8, 2) == 16
    assert reference_count(3, 1, 2, 1) == 9 * 7 - 3 * 3


# ---------------------------------------------------------------- measured Pfa

@pytest.mark.parametrize("window", [ONE_D, TWO_D], ids=["1d", "2d"])
@pytest.mark.parametrize("cfar_type", ["ca", "go", "so", "os"])
def test_measured_pfa_of_bit_exact_model(cfar_type, window):
    n = reference_count(**window)
    k = 3 * n // 4 if cfar_type == "os" else None        # 12 of 16, 13 of 18
    scale = cfar_scale_word(cfar_type, cfar_alpha(cfar_type, 1e-3, n, os_k=k), n)
    pfa = cfar_pfa(cfar_type, cfar_applied_alpha(cfar_type, scale, n), n, os_k=k)
    assert pfa == pytest.approx(1e-3, rel=2e-3)          # the rounded scale word
    rng = np.random.default_rng(["ca", "go", "so", "os"].index(cfar_type) + 10 * (window is TWO_D))
    hits, trials = count_false_alarms(rng, window, cfar_type, scale, k, 10 ** 6,
                                      columns=66 if window is TWO_D else 64)
    assert trials >= 10 ** 6
    assert_binomial(hits, trials, pfa)


def test_os_measured_pfa_against_rohling_for_every_rank():
    """One scale word, ranks 4 ... 16 of 16: the measured Pfa follows
    prod_{i<k} (n-i)/(n-i+T) as k varies (it spans two decades here)."""
    rng = np.random.default_rng(40)
    scale = cfar_scale_word("os", 3.0, 16)
    previous = 1.0
    for k in (4, 8, 12, 16):
        pfa = cfar_pfa("os", cfar_applied_alpha("os", scale, 16), 16, os_k=k)
        assert pfa < previous / 2
        previous = pfa
        hits, trials = count_false_alarms(rng, ONE_D, "os", scale, k, 2 * 10 ** 5, columns=64)
        assert_binomial(hits, trials, pfa)


# ---------------------------------------------------------------- detection, masking

def test_swerling1_pd_of_ca_at_15_db():
    """A Swerling-1 target (exponential power of mean (1 + s) noise) in the cell under
    test: Pd = (1 + alpha / (n (1 + s)))**-n for CA."""
    rng = np.random.default_rng(50)
    n, s = 16, 10 ** 1.5
    scale = cfar_scale_word("ca", cfar_alpha("ca", 1e-6, n), n)
    alpha = cfar_applied_alpha("ca", scale, n)
    theory = (1 + alpha / (n * (1 + s))) ** -n
    x = np.round(rng.standard_exponential((400, 21, 64)) * MEAN).astype(np.int64)
    x[:, 10, :] = np.round(rng.standard_exponential((400, 64)) * MEAN * (1 + s))
    hit, _ = cfar_thresholds(x, cfar_type="ca", scale=scale, **ONE_D)
    measured = hit[:, 10, :].mean()
    print(f"CA Swerling 1 at 15 dB, Pfa 1e-6: Pd {measured:.4f} measured, {theory:.4f} theory")
    assert 0.4 < theory < 0.7                             # 0.52: Pfa 1e-6 costs SNR
    assert abs(measured - theory) < 0.02, (measured, theory)


def test_ca_masks_a_weaker_target_os_does_not():
    """A 20 dB target 4 cells beyond a 30 dB one (inside each other's window): CA's mean
    rises with the strong target and hides the weak one; OS with k = 12 of 16 ignores
    up to 4 interferers. Without the strong target both detect the weak one."""
    rng = np.random.default_rng(60)
    columns, r_weak = 2000, 10
    noise = (rng.standard_normal((21, columns)) + 1j * rng.standard_normal((21, columns))) \
        * np.sqrt(MEAN / 2)
    weak = noise.copy()
    weak[r_weak] += np.sqrt(100 * MEAN)
    both = weak.copy()
    both[r_weak - 4] += np.sqrt(1000 * MEAN)
    n = 16
    rates = {}
    for name, field in (("weak", weak), ("both", both)):
        x = np.round(np.abs(field) ** 2).astype(np.int64)
        for cfar_type, k in (("ca", None), ("os", 12)):
            scale = cfar_scale_word(cfar_type, cfar_alpha(cfar_type, 1e-3, n, os_k=k), n)
            hit, _ = cfar_thresholds(x, cfar_type=cfar_type, scale=scale, os_k=k, **ONE_D)
            rates[name, cfar_type] = hit[r_weak].mean()
    assert rates["weak", "ca"] > 0.95 and rates["weak", "os"] > 0.95
    assert rates["both", "ca"] < 0.01
    assert rates["both", "os"] > 0.95


# ---------------------------------------------------------------- correlated cells

def test_correlated_factors_on_white_noise_are_the_independent_ones():
    ca = cfar_alpha_correlated("ca", 1e-6, **ONE_D)
    assert ca.method == "exact" and ca.value == pytest.approx(cfar_alpha("ca", 1e-6, 16), rel=1e-9)
    for cfar_type, k in (("go", None), ("so", None), ("os", 12)):
        mc = cfar_alpha_correlated(cfar_type, 1e-3, os_k=k, trials=50_000, seed=3, **ONE_D)
        assert mc.method == "monte-carlo" and 0 < mc.rel_error < 0.05
        assert cfar_pfa(cfar_type, mc.value, 16, os_k=k) == pytest.approx(
            1e-3, rel=5 * mc.rel_error)


def lfm_acf(lags):
    taps = np.conj(centred_lfm(50, 2))[::-1]              # matched filter, BT = 50, fs = 2B
    return taps, taps_acf(taps, lags)


@pytest.mark.parametrize("window", [ONE_D, TWO_D], ids=["1d", "2d"])
def test_correlated_monte_carlo_agrees_with_exact_ca(window):
    """On a matched filter's noise (and, in 2-D, a Hamming-windowed Doppler FFT's) the
    Monte-Carlo factor of CA meets the exact Pfa within its stated error."""
    _, acf = lfm_acf(40)
    dacf = doppler_acf(np.hamming(16)) if window is TWO_D else None
    exact = cfar_alpha_correlated("ca", 1e-3, range_acf=acf, doppler_acf=dacf, **window)
    mc = cfar_alpha_correlated("ca", 1e-3, range_acf=acf, doppler_acf=dacf, method="mc",
                               trials=50_000, seed=4, **window)
    white = cfar_alpha("ca", 1e-3, reference_count(**window))
    assert abs(exact.value / white - 1) > 0.1            # correlation matters here
    check = cfar_pfa_correlated("ca", mc.value, range_acf=acf, doppler_acf=dacf, **window)
    assert check.method == "exact"
    assert check.value == pytest.approx(1e-3, rel=5 * mc.rel_error)


def test_go_factor_on_correlated_noise_meets_the_design_pfa():
    """Matched-filtered noise (LFM, BT = 50, fs = 2B): the white GO factor gives too
    many false alarms, the Monte-Carlo factor the design rate (binomial bounds widened
    by five times its stated error)."""
    rng = np.random.default_rng(70)
    taps, acf = lfm_acf(40)
    design, n = 1e-3, 16
    mc = cfar_alpha_correlated("go", design, range_acf=acf, trials=100_000, seed=5, **ONE_D)
    counts = {"white": 0, "correlated": 0}
    trials = 0
    words = {"white": cfar_scale_word("go", cfar_alpha("go", design, n), n),
             "correlated": cfar_scale_word("go", mc.value, n)}
    for _ in range(16):
        white = (rng.standard_normal((25_000, 21 + len(taps) - 1))
                 + 1j * rng.standard_normal((25_000, 21 + len(taps) - 1)))
        y = signal.fftconvolve(white, taps[None, :], mode="valid", axes=1)
        power = np.abs(y) ** 2
        x = np.round(power / power.mean() * MEAN).astype(np.int64)[:, :, None]
        for name, scale in words.items():
            hit, _ = cfar_thresholds(x, cfar_type="go", scale=scale, **ONE_D)
            counts[name] += int(hit[:, 10, 0].sum())
        trials += x.shape[0]
    low, high = stats.binom.interval(CONFIDENCE, trials, design)
    margin = 5 * mc.rel_error * design * trials
    assert low - margin <= counts["correlated"] <= high + margin, (counts, trials, mc)
    assert counts["white"] > 1.2 * high, counts
