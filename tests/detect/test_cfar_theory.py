"""CA-CFAR model against textbook theory: alpha, Pfa, Swerling-1 Pd, correlated noise.

Noise is TRUE complex Gaussian: numpy normal I and Q of standard deviation
``SIGMA = 1024`` LSB, each rounded to an integer as an ADC or a filter output
would be, and ``power = I**2 + Q**2`` is exact. The rounding error (variance
1/12 LSB^2 per component) is 71 dB below the noise (2**20 LSB^2), so the power
is exponential to about 1e-7 relative: quantisation is negligible next to the
statistical bounds below (several percent).

Every trial is a range line of exactly one window ``2(R + G) + 1``, so the model
tests exactly one cell per line and the trials are independent: the detection
count is binomial and its bounds are exact. The bounds are two-sided with
probability ``1 - 5.7e-7`` (5 sigma), so a correct model fails about once in two
million runs; the seeds are fixed.
"""

import numpy as np
import pytest
from scipy import linalg, stats

from amaradar.hdl.formats import CFAR_SCALE_FRAC
from amaradar.sim.models.detect.ca_cfar import (ca_cfar, ca_cfar_thresholds, ca_cfar_alpha,
                                                ca_cfar_alpha_correlated, ca_cfar_pfa,
                                                ca_cfar_pfa_correlated, cfar_scale)

from pulses import centred_lfm

SIGMA = 1024
R, G = 8, 2                  # N = 16 reference cells
N = 2 * R
WINDOW = 2 * (R + G) + 1
CONFIDENCE = 1 - 5.7e-7      # two-sided 5 sigma


def complex_noise(rng, shape, sigma=SIGMA):
    """Complex Gaussian samples, I and Q rounded to integers (int64 pair)."""
    return (np.round(rng.standard_normal(shape) * sigma).astype(np.int64),
            np.round(rng.standard_normal(shape) * sigma).astype(np.int64))


def detections_per_line(power, scale):
    """Number of lines (of WINDOW cells, one tested cell each) that detect."""
    assert power.shape[1] == WINDOW
    det = ca_cfar(power, reference_cells=R, guard_cells=G, scale=scale)
    assert np.all(det["range_bin"] == R + G)
    return len(det)


def quantised_alpha(scale):
    """The alpha that the integer scale word really applies: threshold = alpha * mean."""
    return scale * N / 2.0 ** CFAR_SCALE_FRAC


def assert_binomial(count, trials, p):
    low, high = stats.binom.interval(CONFIDENCE, trials, p)
    assert low <= count <= high, f"{count} of {trials}: outside [{low}, {high}] for p={p:.4g}"


def test_alpha_textbook_values():
    assert round(ca_cfar_alpha(16, 1e-3), 4) == 8.6388
    assert ca_cfar_alpha(16, 1e-6) == pytest.approx(21.9, abs=0.05)
    assert ca_cfar_pfa(16, ca_cfar_alpha(16, 1e-3)) == pytest.approx(1e-3, rel=1e-12)


def test_measured_pfa_of_bit_exact_model():
    scale = cfar_scale(R, 1e-3)
    pfa = ca_cfar_pfa(N, quantised_alpha(scale))
    # the rounded scale word moves the Pfa by less than 0.01 %
    assert pfa == pytest.approx(1e-3, rel=1e-4) and pfa != 1e-3
    rng = np.random.default_rng(1)
    trials, count = 0, 0
    for _ in range(4):
        i, q = complex_noise(rng, (250_000, WINDOW))
        count += detections_per_line(i * i + q * q, scale)
        trials += i.shape[0]
    assert trials >= 10 ** 6
    print(f"Pfa: design 1e-3, scale word {scale} -> exact {pfa:.6g}, measured {count / trials:.4g}")
    assert_binomial(count, trials, pfa)


def test_swerling1_pd():
    snr = 10.0                                   # 10 dB
    scale = cfar_scale(R, 1e-3)
    pd = (1 + quantised_alpha(scale) / (N * (1 + snr))) ** -N
    assert 0.4 < pd < 0.5
    rng = np.random.default_rng(2)
    trials = 200_000
    i, q = complex_noise(rng, (trials, WINDOW))
    # Swerling 1: the echo is complex Gaussian too, independent from trial to trial
    i[:, R + G], q[:, R + G] = complex_noise(rng, trials, SIGMA * np.sqrt(1 + snr))
    count = detections_per_line(i * i + q * q, scale)
    print(f"Swerling 1, SNR 10 dB: Pd theory {pd:.4f}, measured {count / trials:.4f}")
    assert_binomial(count, trials, pd)


def lfm_matched_filter(bt):
    """Matched filter of a unit LFM chirp of time-bandwidth ``bt``, sampled at fs = 2B."""
    chirp = centred_lfm(bt, 2)
    return np.conj(chirp[::-1]) / np.sqrt(len(chirp))   # unit noise gain


def exact_pfa(covariance, alpha):
    return ca_cfar_pfa_correlated(covariance, alpha, reference_cells=R, guard_cells=G)


def correlated_pfa(h, scale, trials=200_000, seed=3):
    """Monte-Carlo detections of the bit-exact model on matched-filtered noise.

    Each trial filters fresh white complex Gaussian noise through ``h`` and keeps
    one window of the output where the filter fully overlaps the noise. The noise
    is drawn directly as its DFT (the DFT of white Gaussian noise is white
    Gaussian noise); the wrap-free part of the circular convolution, evaluated
    only at the window's samples, is the linear one.
    """
    rng = np.random.default_rng(seed)
    nfft = WINDOW + len(h) - 1                  # just long enough not to wrap
    taps = np.arange(len(h) - 1, len(h) - 1 + WINDOW)
    # inverse DFT at the window's samples, with H and unit output noise per component
    synth = (np.fft.fft(h, nfft)[:, None] / np.sqrt(nfft)
             * np.exp(2j * np.pi * np.outer(np.arange(nfft), taps) / nfft))
    count, chunk = 0, 50_000
    for _ in range(trials // chunk):
        noise_f = rng.standard_normal((chunk, nfft, 2)).view(np.complex128)[..., 0]
        out = noise_f @ synth
        i = np.round(out.real * SIGMA).astype(np.int64)
        q = np.round(out.imag * SIGMA).astype(np.int64)
        count += detections_per_line(i * i + q * q, scale)
    return count


def test_lfm_correlated_noise_raises_pfa():
    """LFM BT = 50 at fs = 2B: correlated noise cells raise the Pfa above design."""
    h = lfm_matched_filter(50)
    lag = np.correlate(h, h, "full")[len(h) - 1:len(h) - 1 + WINDOW]
    covariance = linalg.toeplitz(lag)             # Hermitian, unit diagonal
    assert abs(lag[1]) > 0.5                      # neighbouring cells strongly correlated
    scale = cfar_scale(R, 1e-3)
    alpha = quantised_alpha(scale)
    design = ca_cfar_pfa(N, alpha)
    assert exact_pfa(np.eye(WINDOW), alpha) == pytest.approx(design, rel=1e-9)
    theory = exact_pfa(covariance, alpha)
    trials = 200_000
    count = correlated_pfa(h, scale, trials)
    assert_binomial(count, trials, theory)
    _, high = stats.binom.interval(CONFIDENCE, trials, design)
    assert count > high                           # significantly above the design Pfa
    print(f"LFM BT=50, fs=2B, CA-CFAR N={N} G={G}, design Pfa {design:.4g}: "
          f"theory {theory:.4g} ({theory / design:.2f} x), "
          f"measured {count / trials:.4g} ({count / trials / design:.2f} x)")


def test_correlation_corrected_threshold_restores_the_design_pfa():
    """The chain's threshold for correlated noise: alpha solved on the exact Pfa."""
    h = lfm_matched_filter(50)
    alpha = ca_cfar_alpha_correlated(h, 1e-3, reference_cells=R, guard_cells=G)
    assert alpha > ca_cfar_alpha(N, 1e-3) * 1.05        # a real correction
    scale = cfar_scale(R, 1e-3, alpha=alpha)
    lag = np.correlate(h, h, "full")[len(h) - 1:len(h) - 1 + WINDOW]
    theory = exact_pfa(linalg.toeplitz(lag), quantised_alpha(scale))
    assert theory == pytest.approx(1e-3, rel=1e-3)      # only the word's rounding remains
    trials = 200_000
    count = correlated_pfa(h, scale, trials, seed=4)
    print(f"corrected alpha {alpha:.4f} (white {ca_cfar_alpha(N, 1e-3):.4f}): "
          f"measured Pfa {count / trials:.4g}")
    assert_binomial(count, trials, theory)


def test_thresholds_match_the_detections():
    rng = np.random.default_rng(5)
    i, q = complex_noise(rng, (3, 300), sigma=64)
    power = i * i + q * q
    scale = cfar_scale(R, 1e-2)
    thresholds = ca_cfar_thresholds(power, reference_cells=R, guard_cells=G, scale=scale)
    assert np.all(thresholds[:, :R + G] == 0) and np.all(thresholds[:, -(R + G):] == 0)
    det = ca_cfar(power, reference_cells=R, guard_cells=G, scale=scale)
    assert len(det) > 0
    assert np.array_equal(det["threshold"], thresholds[det["pulse"], det["range_bin"]])
    # cells above their threshold and tested, minus exact ties broken by the fraction
    above = power[:, R + G:-(R + G)] > thresholds[:, R + G:-(R + G)]
    assert len(det) <= above.sum()
