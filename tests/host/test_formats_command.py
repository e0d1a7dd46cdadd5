"""The field's formats through ``amaradar sim``: a SigMF recording written with
``--record`` and run again with ``--iq`` (same detections, bit-exact), an outside
recording made with numpy and the sigmf library alone, ASTERIX and pcap files, and
the bad inputs of these options."""

import csv
import tomllib

import numpy as np
import pytest
import sigmf

from amaradar.cli import main
from amaradar.host.pcap import read_pcap
from amaradar.spec.physics import SPEED_OF_LIGHT

SCENARIO = """
[radar]
sample_rate_hz = 2e6
bandwidth_hz = 1e6
pulse_width_s = 8e-6
pri_s = 100e-6
carrier_hz = 1.3e9
pulses_per_cpi = 8
cpis = 3
adc_bits = 12
noise_seed = 5
waveform = "lfm"
noise_rms_lsb = 4.0
window = "hamming"

[cfar]
reference_cells = 8
guard_cells = 2
pfa = 1e-4

[site]
name = "north"
sac = 25
sic = 1
start_utc = "2026-01-01T00:00:00Z"
"""
TARGET = """
[[target]]
range_m = 9000.0
radial_velocity_mps = -300.0
snr_db = 10.0
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    scenario = root / "scenario.toml"
    scenario.write_text(SCENARIO + TARGET)
    out = root / "first"
    argv = ["sim", "--scenario", str(scenario), "--out", str(out), "--quiet", "--record",
            "--asterix", str(root / "reports.ast"), "--pcap", str(root / "reports.pcap")]
    assert main(argv) == 0
    return root, scenario, out


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_record_then_iq_gives_the_same_detections_bit_exact(recorded, tmp_path):
    root, scenario, out = recorded
    assert (out / "adc.sigmf-meta").exists() and (out / "adc.sigmf-data").exists()
    sigmf.fromfile(out / "adc.sigmf-meta")          # validates the recording
    again = tmp_path / "again"
    assert main(["sim", "--iq", str(out / "adc.sigmf-meta"), "--out", str(again), "--quiet"]) == 0
    assert (again / "detections.csv").read_bytes() == (out / "detections.csv").read_bytes()
    import json
    report = json.loads((again / "report.json").read_text())
    assert report["bit_exact"] is True and report["counts"]["detections"] > 0


def test_asterix_and_pcap_hold_one_datagram_per_cpi(recorded):
    root, _, out = recorded
    import json
    report = json.loads((out / "report.json").read_text())
    assert report["site"]["sac"] == 25 and report["site"]["sic"] == 1
    stream = (root / "reports.ast").read_bytes()
    packets = read_pcap(root / "reports.pcap")
    assert b"".join(payload for _, payload in packets) == stream
    assert len(packets) == report["counts"]["asterix_datagrams"] >= 3


def test_outside_recording_finds_the_target_at_its_range(tmp_path):
    """A complex float capture written with numpy and the sigmf library (no amaradar
    extension): an LFM echo from 9 km in noise; ``--iq`` with a timing-only scenario
    (no targets) detects it within one range cell of 9 km on every line."""
    fs, pri, width, bandwidth, lines = 2e6, 100e-6, 8e-6, 1e6, 24
    rng = np.random.default_rng(3)
    n = round(width * fs)
    k = np.arange(n)
    chirp = np.exp(1j * np.pi * bandwidth / width * ((k - (n - 1) / 2) / fs) ** 2)
    delay = round(2 * 9000.0 / SPEED_OF_LIGHT * fs)
    x = 0.004 * (rng.normal(size=(lines, round(pri * fs))) + 1j * rng.normal(size=(lines, round(pri * fs))))
    x[:, delay:delay + n] += 0.02 * chirp
    stem = tmp_path / "capture"
    x.astype(np.complex64).ravel().tofile(f"{stem}.sigmf-data")
    handle = sigmf.SigMFFile(global_info={sigmf.DATATYPE_KEY: "cf32_le", sigmf.SAMPLE_RATE_KEY: fs})
    handle.set_data_file(f"{stem}.sigmf-data")
    handle.add_capture(0, metadata={sigmf.FREQUENCY_KEY: 1.3e9})
    handle.tofile(stem)
    timing = tmp_path / "timing.toml"
    timing.write_text(SCENARIO)
    out = tmp_path / "out"
    assert main(["sim", "--iq", f"{stem}.sigmf-meta", "--scenario", str(timing), "--out", str(out),
                 "--engine", "reference", "--quiet", "--iq-full-scale", "0.05"]) == 0
    rows = _rows(out / "detections.csv")
    cell = SPEED_OF_LIGHT / 2 / fs
    on = [r for r in rows if abs(float(r["range_m"]) - 9000.0) <= cell]
    assert {(int(r["cpi"]), int(r["pulse"])) for r in on} == {(c, p) for c in range(3) for p in range(8)}


@pytest.mark.parametrize("extra, message", [
    (["--pcap", "x.pcap"], "--pcap needs --asterix"),
    (["--iq-full-scale", "2"], "--iq-full-scale needs --iq"),
    (["--iq", "missing.sigmf-meta"], "missing.sigmf-meta"),
    (["--iq", "missing.sigmf-meta", "--iq-full-scale", "-1"], "--iq-full-scale must be a finite number > 0"),
    (["--asterix", "."], "--asterix '.' is a folder"),
])
def test_bad_format_options_are_one_line_and_write_nothing(tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    assert main(["sim", "--engine", "reference", "--out", "out", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_bad_site_key_is_one_line(tmp_path, capsys):
    path = tmp_path / "s.toml"
    doc = SCENARIO.replace("sac = 25", "sac = 300")
    path.write_text(doc)
    assert tomllib.loads(doc)["site"]["sac"] == 300
    assert main(["sim", "--scenario", str(path), "--engine", "reference", "--out",
                 str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "site.sac must be an integer from 0 to 255, not 300" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
