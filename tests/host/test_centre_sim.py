"""The joint centre on the simulated chain: `amaradar sim` on the shipped 12 s
two-site scenario (two sites 150 km apart, three targets crossing in range), its
OUT/centre/ against truth; and the same sites' ASTERIX with one site's stream
stopped for 20 CPIs."""

import csv
import json
from importlib import resources

import pytest

from amaradar.cli import main
from amaradar.host.centre.feed import FeedDecoder, read_ast, screen_plain
from amaradar.host.centre.inputs import load_sites_json, read_truth
from amaradar.host.centre.run import run_centre

SCENARIO = resources.files("amaradar").joinpath("scenarios/two_sites_fusion.toml")
CPI_S = 16 * 1.2e-3


@pytest.fixture(scope="module")
def fusion_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fusion") / "out"
    assert main(["sim", "--scenario", str(SCENARIO), "--engine", "reference", "--out", str(out),
                 "--quiet"]) == 0
    return out


def test_three_fused_tracks_ten_times_better_than_either_site(fusion_run):
    report = json.loads((fusion_run / "centre" / "report.json").read_text())
    targets = report["score"]["targets"]
    assert report["system_tracks"] == 3                       # no ghost, no split
    assert [len(t["track_ids"]) for t in targets] == [1, 1, 1]
    assert sorted(t["track_ids"][0] for t in targets) == [1, 2, 3]
    assert all(t["swaps"] == 0 for t in targets)
    worst = max(t["rms_error_m"] for t in targets)
    assert worst <= 150.0
    for site in ("west", "east"):
        single = report["single_site"][site]
        assert single["reports"] > 1000
        assert 10 * worst <= single["rms_error_m"]
    # From the pairing on, every system track is fused from both sites.
    with open(fusion_run / "centre" / "system_tracks.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if float(r["time_s"]) >= 9.0]
    assert rows and sum(r["sites"] == "east+west" for r in rows) >= 0.95 * len(rows)
    assert max(report["score"]["gospa_false"][-50:]) == 0


def test_site_stream_stops_for_20_cpis_and_resumes(fusion_run, tmp_path):
    """The east site's datagrams of 20 CPIs (8.99 s to 9.38 s) never arrive: every
    system track keeps its id, goes on from the west site's range alone, its
    uncertainty growing, and is fused again when the east site's stream resumes."""
    sites = load_sites_json(fusion_run / "sites.json")
    feeds = {s.name: read_ast(fusion_run / s.name / "asterix.ast") for s in sites}
    decoder = FeedDecoder(sites)
    start = sites[1].time_offset_s + 468 * CPI_S          # CPIs 468 to 487 of the east site
    stop = start + 20 * CPI_S
    kept = [d for d in feeds["east"]
            if not any(start <= r.time_s < stop for r in decoder.decode(d, screen_plain))]
    assert len(feeds["east"]) - len(kept) == 20
    feeds["east"] = kept
    report = run_centre(sites, feeds, tmp_path, truth=read_truth(fusion_run / "truth.csv"))
    targets = report["score"]["targets"]
    assert [len(t["track_ids"]) for t in targets] == [1, 1, 1]          # they survive
    assert max(t["rms_error_m"] for t in targets) <= 150.0

    def window(lo_s, hi_s):
        return [r for r in report["rows"] if lo_s <= r["time_s"] < hi_s]

    def worst_sigma(rows):
        return max(max(r["sigma_east_m"], r["sigma_north_m"]) for r in rows)

    before, during, after = window(8.6, start), window(stop - 0.1, stop), window(10.0, 12.0)
    assert sum(r["sites"] == "east+west" for r in before) >= 0.95 * len(before)
    assert during and all(r["sites"] == "west" for r in during)       # degraded
    assert worst_sigma(during) > worst_sigma(before)
    assert sum(r["sites"] == "east+west" for r in after) >= 0.95 * len(after)   # recovered
    assert worst_sigma(after) <= 1.2 * worst_sigma(before)
