"""`amaradar sim` on the range-only chain, end to end, as a user runs it: the built-in
scenario without its range-Doppler tables ([doppler], [tracker]).

The rtl engine compiles the chain's Verilog (100-tap matched filter) with
Verilator once; the build is cached outside --out for later runs.
"""

import csv
import json

import numpy as np
import pytest

from amaradar.cli import main
from amaradar.sim.chain import chain_config
from amaradar.sim.world.scenario import parse_scenario
from amaradar.spec.physics import SPEED_OF_LIGHT
from scenarios import builtin_doc, toml_text

SCENARIO = parse_scenario(builtin_doc(doppler=False))


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenario") / "range_only.toml"
    path.write_text(toml_text(builtin_doc(doppler=False)))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory, scenario_file):
    out = tmp_path_factory.mktemp("sim") / "out"
    status = main(["sim", "--scenario", str(scenario_file), "--out", str(out), "--quiet"])
    return status, out, json.loads((out / "report.json").read_text())


def test_exit_status_and_files(run):
    status, out, report = run
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "detections.csv", "detections.png", "range_profile.png", "report.json", "truth.csv"]
    assert (out / "range_profile.png").read_bytes()[:4] == b"\x89PNG"


def test_rtl_is_bit_exact_to_the_reference(run):
    _, _, report = run
    assert report["engine"] == "rtl"
    assert report["bit_exact"] is True
    assert report["counts"]["samples"] == 128 * 10_000
    assert report["rtl"]["cycles_per_sample"] < 1.01      # one sample per clock
    assert not any(report["status"].values())


def test_every_target_detected_within_one_cell(run):
    _, _, report = run
    targets = report["score"]["targets"]
    assert len(targets) == 3
    for t in targets:
        assert t["ideal_snr_db"] >= 20
        assert t["lines_required"] == 128
        assert t["lines_detected"] >= 0.99 * t["lines_required"], t
        assert t["mean_abs_bin_error"] <= 1.0


def test_false_detections_within_what_the_pfa_allows(run):
    _, _, report = run
    score = report["score"]
    assert score["expected_false"] == pytest.approx(1e-6 * score["noise_cells_tested"])
    assert score["false_detections"] <= score["allowed_false"]


def test_detections_csv_schema_and_ranges(run):
    _, out, report = run
    r = SCENARIO.radar
    with open(out / "detections.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["cpi", "pulse", "time_s", "range_m", "range_bin", "power_db",
                             "threshold_db"]
    assert len(rows) == report["counts"]["detections"]
    for row in rows[:50]:
        k = int(row["range_bin"])
        assert float(row["range_m"]) == pytest.approx(
            SPEED_OF_LIGHT / 2 * (k - (r.pulse_samples - 1)) / r.sample_rate_hz, abs=1e-3)
        line = int(row["cpi"]) * r.pulses_per_cpi + int(row["pulse"])
        assert float(row["time_s"]) == pytest.approx(line * r.pri_s)
        assert float(row["power_db"]) > float(row["threshold_db"])
    # the strongest detection of the first line lies on the aircraft's range
    first = [row for row in rows if row["cpi"] == "0" and row["pulse"] == "0"]
    best = max(first, key=lambda row: float(row["power_db"]))
    assert float(best["range_m"]) == pytest.approx(45_000.0, abs=1.5 * r.range_bin_m)


def test_truth_csv(run):
    _, out, _ = run
    with open(out / "truth.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["cpi", "time_s", "target_id", "range_m", "radial_velocity_mps"]
    assert len(rows) == 8 * 3
    last = rows[-3]                                         # missile 0 at CPI 7
    t = 7 * 16 * 1e-3
    assert float(last["range_m"]) == pytest.approx(128_000 - 3200 * t - 20 * t * t, abs=1e-3)


def test_report_records_the_chain(run):
    _, _, report = run
    config = chain_config(SCENARIO)
    assert report["chain"] == json.loads(json.dumps(config.as_dict()))
    assert report["scenario"]["radar"]["window"] == "hamming"
    assert report["chain"]["cfar_alpha"] > report["chain"]["cfar_alpha_white"]


def test_second_run_takes_the_build_from_the_cache(tmp_path, run, scenario_file):
    assert main(["sim", "--scenario", str(scenario_file), "--out", str(tmp_path / "again"),
                 "--quiet"]) == 0
    report = json.loads((tmp_path / "again" / "report.json").read_text())
    assert report["rtl"]["rebuilt"] is False
    assert report["bit_exact"] is True


def test_reference_engine_writes_the_same_detections(tmp_path, run, scenario_file):
    _, out, _ = run
    assert main(["sim", "--scenario", str(scenario_file), "--engine", "reference", "--out",
                 str(tmp_path), "--quiet"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["engine"] == "reference" and report["bit_exact"] is None
    assert (tmp_path / "detections.csv").read_text() == (out / "detections.csv").read_text()


def test_verilog_command(tmp_path, scenario_file):
    target = tmp_path / "chain.v"
    assert main(["verilog", "--scenario", str(scenario_file), "--out", str(target)]) == 0
    text = target.read_text()
    assert "module amaradar_chain" in text and "i__payload" in text
    assert np.all([name in text for name in ("o__payload", "scale", "mf_overflow")])
