"""`amaradar sim` on the built-in scenario (range-Doppler chain and tracker), end to end,
as a user runs it: plots and tracks, the gateware bit-exact to the models, the tracks
against truth."""

import csv
import json

import numpy as np
import pytest

from amaradar.cli import main
from amaradar.hdl.track.tables import STATE_FRAC
from amaradar.sim.world.scenario import load_scenario
from amaradar.spec.physics import SPEED_OF_LIGHT

SCENARIO = load_scenario()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "out"
    status = main(["sim", "--out", str(out), "--quiet"])
    return status, out, json.loads((out / "report.json").read_text())


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_exit_status_and_files(run):
    status, out, _ = run
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "detections.csv", "plots.png", "range_doppler.png", "report.json", "tracks.csv",
        "tracks.png", "truth.csv"]
    for name in ("plots.png", "range_doppler.png", "tracks.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_chain_and_tracker_are_bit_exact(run):
    _, _, report = run
    assert report["engine"] == "rtl" and report["bit_exact"] is True
    c = report["compared"]
    assert c["compared"] == {"compressed_samples": 128 * 10_000, "plots": 24, "track_reports": 24}
    assert not any(c["differing"].values()) and c["dropped_samples"] == 0
    assert report["rtl"]["tracker"]["cpi_end_words"] == SCENARIO.radar.cpis
    assert report["tracker_status"]["tracks_started"] == 3
    assert not any(v for k, v in report["tracker_status"].items() if k != "tracks_started")


def test_every_target_plotted_in_every_cpi(run):
    _, _, report = run
    for t in report["score"]["targets"]:
        assert t["cpis_detected"] == t["cpis_required"] == SCENARIO.radar.cpis
    assert report["score"]["false_plots"] <= report["score"]["allowed_false"]


def test_tracks_csv_schema_and_values(run):
    """One row per live track per CPI; the columns as the interface holds them; ranges
    and rates from the report words; rates unambiguous (a missile is 15 v_u)."""
    _, out, report = run
    r = SCENARIO.radar
    rows = _rows(out / "tracks.csv")
    assert list(rows[0]) == ["cpi", "time_s", "track_id", "status", "range_m",
                             "radial_velocity_mps"]
    assert len(rows) == report["counts"]["track_reports"] == 3 * r.cpis
    assert {row["status"] for row in rows} == {"tentative", "confirmed"}
    m = r.pulses_per_cpi
    for row in rows:
        assert float(row["time_s"]) == pytest.approx((int(row["cpi"]) * m + m // 2) * r.pri_s)
    last = {int(row["track_id"]): row for row in rows if row["cpi"] == str(r.cpis - 1)}
    t = (r.cpis - 1) * m * r.pri_s + m // 2 * r.pri_s
    truth = sorted((tg.range_at(t), tg.velocity_at(t)) for tg in SCENARIO.targets)
    got = sorted((float(row["range_m"]), float(row["radial_velocity_mps"]))
                 for row in last.values())
    assert all(row["status"] == "confirmed" for row in last.values())
    for (rng, vel), (true_rng, true_vel) in zip(got, truth):
        assert abs(rng - true_rng) < r.range_bin_m / 4
        assert abs(vel - true_vel) < 0.02 * r.unambiguous_velocity_mps
    assert min(v for _, v in got) < -15 * r.unambiguous_velocity_mps
    # the rate column is the report's word (2**-STATE_FRAC cell per CPI) to the mm/s
    cell_per_cpi = SPEED_OF_LIGHT / 2 / r.sample_rate_hz / (m * r.pri_s)
    word = float(rows[-1]["radial_velocity_mps"]) / cell_per_cpi * (1 << STATE_FRAC)
    assert word == pytest.approx(round(word), abs=0.05)


def test_report_tracking_figures(run):
    """Every target confirmed at the M-th CPI (3 of 5) with no break and no false track;
    OSPA with c = 10 cells, p = 1 falls to well under a range cell once unfolded."""
    _, _, report = run
    t = report["tracking"]
    r = SCENARIO.radar
    assert t["c_cells"] == 10 and t["p"] == 1 and t["c_m"] == pytest.approx(10 * r.range_bin_m)
    assert t["confirmed_tracks"] == 3 and t["false_tracks"] == 0
    for target in t["targets"]:
        assert target["cpis_to_confirm"] == SCENARIO.tracker.confirm_m
        assert target["breaks"] == 0 and target["rate_rms_mps"] < 2.0
    assert t["ospa_m"][0] == pytest.approx(t["c_m"])          # no confirmed track yet
    assert max(t["ospa_m"][4:]) < r.range_bin_m / 10
    assert len(t["gospa_m"]) == r.cpis and t["gospa_missed"][-1] == 0


def test_reference_engine_writes_the_same_tracks(tmp_path, run):
    _, out, _ = run
    assert main(["sim", "--engine", "reference", "--out", str(tmp_path), "--quiet"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["engine"] == "reference" and report["bit_exact"] is None
    for name in ("detections.csv", "tracks.csv"):
        assert (tmp_path / name).read_text() == (out / name).read_text()
    assert np.isfinite(report["tracking"]["mean_ospa_m"])


def test_asterix_carries_every_track_report(tmp_path, run):
    """`--asterix` on the built-in scenario: per CPI one CAT048 record per plot, the
    track that the plot updated in it (I048/161, 170, 200, 042), as an independent
    decoder (pyobelix) reads them; one record per tracks.csv row."""
    import pyobelix
    _, out, _ = run
    ast = tmp_path / "reports.ast"
    assert main(["sim", "--engine", "reference", "--out", str(tmp_path / "o"), "--quiet",
                 "--asterix", str(ast)]) == 0
    records = [rec for rec in pyobelix.iter_records(ast.read_bytes(), strict=True)
               if rec["cat"] == 48]
    tracks = _rows(out / "tracks.csv")
    assert len(records) == len(_rows(out / "detections.csv")) == len(tracks)
    got = sorted((round(rec["groundspeed_nm_per_s"] * 1852, 1), rec["track_number"],
                  rec["cnf_confirmed"]) for rec in records)
    want = sorted((round(abs(float(row["radial_velocity_mps"])), 1), int(row["track_id"]),
                   row["status"] != "tentative") for row in tracks)
    assert [g[1:] for g in got] == [w[1:] for w in want]
    assert all(abs(g[0] - w[0]) <= 0.2 for g, w in zip(got, want))   # 2**-14 NM/s = 0.11 m/s
