"""The Doppler floor's scenario keys ([doppler], the CFAR family keys, [[clutter]]):
their checks, and the clutter model against its stated statistics."""

import math

import numpy as np
import pytest

from amaradar.sim.world.echo_physics import doppler_hz
from amaradar.sim.world.scenario import ScenarioError, clutter_echo, parse_scenario, receive_iq
from scenarios import builtin_doc

PATCH = {"range_start_m": 8000.0, "range_stop_m": 20000.0, "cnr_db": 30.0,
         "velocity_mps": 0.0, "velocity_spread_mps": 0.3}


def _doc(doppler=True, cfar=None, clutter=(), pulses=16, cpis=2, targets=None):
    doc = builtin_doc(doppler=False)
    doc["radar"].update(pulses_per_cpi=pulses, cpis=cpis)
    if doppler:
        doc["doppler"] = {"window": "hamming", "mti": "none"}
    doc["cfar"].update(cfar or {})
    doc["clutter"] = [dict(PATCH, **c) for c in clutter]
    if targets is not None:
        doc["target"] = targets
    return doc


BAD = [
    (dict(cfar={"type": "xx"}), "cfar.type must be one of ca, go, so, os, not 'xx'"),
    (dict(cfar={"os_k": 0}), "cfar.os_k must be 1 to 32 (2 * reference_cells), not 0"),
    (dict(cfar={"os_k": 33}), "cfar.os_k must be 1 to 32 (2 * reference_cells), not 33"),
    (dict(cfar={"doppler_reference_cells": 8}),
     "cfar Doppler window of 17 cells (2 * (doppler_reference_cells + doppler_guard_cells) + 1) "
     "is wider than the 16 Doppler bins"),
    (dict(cfar={"doppler_guard_cells": 1}), "cfar.doppler_guard_cells = 1 needs doppler_reference_cells > 0"),
    (dict(cfar={"doppler_reference_cells": -1}), "cfar.doppler_reference_cells must be >= 0, not -1"),
    (dict(doppler=False, cfar={"type": "os"}), "cfar.type = 'os' needs a [doppler] section"),
    (dict(doppler=False, cfar={"doppler_reference_cells": 2}),
     "cfar.doppler_reference_cells = 2 needs a [doppler] section"),
    (dict(pulses=12), "radar.pulses_per_cpi must be a power of two from 8 to 256 with [doppler], not 12"),
    (dict(pulses=4), "radar.pulses_per_cpi must be a power of two from 8 to 256 with [doppler], not 4"),
    (dict(clutter=[{"range_stop_m": 7000.0}]),
     "clutter[0].range_stop_m = 7000.0 must be above range_start_m = 8000.0"),
    (dict(clutter=[{"range_stop_m": 2e5}]), "clutter[0].range_stop_m = 200000.0 is beyond the unambiguous range"),
    (dict(clutter=[{"velocity_spread_mps": -1.0}]), "clutter[0].velocity_spread_mps must be >= 0, not -1.0"),
    (dict(clutter=[{"cnr": 3.0}]), "unknown key clutter[0].cnr"),
]


@pytest.mark.parametrize("changes, message", BAD)
def test_bad_doppler_keys_are_one_line_naming_them(changes, message):
    with pytest.raises(ScenarioError) as e:
        parse_scenario(_doc(**changes))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_doppler_table_keys():
    doc = _doc()
    doc["doppler"]["mti"] = "four_pulse"
    with pytest.raises(ScenarioError, match="doppler.mti must be one of none, two_pulse, three_pulse"):
        parse_scenario(doc)
    doc = _doc()
    doc["doppler"]["window"] = "kaiser"
    with pytest.raises(ScenarioError, match="doppler.window must be one of rect, hamming"):
        parse_scenario(doc)


TRACKER_BAD = [
    ({"confirm_n": 9}, "tracker.confirm_n must be between 1 and 8, not 9"),
    ({"confirm_m": 4, "confirm_n": 3}, "tracker.confirm_m must be between 1 and 3, not 4"),
    ({"delete_k": 0}, "tracker.delete_k must be between 1 and 8, not 0"),
    ({"max_tracks": 2000}, "tracker.max_tracks must be between 1 and 1024, not 2000"),
    ({"tracking_index": -0.1}, "tracker.tracking_index"),
    ({"doppler_gate_bins": 9.0}, "tracker.doppler_gate_bins"),
    ({"doppler_gain": 1.5}, "tracker.doppler_gain"),
    ({"unfold": 1}, "tracker.unfold must be true or false, not 1"),
    ({"max_plots": 2.5}, "tracker.max_plots must be an integer, not 2.5"),
    ({"gain": 0.5}, "unknown key tracker.gain"),
]


@pytest.mark.parametrize("keys, message", TRACKER_BAD)
def test_bad_tracker_keys_are_one_line_naming_them(keys, message):
    doc = _doc()
    doc["tracker"] = keys
    with pytest.raises(ScenarioError) as e:
        parse_scenario(doc)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_tracker_needs_doppler_and_defaults_without_a_table():
    doc = _doc(doppler=False)
    doc["tracker"] = {}
    with pytest.raises(ScenarioError, match=r"\[tracker\] needs a \[doppler\] section"):
        parse_scenario(doc)
    s = parse_scenario(_doc())
    assert s.tracker.runtime() == {"confirm_m": 3, "confirm_n": 5, "delete_k": 3, "unfold": True,
                                   "correct_coupling": True}
    doc = _doc()
    doc["tracker"] = {"confirm_m": 2, "unfold": False, "max_tracks": 32}
    s = parse_scenario(doc)
    assert (s.tracker.confirm_m, s.tracker.unfold, s.tracker.max_tracks) == (2, False, 32)
    assert s.as_dict()["tracker"]["max_tracks"] == 32


def test_defaults_and_report_keys():
    s = parse_scenario(_doc(cfar={"reference_cells": 16}))
    assert s.cfar.type == "ca" and s.cfar.os_k == 24 and s.doppler.mti == "none"
    assert set(s.as_dict()) == {"radar", "cfar", "target", "doppler", "tracker"}
    assert s.as_dict()["cfar"]["os_k"] == 24
    ranged = parse_scenario(_doc(doppler=False))
    assert ranged.doppler is None
    assert set(ranged.as_dict()["cfar"]) == {"reference_cells", "guard_cells", "pfa"}


def test_clutter_power_and_spectrum_match_the_patch():
    """Mean power inside the patch is cnr_db over the noise (within the sampling error
    of the cells averaged), the Doppler spectrum's centroid and rms spread are the
    patch's -2v/lambda and 2 sigma_v/lambda (within 5 %)."""
    s = parse_scenario(_doc(pulses=64, cpis=4, targets=[],
                            clutter=[{"velocity_mps": -50.0, "velocity_spread_mps": 30.0}]))
    r = s.radar
    echo, first = clutter_echo(r, s.clutter[0], np.random.default_rng(5))
    assert first == math.ceil(2 * 8000.0 / 299_792_458.0 * r.sample_rate_hz)
    inside = echo[:, r.pulse_samples:-r.pulse_samples]
    cnr = 10 * np.log10(np.mean(np.abs(inside) ** 2) / (2 * r.noise_rms_lsb ** 2))
    assert abs(cnr - 30.0) < 0.2
    spectrum = np.mean(np.abs(np.fft.fft(inside, axis=0)) ** 2, axis=1)
    f = np.fft.fftfreq(r.lines, r.pri_s)
    centre = np.sum(spectrum * f) / np.sum(spectrum)
    spread = np.sqrt(np.sum(spectrum * (f - centre) ** 2) / np.sum(spectrum))
    assert centre == pytest.approx(doppler_hz(-50.0, r.wavelength_m), rel=0.05)
    assert spread == pytest.approx(2 * 30.0 / r.wavelength_m, rel=0.05)


def test_clutter_leaves_the_noise_and_targets_of_other_samples_as_they_were():
    """A patch adds to the samples it covers and changes nothing else: the noise
    draws of a scenario are the same with or without clutter."""
    plain, _ = receive_iq(parse_scenario(_doc(doppler=False, cpis=1)))
    cluttered, _ = receive_iq(parse_scenario(_doc(doppler=False, cpis=1, clutter=[{}])))
    fs = 10e6
    start = int(np.ceil(2 * 8000.0 / 299_792_458.0 * fs))
    stop = int(np.floor(2 * 20000.0 / 299_792_458.0 * fs)) + 100
    assert np.array_equal(plain[:, :start], cluttered[:, :start])
    assert np.array_equal(plain[:, stop:], cluttered[:, stop:])
    assert np.mean(np.abs(cluttered[:, start + 100:stop - 100] - plain[:, start + 100:stop - 100]) ** 2) > 100 * 64


def _swerling_pair(noise_rms_lsb, snr_db):
    """The received IQ of one target on range sample 200, steady and Swerling 1."""
    doc = _doc(doppler=False, pulses=2, cpis=400,
               targets=[{"range_m": 200 * 149.896229, "radial_velocity_mps": 0.0,
                         "snr_db": snr_db}])
    doc["radar"].update(sample_rate_hz=1e6, bandwidth_hz=1e6, adc_bits=18, window="rect",
                        waveform="barker13", pulse_width_s=13e-6, noise_rms_lsb=noise_rms_lsb)
    steady, _ = receive_iq(parse_scenario(doc))
    doc["target"][0]["swerling"] = 1
    return steady, receive_iq(parse_scenario(doc))[0]


def test_swerling1_target_fluctuates_from_cpi_to_cpi_only():
    """A Swerling 1 target: the noise is the steady scenario's, sample for sample; the
    echo's complex factor is held over each CPI's pulses, and over 400 CPIs its power
    is exponential of mean 1 (mean within 3 sigma, median near ln 2)."""
    steady, fluctuating = _swerling_pair(1.0, 20.0)
    outside = np.ones(steady.shape[1], dtype=bool)
    outside[198:216] = False                                 # the echo and its edges
    echo = slice(201, 212)                                   # chips well inside it
    assert np.array_equal(steady[:, outside], fluctuating[:, outside])
    steady, fluctuating = _swerling_pair(1e-3, 100.0)       # noise far below one LSB
    ratio = (fluctuating[:, echo] / steady[:, echo]).mean(axis=1).reshape(400, 2)
    assert np.allclose(ratio[:, 0], ratio[:, 1], atol=0.02)              # held over a CPI
    power = np.abs(ratio[:, 0]) ** 2
    assert abs(power.mean() - 1) < 3 / np.sqrt(400)
    assert abs(np.median(power) - np.log(2)) < 0.15


def test_bad_swerling_is_one_line():
    doc = _doc()
    doc["target"][0]["swerling"] = 2
    with pytest.raises(ScenarioError, match=r"^target\[0\]\.swerling must be 0 or 1, not 2$"):
        parse_scenario(doc)


def test_echoes_without_range_walk_hold_the_delay_and_keep_the_doppler():
    """``receive_iq(..., range_walk=False)`` (the walk-loss bench's reference): each
    echo starts on the sample of its CPI's middle pulse in every pulse of the CPI,
    where the walking echo of a 3 km/s target moves by over 3 samples a CPI; the
    middle pulse is the same both ways, and the held echo's phase at one sample
    turns by the target's Doppler from pulse to pulse."""
    doc = _doc(doppler=False, cpis=2, targets=[{"range_m": 60000.0, "radial_velocity_mps": -3200.0,
                                                 "snr_db": 40.0}])
    scenario = parse_scenario(doc)
    walking, _ = receive_iq(scenario)
    held, _ = receive_iq(scenario, range_walk=False)
    m = scenario.radar.pulses_per_cpi
    starts = {name: np.argmax(np.abs(iq) > 1000, axis=1) for name, iq in
              (("walking", walking), ("held", held))}
    for cpi in range(2):
        lines = slice(cpi * m, (cpi + 1) * m)
        assert np.all(starts["held"][lines] == starts["walking"][cpi * m + m // 2])
        assert np.ptp(starts["walking"][lines]) >= 3
    middles = np.arange(2) * m + m // 2
    assert np.array_equal(walking[middles], held[middles])
    # inside a CPI the held echo's phase turns by the Doppler, 2 pi f_d PRI a pulse
    r = scenario.radar
    turn = np.angle(np.exp(2j * np.pi * doppler_hz(-3200.0, r.wavelength_m) * r.pri_s))
    inside = starts["walking"].max() + 10
    for cpi in range(2):
        lines = held[cpi * m:(cpi + 1) * m, inside]
        np.testing.assert_allclose(np.angle(lines[1:] * np.conj(lines[:-1])), turn, atol=0.02)
