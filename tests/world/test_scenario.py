"""Scenario parsing, the received IQ against theory, and the command line's bad-input errors."""

import math

import numpy as np
import pytest

from amaradar.cli import main
from amaradar.sim.chain import chain_config, transmit_pulse
from amaradar.sim.world.scenario import (ScenarioError, load_scenario,
                                         parse_scenario, receive_iq, transmit_pulse_ideal)
from amaradar.spec.physics import SPEED_OF_LIGHT
from scenarios import builtin_doc, toml_text


def _doc(**changes):
    """The built-in scenario's range-only part with ``changes`` = {"radar.key": value or
    None to delete}."""
    doc = builtin_doc(doppler=False)
    for dotted, value in changes.items():
        table, key = dotted.split(".")
        section = doc[table] if table != "target0" else doc["target"][0]
        if value is None:
            del section[key]
        else:
            section[key] = value
    return doc


BAD = [
    ({"radar.pulse_widht_s": 1e-6}, "unknown key radar.pulse_widht_s"),
    ({"radar.carrier_hz": None}, "missing key radar.carrier_hz"),
    ({"radar.cpis": 2.5}, "radar.cpis must be an integer, not 2.5"),
    ({"radar.cpis": True}, "radar.cpis must be an integer, not True"),
    ({"radar.waveform": 3}, "radar.waveform must be a string, not 3"),
    ({"radar.waveform": "nlfm"}, "radar.waveform must be one of lfm, barker13, not 'nlfm'"),
    ({"radar.pulse_width_s": 2e-3}, "radar.pulse_width_s = 0.002 must be shorter than pri_s = 0.001"),
    ({"radar.bandwidth_hz": 20e6}, "radar.bandwidth_hz = 20000000.0 exceeds sample_rate_hz"),
    ({"radar.waveform": "barker13"}, "samples per Barker chip; pulse_width_s / 13 must be a whole"),
    ({"radar.pri_s": 1.00005e-3}, "is not a whole number of samples"),
    ({"radar.adc_bits": 30}, "radar.adc_bits must be 4 to 18, not 30"),
    ({"radar.sample_rate_hz": -1.0}, "radar.sample_rate_hz must be > 0, not -1.0"),
    ({"cfar.pfa": 1.5}, "cfar.pfa must be between 0 and 1 (exclusive), not 1.5"),
    ({"cfar.reference_cells": 0}, "cfar.reference_cells must be 1 to 48, not 0"),
    ({"cfar.reference_cells": 4000}, "cfar.reference_cells must be 1 to 48, not 4000"),
    ({"cfar.guard_cells": 65}, "cfar.guard_cells must be 0 to 64, not 65"),
    ({"radar.pulse_width_s": 300e-6}, "radar.pulse_width_s = 0.0003 gives 3000 samples; the pulse "
                                      "compressor takes at most 2048"),
    ({"radar.pulses_per_cpi": 4096, "radar.cpis": 2},
     "radar: the run has 81,920,000 samples (cpis x pulses_per_cpi x 10000 per line); at most "
     "67,108,864 fit"),
    ({"target0.snr_db": 4000.0}, "target[0].snr_db must be -150 to 150, not 4000.0"),
    ({"target0.range_m": 160e3}, "target[0] reaches 160000.0 m, beyond the unambiguous range"),
    ({"target0.range_m": -5.0}, "target[0].range_m must be > 0, not -5.0"),
    ({"target0.snr_db": "loud"}, "target[0].snr_db must be a finite number, not 'loud'"),
]


@pytest.mark.parametrize("changes, message", BAD)
def test_bad_scenario_is_one_line_naming_it(changes, message):
    with pytest.raises(ScenarioError, match=None) as e:
        parse_scenario(_doc(**changes))
    assert message in str(e.value)
    assert "\n" not in str(e.value)


CHAIN_BAD = [({"cfar.pfa": 1e-9, "cfar.reference_cells": 4},
              "the chain cannot be built for this scenario: pfa=1e-09 with reference_cells=4 "
              "needs scale word")]


@pytest.mark.parametrize("changes, message", BAD[:6] + BAD[-3:] + CHAIN_BAD)
def test_cli_rejects_bad_scenario_and_writes_nothing(tmp_path, capsys, changes, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml_text(_doc(**changes)))
    out = tmp_path / "out"
    assert main(["sim", "--scenario", str(path), "--out", str(out), "--engine", "reference"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("amaradar: error: ") and message in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.toml"]


def test_cli_bad_files_and_options(tmp_path, capsys):
    cases = [
        (["sim", "--scenario", str(tmp_path / "missing.toml")], "cannot read scenario file"),
        (["sim", "--engine", "gpu"], "invalid choice: 'gpu'"),
        (["sim", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["launch"], "invalid choice: 'launch'"),
    ]
    notoml = tmp_path / "x.toml"
    notoml.write_text("[radar\n")
    cases.append((["sim", "--scenario", str(notoml)], "is not valid TOML"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    cases.append((["sim", "--engine", "reference", "--out", str(blocker / "sub")], "is not a folder"))
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (argv, err)


def test_verilog_into_a_new_folder(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "chain.v"
    assert main(["verilog", "--out", str(out)]) == 0
    assert out.read_text().startswith("/* Generated by")
    assert [p.name for p in out.parent.iterdir()] == ["chain.v"]


def test_minimal_file_with_only_the_required_keys_runs():
    doc = _doc(**{"radar.noise_rms_lsb": None, "radar.window": None})
    del doc["target"][0]["radial_accel_mps2"]
    scenario = parse_scenario(doc)
    assert scenario.radar.noise_rms_lsb == 8.0 and scenario.radar.window == "rect"
    assert scenario.targets[0].radial_accel_mps2 == 0.0


def test_default_scenario_is_the_documented_one():
    s = load_scenario()
    assert s.radar.pulse_samples == 100 and s.radar.line_samples == 10_000
    assert len(s.targets) == 3
    assert sum(t.radial_velocity_mps < -1000 for t in s.targets) == 2  # two closing missiles


def _single_target(**target):
    doc = _doc(**{"radar.cpis": 1, "radar.pulses_per_cpi": 4, "radar.window": "rect"})
    doc["target"] = [{"radial_velocity_mps": 0.0, **target}]
    return parse_scenario(doc)


def test_echo_delay_amplitude_and_noise_level():
    """A target far above the noise: the echo sits at 2R/c with |a|^2 = snr * E|n|^2."""
    s = _single_target(range_m=30_000.0, snr_db=20.0)
    iq, clipped = receive_iq(s)
    assert clipped == 0
    assert np.all(iq.real == np.round(iq.real)) and np.all(iq.imag == np.round(iq.imag))
    r = s.radar
    delay = 2 * 30_000.0 / SPEED_OF_LIGHT * r.sample_rate_hz
    start = math.ceil(delay)
    echo = iq[:, start + 1:start + r.pulse_samples - 1]
    noise = np.concatenate([iq[:, :start - 5], iq[:, start + r.pulse_samples + 5:]], axis=1)
    noise_power = np.mean(np.abs(noise) ** 2)
    sigma2 = 2 * r.noise_rms_lsb ** 2
    # E|n|^2 = 2 sigma^2; the estimate over ~40,000 samples has relative spread 0.5 %.
    assert noise_power == pytest.approx(sigma2 + 1 / 6, rel=0.03)  # + rounding noise 2 * 1/12
    signal_power = np.mean(np.abs(echo) ** 2) - noise_power
    assert 10 * np.log10(signal_power / sigma2) == pytest.approx(20.0, abs=0.2)


def test_doppler_rotates_the_echo_from_pulse_to_pulse():
    v = -3000.0
    s = _single_target(range_m=30_000.0, snr_db=40.0, radial_velocity_mps=v)
    iq, _ = receive_iq(s)
    r = s.radar
    start = math.ceil(2 * 30_000.0 / SPEED_OF_LIGHT * r.sample_rate_hz) + 1
    seg = iq[:, start:start + r.pulse_samples - 2]
    step = np.angle(np.sum(seg[1:] * np.conj(seg[:-1]), axis=1))
    # Phase of exp(-4 pi j R / lambda): per PRI it advances by -4 pi v T / lambda (mod 2 pi).
    expected = np.angle(np.exp(-4j * np.pi * v * r.pri_s / r.wavelength_m))
    assert np.allclose(step, expected, atol=0.05)


def test_eclipsed_echo_is_cut_by_the_receive_gate():
    """A target closer than c T / 2 leaves only the echo that arrives after the pulse ends."""
    r_m = 0.5 * SPEED_OF_LIGHT * 10e-6 / 2  # echo starts halfway through the transmit pulse
    s = _single_target(range_m=r_m, snr_db=40.0)
    iq, _ = receive_iq(s)
    n = s.radar.pulse_samples
    gated = np.abs(iq[:, : n - 1]) ** 2
    tail = np.abs(iq[:, n + 1: n + n // 2 - 1]) ** 2
    assert gated.mean() < 3 * 2 * s.radar.noise_rms_lsb ** 2   # noise only
    assert tail.mean() > 1000 * 2 * s.radar.noise_rms_lsb ** 2  # the echo's second half


def test_module_entry_point_exits_2_with_one_line(tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "amaradar", "sim", "--scenario",
                           str(tmp_path / "none.toml"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("amaradar: error: cannot read scenario file")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bandwidth_hz, pulse_width_s, window", [
    (5e6, 10e-6, "hamming"), (10e6, 3e-6, "hamming"), (10e6, 10.1e-6, "taylor"),
    (2.5e6, 4e-6, "blackman_harris"), (7e6, 5e-6, "rect")])
def test_lfm_pulse_is_symmetric_and_is_the_echo_model_pulse(bandwidth_hz, pulse_width_s, window):
    # The generator's pulse reads the same backwards (so the matched filter's taps
    # fold onto half the multipliers) and is the scenario's ideal pulse sampled at
    # k / fs, up to a constant phase, within the 16-bit generator's rounding: 0.5 LSB
    # per part plus 2*pi*A times the phase error (a 1,024-entry table and 32-bit
    # words), counted twice because the fitted constant phase can be off by as much.
    doc = _doc(**{"radar.bandwidth_hz": bandwidth_hz, "radar.pulse_width_s": pulse_width_s,
                  "radar.window": window})
    r = parse_scenario(doc).radar
    pulse = transmit_pulse(r)
    np.testing.assert_array_equal(pulse, pulse[::-1])
    taps = np.array(chain_config(parse_scenario(doc)).taps)
    np.testing.assert_array_equal(taps, taps[::-1])
    peak = (1 << 15) - 1
    ideal = peak * transmit_pulse_ideal(r)(np.arange(r.pulse_samples) / r.sample_rate_hz)
    bound = 0.5 + 2 * 2 * np.pi * peak * (2.0 ** -13 + 2.0 ** -32 * r.pulse_samples ** 2)
    phase = np.angle(np.vdot(ideal, pulse))   # the ideal pulse's constant phase is free
    error = pulse - ideal * np.exp(1j * phase)
    assert np.abs(error.real).max() <= bound and np.abs(error.imag).max() <= bound
