"""The tracker's bit-exact model: its tables against Kalata and the Kalman filter, its
steps against a scalar re-implementation, and its behaviour on synthetic plots
(steady-state error, crossing targets among false plots, folded Doppler, the
range-Doppler coupling)."""

import math

import numpy as np
import pytest

from amaradar.hdl.track.tables import (GAIN_FRAC, STATE_FRAC, STATUS_COASTING, STATUS_CONFIRMED,
                                       STATUS_TENTATIVE, TrackerConfig, TrackerRadar, kalata_gains,
                                       scale_word, tracker_tables)
from amaradar.sim.models.track.ideal_tracker import IdealTracker
from amaradar.sim.models.track.tracker import (TRACK_DTYPE, TrackerModel, associate,
                                               tracker_radar)
from amaradar.sim.world.track_metrics import PLOT_DTYPE, synthetic_plots
from amaradar.sim.world.scenario import parse_scenario, receive_iq, transmit_pulse_ideal
from amaradar.spec.physics import SPEED_OF_LIGHT

# A UHF surveillance radar: 15 m cells, 16 pulses of 1 ms, v_u = 172 m/s, LFM up.
UHF = TrackerRadar(range_cell_m=15.0, cpi_s=16e-3, pulses=16,
                   unambiguous_velocity_mps=SPEED_OF_LIGHT / 435e6 / 1e-3 / 4,
                   sweep="up", pulse_width_s=10e-6, bandwidth_hz=5e6)
PLAIN = TrackerRadar(range_cell_m=15.0, cpi_s=16e-3, pulses=16, unambiguous_velocity_mps=172.0)


def plots(*ranges_cells, doppler_pos=2048):
    """One CPI's plots at these ranges (cells), all at the same Doppler position."""
    out = np.zeros(len(ranges_cells), dtype=PLOT_DTYPE)
    out["range_pos"] = np.round(np.array(ranges_cells) * 256)
    out["doppler_pos"] = doppler_pos
    return out


def constant_velocity(starts, rates, cpis):
    """Truth ``(range, rate)`` arrays (targets, cpis) in cells and cells per CPI."""
    starts, rates = np.asarray(starts, float), np.asarray(rates, float)
    return starts[:, None] + rates[:, None] * np.arange(cpis), rates[:, None] * np.ones(cpis)


# ---------------------------------------------------------------- tables

def test_kalata_formula():
    assert np.allclose(kalata_gains(0.1), (0.36, 0.08), atol=1e-12)
    assert np.allclose(kalata_gains(1.0), (0.75, 0.5), atol=1e-12)


@pytest.mark.parametrize("lam,alpha,beta", [(0.1, 0.36, 0.08), (1.0, 0.75, 0.5)])
def test_gain_table_converges_to_kalata(lam, alpha, beta):
    t = tracker_tables(TrackerConfig(radar=PLAIN, tracking_index=lam, range_sigma_cells=0.5))
    lsb = 2.0 ** -GAIN_FRAC
    a, b = t.alpha[1:, 0] * lsb, t.beta[1:, 0] * lsb
    assert abs(a[-1] - alpha) <= lsb / 2 and abs(b[-1] - beta) <= lsb / 2
    # the table ends at the first age whose gains round to Kalata's
    assert (t.alpha[-2, 0], t.beta[-2, 0]) != (t.alpha[-1, 0], t.beta[-1, 0])
    assert np.all(a[:-1] > alpha)                   # a young track trusts its plots more
    # misses widen the gate and raise the gains; age narrows the gate
    assert np.all(np.diff(t.gate, axis=1)[1:] > 0) and np.all(np.diff(t.gate[1:, 0]) <= 0)
    assert np.all(np.diff(t.alpha, axis=1)[1:] >= 0)


def test_tables_match_the_kalman_filter():
    """Gates, unfolding age and first gains against a Kalman recursion written out here."""
    cfg = TrackerConfig(radar=UHF, tracking_index=0.3, range_sigma_cells=0.1, max_speed_mps=6000)
    t = tracker_tables(cfg)
    max_rate = 6000 / (15.0 / 16e-3)
    r_var, q = 0.01, (0.3 * 0.1) ** 2
    p = np.array([[r_var, 0], [0, (max_rate / 4) ** 2]])
    f = np.array([[1.0, 1], [0, 1]])
    for age in range(1, t.unfold_age + 1):
        pp = f @ p @ f.T + q * np.array([[0.25, 0.5], [0.5, 1]])
        s = pp[0, 0] + r_var
        assert t.gate[age, 0] == round(4 * math.sqrt(s) * 2 ** STATE_FRAC)
        assert t.alpha[age, 0] == round(pp[0, 0] / s * 2 ** GAIN_FRAC)
        assert t.beta[age, 0] == round(pp[1, 0] / s * 2 ** GAIN_FRAC)
        p = pp - np.outer(pp[:, 0], pp[0]) / s
        assert t.rate_sigma[age + 1] == pytest.approx(math.sqrt(p[1, 1]))
        # unfold at the first age whose rate is within v_u at 4 sigma
        assert (4 * math.sqrt(p[1, 1]) <= UHF.unambiguous_rate) == (age + 1 >= t.unfold_age)
    assert t.unfolds and t.age_max >= t.unfold_age
    steep = tracker_tables(TrackerConfig(radar=UHF, tracking_index=0.3, range_sigma_cells=0.5))
    assert not steep.unfolds and steep.unfold_age == steep.age_max + 1


def test_scaled_constants():
    assert scale_word(1.0) == (1 << 17, 17)
    word, shift = scale_word(-0.1234567)
    assert 1 << 17 <= -word < 1 << 18 and abs(word * 2.0 ** -shift + 0.1234567) < 2.0 ** -shift
    assert scale_word(0) == (0, 0)
    t = tracker_tables(TrackerConfig(radar=UHF))
    for word, shift, value in [(*t.to_rate, t.to_rate_f), (*t.to_doppler, t.to_doppler_f),
                               (*t.coupling, t.coupling_f)]:
        assert abs(word * 2.0 ** -shift / value - 1) < 2.0 ** -17


# ---------------------------------------------------------------- association

def brute_force_associate(gated, key):
    """Pick the smallest (key, row, column) among the free gated pairs, again and again."""
    gated = gated.copy()
    pairs = []
    while gated.any():
        best = min((key[r, c], r, c) for r, c in zip(*np.nonzero(gated)))
        _, r, c = best
        pairs.append((r, c))
        gated[r, :] = False
        gated[:, c] = False
    return pairs


def test_associate_matches_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(200):
        tracks, n = rng.integers(0, 7), rng.integers(0, 7)
        gated = rng.random((tracks, n)) < 0.6
        key = rng.integers(0, 6, (tracks, n))        # many ties
        rows, cols = associate(gated, key)
        assert list(zip(rows.tolist(), cols.tolist())) == brute_force_associate(gated, key)


# ---------------------------------------------------------------- the steps, by hand

def _half_even(value, shift):
    """``value / 2**shift`` rounded half to even, Python integers."""
    if shift == 0:
        return value
    floor = value >> shift
    rest, half = value - (floor << shift), 1 << (shift - 1)
    return floor + (rest > half or (rest == half and floor & 1 == 1))


def _scaled(value, constant):
    return _half_even(value * constant[0], constant[1])


def reference_single_track(t, frames, confirm_m, correct):
    """One track fed one plot per CPI, written out with Python integers."""
    out = []
    for i, frame in enumerate(frames):
        z, x = int(frame["range_pos"][0]) << 8, int(frame["doppler_pos"][0]) - t.doppler_zero
        if i == 0:
            r, v, age, unfolded = z, 0, 1, False
            out.append((_half_even(r, 8), v, age, int(unfolded)))
            continue
        r += v

        def unfold(rate):
            predicted = _scaled(rate, t.to_doppler)
            xu = x + (_half_even(predicted - x, t.period_bits) << t.period_bits)
            return _scaled(xu, t.to_rate), _scaled(xu, t.coupling) if correct else 0

        e = z - r
        if unfolded:
            rate, correction = unfold(v)
            e += correction
        r += _half_even(int(t.alpha[age, 0]) * e, GAIN_FRAC)
        if unfolded:
            v += _half_even(t.doppler_gain * (rate - v), GAIN_FRAC)
        else:
            v += _half_even(int(t.beta[age, 0]) * e, GAIN_FRAC)
            if i >= confirm_m and age + 1 >= t.unfold_age and abs(e) <= int(t.gate[age, 0]) >> 1:
                v, correction = unfold(v)
                r += correction
                unfolded = True
        age = min(age + 1, t.age_max)
        out.append((_half_even(r, 8), v, age, int(unfolded)))
    return out


@pytest.mark.parametrize("multiple,correct", [(-10.3, True), (7.6, False), (0.4, True)])
def test_single_track_matches_scalar_reference(multiple, correct):
    cfg = TrackerConfig(radar=UHF, max_speed_mps=12000)
    t = tracker_tables(cfg)
    ranges, rates = constant_velocity([3000.0], [multiple * UHF.unambiguous_rate], 40)
    frames, _ = synthetic_plots(UHF, ranges, rates, rng=np.random.default_rng(3))
    model = TrackerModel(cfg, confirm_m=3, confirm_n=4, correct_coupling=correct)
    reports = model.run(frames)
    assert len(reports) == 40 and np.all(reports["plot"] == 1) and np.all(reports["track_id"] == 0)
    got = [tuple(int(v) for v in row) for row in reports[["range_pos", "range_rate", "age", "unfolded"]]]
    assert got == reference_single_track(t, frames, 3, correct)
    assert reports["unfolded"][-1] == 1
    assert list(reports["status"][:3]) == [STATUS_TENTATIVE] * 2 + [STATUS_CONFIRMED]


# ---------------------------------------------------------------- book-keeping

def run_pattern(pattern, **runtime):
    """One target at 500 cells, detected in the CPIs where ``pattern`` is 1."""
    model = TrackerModel(TrackerConfig(radar=PLAIN, max_speed_mps=1000), **runtime)
    return [model.step(plots(500.0) if hit else plots()) for hit in pattern]


def test_m_of_n_confirmation():
    reports = run_pattern([1, 0, 1, 1], confirm_m=2, confirm_n=3)
    assert [r["status"].tolist() for r in reports] == [[0], [0], [1], [1]]
    assert [r["misses"].tolist() for r in reports] == [[0], [1], [0], [0]]
    # 1 of the first 3 can no longer reach 2: deleted at the third CPI
    reports = run_pattern([1, 0, 0, 0], confirm_m=2, confirm_n=3)
    assert [len(r) for r in reports] == [1, 1, 0, 0]
    # M = 1 confirms at once
    assert run_pattern([1], confirm_m=1, confirm_n=1)[0]["status"].tolist() == [STATUS_CONFIRMED]


def test_coasting_and_deletion_after_k_misses():
    reports = run_pattern([1, 1, 0, 0, 1, 0, 0, 0, 1], confirm_m=2, confirm_n=2, delete_k=3)
    assert [r["status"].tolist() for r in reports[:8]] == \
        [[0], [1], [2], [2], [1], [2], [2], []]
    # the plot after the deletion starts a new track with a new id in the same slot
    assert reports[8]["track_id"].tolist() == [1] and reports[8]["status"].tolist() == [0]


def test_reports_ids_and_track_overflow():
    model = TrackerModel(TrackerConfig(radar=PLAIN, max_tracks=2, max_speed_mps=1000),
                         confirm_m=1, confirm_n=1, delete_k=1)
    first = model.step(plots(100.0, 300.0, 500.0), cpi=65535)
    assert first["cpi"].tolist() == [65535, 65535] and first["track_id"].tolist() == [0, 1]
    assert first["plot"].tolist() == [1, 2]
    status = model.status()
    assert status.initiations_dropped == 1 and status.flags["track_overflow"]
    assert status.flag_word == 2
    second = model.step(plots(500.0))          # both tracks miss and die; the plot takes slot 0
    assert second["cpi"].tolist() == [0] and second["track_id"].tolist() == [2]
    ids = np.concatenate([first["track_id"], second["track_id"]])
    assert len(set(ids.tolist())) == len(ids)


def test_plot_overflow_and_id_exhaustion():
    model = TrackerModel(TrackerConfig(radar=PLAIN, max_plots=3, id_bits=4, max_tracks=32,
                                       max_speed_mps=100), confirm_m=2, confirm_n=2)
    model.step(plots(*range(100, 600, 100)))                  # 5 plots, 3 taken
    assert model.status().plots_dropped == 2 and model.status().flags["plot_overflow"]
    for k in range(10):
        model.step(plots(1000.0 + 100 * k, 2000.0 + 100 * k))  # 2 new tracks per CPI
    status = model.status()
    assert status.tracks_started == 16 and status.flags["id_exhausted"]
    assert status.initiations_dropped == 3 + 20 - 16            # 23 wanted ids, 16 exist


def test_range_saturation_is_flagged():
    model = TrackerModel(TrackerConfig(radar=PLAIN, range_pos_bits=16, max_speed_mps=3000),
                         confirm_m=1, confirm_n=1)
    for cells in (249.0, 252.0, 255.0):                 # opening 3 cells per CPI
        model.step(plots(cells))
    assert not model.status().flags["range_saturated"]
    reports = model.step(plots())                        # predicted beyond 2**16 / 256 cells
    assert model.status().flags["range_saturated"]
    assert reports["range_pos"].tolist() == [(1 << 16) - 1]
    assert model.status().flag_word == 1 << 3


def test_folded_doppler_gate_wraps():
    """A track compares a plot's folded Doppler with its last plot's, across the fold."""
    cfg = TrackerConfig(radar=PLAIN, max_speed_mps=1000, doppler_gate_bins=1.0)
    top = 16 * 256 - 10                                   # 10 LSB below the fold
    for doppler, associated in [(top + 20 - 4096, True), (top - 250, True), (top - 300, False)]:
        model = TrackerModel(cfg, confirm_m=2, confirm_n=3)
        model.step(plots(500.0, doppler_pos=top))
        reports = model.step(plots(500.1, doppler_pos=doppler))
        assert (reports["plot"][0] == 1) == associated
        assert len(reports) == (1 if associated else 2)   # a rejected plot starts a track


# ---------------------------------------------------------------- behaviour

@pytest.mark.parametrize("cls", [TrackerModel, IdealTracker])
@pytest.mark.parametrize("lam", [0.1, 1.0])
def test_steady_state_error_variance(cls, lam):
    """A target with white acceleration noise matched to lambda: after the update the
    range error variance is alpha sigma_r**2 (Kalata), here within 10 %."""
    sigma, targets, cpis, skip = 0.25, 60, 100, 40
    cfg = TrackerConfig(radar=PLAIN, max_tracks=targets, max_plots=targets, tracking_index=lam,
                        range_sigma_cells=sigma, max_speed_mps=50 * PLAIN.rate_scale_mps,
                        gate_sigmas=6.0)                 # no plot outside its gate in 30000
    rng = np.random.default_rng(11)
    errors = []
    for _ in range(5):
        model = cls(cfg, confirm_m=1, confirm_n=1, unfold=False)
        x, v = 1000.0 * (1 + np.arange(targets)), np.zeros(targets)
        for k in range(cpis):
            reports = model.step(plots(*(x + rng.normal(0, sigma, targets))))
            assert np.array_equal(reports["track_id"] % targets, np.arange(targets))
            if k >= skip:
                errors.append(reports["range_pos"] / 256 - x)
            a = rng.normal(0, lam * sigma, targets)
            x, v = x + v + a / 2, v + a
    ratio = np.var(errors) / (kalata_gains(lam)[0] * sigma ** 2)
    print(f"{cls.__name__}, lambda {lam}: error variance / (alpha sigma_r^2) = {ratio:.4f}")
    assert 0.9 < ratio < 1.1
    assert abs(np.mean(errors)) < 0.02 * sigma


def _track_of(reports, truth_range, cpi, tolerance):
    """The report of CPI ``cpi`` nearest ``truth_range`` (cells), if within tolerance."""
    now = reports[reports["cpi"] == cpi]
    if not len(now):
        return None
    best = np.argmin(np.abs(now["range_pos"] / 256 - truth_range))
    return now[best] if abs(now["range_pos"][best] / 256 - truth_range) <= tolerance else None


@pytest.mark.parametrize("cls", [TrackerModel, IdealTracker])
def test_folded_doppler_targets_get_the_unfolded_rate(cls):
    """Targets at 1x, 3x, 10x and 60x v_u: unfolded, rate within 0.2 Doppler bin."""
    multiples = np.array([1.0, -3.0, 10.0, -60.0])
    cpis = 50
    ranges, rates = constant_velocity([2000, 3000, 4000, 6000], multiples * UHF.unambiguous_rate, cpis)
    frames, _ = synthetic_plots(UHF, ranges, rates, rng=np.random.default_rng(5),
                                false_plots_per_cpi=1.0, false_range_cells=(1500, 6500))
    model = cls(TrackerConfig(radar=UHF, max_speed_mps=12000))
    reports = model.run(frames)
    bin_rate = 256 * abs(UHF.rate_per_doppler_lsb)               # cells per CPI per bin
    for k in range(len(multiples)):
        track = _track_of(reports, ranges[k, -1], cpis - 1, 0.5)
        assert track is not None and track["status"] == STATUS_CONFIRMED and track["unfolded"] == 1
        error = track["range_rate"] / 2 ** STATE_FRAC - rates[k, -1]
        assert abs(error) < 0.2 * bin_rate
    assert not any(model.status().flags.values())


def test_registers_fit_their_widths():
    cfg = TrackerConfig(radar=UHF, max_speed_mps=12000, id_bits=6)
    t = tracker_tables(cfg)
    w = t.widths
    assert t.alpha.max() <= 1 << GAIN_FRAC and t.alpha.max() < 1 << w["gain"]
    assert t.beta.max() < 1 << w["gain"] and t.gate.max() < 1 << w["gate"]
    assert t.range_max < 1 << w["range"] and t.rate_limit < 1 << (w["rate"] - 1)
    ranges, rates = constant_velocity([9000.0, 3000.0], [-60 * UHF.unambiguous_rate, 0.3], 40)
    frames, _ = synthetic_plots(UHF, ranges, rates, rng=np.random.default_rng(8),
                                false_plots_per_cpi=2.0, false_range_cells=(2000, 9000))
    reports = TrackerModel(cfg).run(frames)
    assert np.abs(reports["range_rate"]).max() < 1 << (w["rate"] - 1)
    assert reports["range_pos"].max() < 1 << cfg.range_pos_bits
    assert reports["age"].max() < 1 << w["age"] and reports["misses"].max() < 1 << w["misses"]
    assert reports["track_id"].max() < 1 << w["track_id"]
    unfolded = reports[reports["unfolded"] == 1]
    xp = np.abs(unfolded["range_rate"] * t.to_doppler_f).max()
    assert 1 << 16 < xp < 1 << (w["unfolded_doppler"] - 1)      # 30 Doppler periods


def test_coupling_correction_removes_the_range_bias():
    """A target closing at 60 v_u (coupling 0.6 cell): mean range error with and without
    the correction; without, the track sits closer by f_d T fs / B."""
    cpis, rate = 80, -60 * UHF.unambiguous_rate
    ranges, rates = constant_velocity([5000.0], [rate], cpis)
    frames, _ = synthetic_plots(UHF, ranges, rates, rng=np.random.default_rng(9))
    shift = UHF.coupling_per_doppler_lsb * rate / UHF.rate_per_doppler_lsb
    assert shift > 0.5                                              # closing: shown closer
    mean_error = {}
    for correct in (True, False):
        reports = TrackerModel(TrackerConfig(radar=UHF, max_speed_mps=12000),
                               correct_coupling=correct).run(frames)
        assert len(reports) == cpis and reports["unfolded"][20] == 1
        mean_error[correct] = np.mean(reports["range_pos"][20:] / 256 - ranges[0, 20:])
    assert abs(mean_error[False] + shift) < 0.1 * shift
    assert abs(mean_error[True]) < 0.1 * shift


def test_coupling_sign_against_the_scenario_echo():
    """The echo of ``receive_iq`` compressed by its own pulse peaks ``f_d T fs / B`` samples
    early for a closing target (up-sweep), as ``TrackerRadar.coupling_per_doppler_lsb`` says:
    the sign exactly, the size within 5 % (the pulse's rectangular envelope pulls the
    peak of a Doppler-shifted echo about 2 % towards zero shift)."""
    peaks = {}
    for velocity in (0.0, -3000.0, 3000.0):
        scenario = parse_scenario({
            "radar": {"sample_rate_hz": 10e6, "bandwidth_hz": 1e6, "pulse_width_s": 50e-6,
                      "pri_s": 2e-4, "carrier_hz": 435e6, "pulses_per_cpi": 2, "cpis": 1,
                      "adc_bits": 16, "noise_seed": 1, "waveform": "lfm", "noise_rms_lsb": 1.0},
            "cfar": {"reference_cells": 8, "guard_cells": 2, "pfa": 1e-6},
            "target": [{"range_m": 15e3, "radial_velocity_mps": velocity, "snr_db": 20.0}]})
        r = scenario.radar
        iq, _ = receive_iq(scenario)
        pulse = transmit_pulse_ideal(r)(np.arange(r.pulse_samples) / r.sample_rate_hz)
        power = np.abs(np.convolve(iq[0], np.conj(pulse[::-1]))) ** 2
        k = int(np.argmax(power))
        a, b, c = np.log(power[k - 1:k + 2])
        peaks[velocity] = k + 0.5 * (a - c) / (a - 2 * b + c)
    radar = tracker_radar(scenario.radar)
    doppler_lsb = -2 * 3000.0 / radar.wavelength_m * radar.pri_s * radar.pulses * 256   # opening
    expected = -radar.coupling_per_doppler_lsb * doppler_lsb           # measured - true, cells
    assert expected > 4                                                # opening: seen farther
    assert abs((peaks[3000.0] - peaks[0.0]) - expected) < 0.05 * expected
    assert abs((peaks[-3000.0] - peaks[0.0]) + expected) < 0.05 * expected


def test_crossing_targets_among_false_plots():
    """Two targets crossing in range (different Doppler) among false plots, Pd = 0.9:
    no swap, no duplicate, each confirmed within N CPIs of its first detection, and
    no confirmed track off the targets."""
    m, n, cpis = 3, 5, 90
    ranges, rates = constant_velocity([1000.0, 950.0], [-0.6, 0.4], cpis)     # cross at CPI 50
    frames, sources = synthetic_plots(UHF, ranges, rates, rng=np.random.default_rng(2),
                                      detection_probability=0.9, false_plots_per_cpi=3.0,
                                      false_range_cells=(700.0, 1300.0))
    for i in range(8):                                 # target 1 appears at CPI 8
        keep = sources[i] != 1
        frames[i], sources[i] = frames[i][keep], sources[i][keep]
    model = TrackerModel(TrackerConfig(radar=UHF, max_tracks=24, max_speed_mps=3000),
                         confirm_m=m, confirm_n=n, delete_k=5)     # 5 missed detections: 1e-5
    reports = model.run(frames)
    confirmed = reports[reports["status"] != STATUS_TENTATIVE]
    owner = {}
    for rep in confirmed:
        i = rep["cpi"]
        cost = np.abs(rep["range_pos"] / 256 - ranges[:, i]) + \
            10 * np.abs(rep["range_rate"] / 2 ** STATE_FRAC - rates[:, i])
        k = int(np.argmin(cost))
        assert abs(rep["range_pos"] / 256 - ranges[k, i]) < 1.0, "confirmed track off the targets"
        assert owner.setdefault(int(rep["track_id"]), k) == k, "track swapped targets"
    assert sorted(owner.values()) == [0, 1], "a target has no track, or two"
    for k in range(2):
        first = min(i for i in range(cpis) if k in sources[i])
        window = [k in sources[i] for i in range(first, first + n)]
        assert sum(window) >= m                        # the seed gives M of the first N
        track = next(t for t, target in owner.items() if target == k)
        confirmed_at = confirmed["cpi"][confirmed["track_id"] == track].min()
        assert confirmed_at <= first + n - 1
    crossing = reports[(reports["cpi"] >= 45) & (reports["cpi"] <= 55)]
    assert np.all(crossing[crossing["status"] != STATUS_TENTATIVE]["unfolded"] == 1)
    assert model.status().tracks_started > 100        # many false plots started tracks


# ---------------------------------------------------------------- parameters

def test_parameter_errors():
    with pytest.raises(ValueError, match=r"^pulses must be a power of two, not 12$"):
        TrackerRadar(range_cell_m=15.0, cpi_s=0.01, pulses=12, unambiguous_velocity_mps=100.0)
    with pytest.raises(ValueError, match=r"^range_cell_m must be finite and > 0, not -1.0$"):
        TrackerRadar(range_cell_m=-1.0, cpi_s=0.01, pulses=16, unambiguous_velocity_mps=100.0)
    with pytest.raises(ValueError, match=r"^sweep must be one of 'up', 'down', None, not 'sideways'$"):
        TrackerRadar(range_cell_m=15.0, cpi_s=0.01, pulses=16, unambiguous_velocity_mps=100.0,
                     sweep="sideways")
    with pytest.raises(TypeError, match=r"^pulse_width_s must be a number, not None$"):
        TrackerRadar(range_cell_m=15.0, cpi_s=0.01, pulses=16, unambiguous_velocity_mps=100.0,
                     sweep="up")
    with pytest.raises(ValueError, match=r"^max_tracks must be between 1 and 1024, not 0$"):
        TrackerConfig(radar=PLAIN, max_tracks=0)
    with pytest.raises(TypeError, match=r"^tracking_index must be a number, not '1'$"):
        TrackerConfig(radar=PLAIN, tracking_index="1")
    with pytest.raises(ValueError, match=r"^doppler_gain must be > 0 and <= 1, not 1.5$"):
        TrackerConfig(radar=PLAIN, doppler_gain=1.5)
    with pytest.raises(TypeError, match=r"^radar must be a TrackerRadar, not 3$"):
        TrackerConfig(radar=3)
    cfg = TrackerConfig(radar=PLAIN)
    with pytest.raises(ValueError, match=r"^confirm_m must be between 1 and 3, not 4$"):
        TrackerModel(cfg, confirm_m=4, confirm_n=3)
    with pytest.raises(ValueError, match=r"^confirm_n must be between 1 and 8, not 9$"):
        TrackerModel(cfg, confirm_n=9)
    with pytest.raises(ValueError, match=r"^delete_k must be between 1 and 8, not 0$"):
        TrackerModel(cfg, delete_k=0)
    with pytest.raises(TypeError, match=r"^unfold must be a bool, not 1$"):
        TrackerModel(cfg, unfold=1)
    model = TrackerModel(cfg)
    with pytest.raises(ValueError, match=r"^doppler_pos must be in \[0, 4096\)$"):
        model.step(plots(10.0, doppler_pos=4096))
    with pytest.raises(TypeError, match="structured array"):
        model.step(np.zeros(3))


def test_report_dtype():
    reports = TrackerModel(TrackerConfig(radar=PLAIN)).step(plots(10.0))
    assert reports.dtype == TRACK_DTYPE and reports["status"][0] == STATUS_TENTATIVE
    assert STATUS_COASTING == 2
