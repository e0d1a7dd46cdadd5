"""The joint centre on synthetic site feeds of known truth: two sites 150 km apart,
beams crossing at right angles over the shared sector."""

import math

import numpy as np
import pytest

from amaradar.host.centre.centre import Centre, CentreConfig
from amaradar.host.centre.decision import parse_rule
from amaradar.host.centre.feed import SiteReport
from amaradar.host.centre.geometry import site_positions
from amaradar.host.centre.run import run_centre
from amaradar.host.centre.synthetic import PlanarTargets, crossing_sites, site_feed

CPIS, PERIOD_S = 200, 0.1          # 25 pulses of 4 ms
SOUTH_OFFSET_S = 0.05
SITES = crossing_sites(150e3, offset_s=SOUTH_OFFSET_S)
POSITIONS = site_positions(SITES)
# Targets 0 and 1 cross in range as north sees them; all three in both beams.
THREE = PlanarTargets(np.array([[70e3, 82e3], [83e3, 71e3], [74e3, 74e3]]),
                      np.array([[-900., -1000.], [-1300., -750.], [300., -1300.]]),
                      np.zeros((3, 2)))
RANGE_SIGMA_M, RATE_SIGMA_MPS = 15.0, 1.5


def feeds(targets, seed=1, south_silent=(), offset_s=SOUTH_OFFSET_S, south_breaks=(),
          simulated=True):
    north, south = site_positions(crossing_sites(150e3, offset_s=offset_s))
    rng = np.random.default_rng(seed)
    noise = {"range_sigma_m": RANGE_SIGMA_M, "rate_sigma_mps": RATE_SIGMA_MPS,
             "simulated": simulated}
    return {"north": site_feed(north, targets, cpis=CPIS, rng=rng, **noise),
            "south": site_feed(south, targets, cpis=CPIS, rng=rng, offset_s=offset_s,
                               first_track=20, silent_cpis=south_silent, breaks=south_breaks,
                               **noise)}


def truth(targets):
    return targets.truth_rows(np.arange(0, CPIS * PERIOD_S + SOUTH_OFFSET_S + 1e-9, 0.01))


def single_site_rms(position, targets):
    """RMS position error of a site's own estimate (its range along the boresight)."""
    errors = []
    for t in np.arange(CPIS) * PERIOD_S:
        p, _ = targets.at(t)
        for e, n in p:
            if position.in_beam(e, n):
                guess = position.boresight_point(float(position.range_m(e, n)))
                errors.append(np.hypot(*(guess - (e, n))))
    return float(np.sqrt(np.mean(np.square(errors))))


def test_the_geometry_has_a_range_crossing():
    ranges = [[POSITIONS[0].range_m(*THREE.at(t)[0][i]) for t in (0.0, CPIS * PERIOD_S)]
              for i in (0, 1)]
    assert (ranges[0][0] - ranges[1][0]) * (ranges[0][1] - ranges[1][1]) < 0


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    out = tmp_path_factory.mktemp("three")
    return run_centre(SITES, feeds(THREE), out, truth=truth(THREE)), out


def test_fused_error_small_and_ten_times_below_each_site(three):
    report, out = three
    targets = report["score"]["targets"]
    fused = [t["rms_error_m"] for t in targets]
    assert all(e is not None and e <= 150.0 for e in fused), fused
    worst = max(fused)
    for position in POSITIONS:
        assert 10 * worst <= single_site_rms(position, THREE)
    assert (out / "centre" / "system_tracks.csv").read_text().splitlines()[0] == \
        "time_s,system_track_id,east_m,north_m,east_mps,north_mps,sigma_east_m,sigma_north_m,sites"


def test_no_ghost_no_swap(three):
    report, _ = three
    score = report["score"]
    ids = [t["track_ids"] for t in score["targets"]]
    assert all(len(i) == 1 for i in ids), ids             # each target keeps one id
    assert len({i[0] for i in ids}) == 3
    assert report["system_tracks"] == 3                    # no ghost became a system track
    assert max(score["gospa_false"]) == 0
    assert report["pairings_rejected"] > 0


def test_a_stream_stopping_for_20_cpis_degrades_and_recovers(tmp_path):
    stop, resume = 80, 100                      # south silent for 20 CPIs, 8 s to 10 s
    report = run_centre(SITES, feeds(THREE, south_silent=range(stop, resume)), tmp_path,
                        truth=truth(THREE))
    assert all(len(t["track_ids"]) == 1 for t in report["score"]["targets"])   # survive
    assert report["system_tracks"] == 3

    def at(time_s):
        rows = [r for r in report["rows"] if abs(r["time_s"] - time_s) < PERIOD_S / 2]
        assert len(rows) == 3
        return rows

    before, late_in_gap, after = at(stop * PERIOD_S - 0.5), at(resume * PERIOD_S - 0.1), \
        at(resume * PERIOD_S + 1.0)
    assert all(r["sites"] == "north+south" for r in before + after)
    assert all(r["sites"] == "north" for r in late_in_gap)                      # degraded
    for b, g, a in zip(before, late_in_gap, after):
        sigma = [max(r["sigma_east_m"], r["sigma_north_m"]) for r in (b, g, a)]
        assert sigma[1] > 2 * sigma[0] and sigma[2] < 2 * sigma[0]              # and recover
    assert max(t["rms_error_m"] for t in report["score"]["targets"]) <= 150.0


@pytest.mark.parametrize("gap", [3, 8])
def test_a_site_track_that_breaks_is_continued(tmp_path, gap):
    """South's tracker loses targets 0 and 1 (crossing in range) for ``gap`` CPIs, once
    while the centre is still pairing them (2 s) and once when they are fused (12 s),
    and numbers them anew each time: the new site track continues the ended one, so
    every target keeps its one id, pairs at most the gap plus ``settle_s`` later than
    without the breaks, and is fused again from its new track's first report on. With
    8 CPIs the pairing ripens after north's track has been alone ``single_after_s``:
    north's track waits for it instead of becoming a degraded track of its own."""
    later = 120
    breaks = [(target, cpi, gap) for target in (0, 1) for cpi in (20, later)]
    whole = run_centre(SITES, feeds(THREE), tmp_path / "whole", truth=truth(THREE))
    broken = run_centre(SITES, feeds(THREE, south_breaks=breaks), tmp_path / "broken",
                        truth=truth(THREE))
    assert broken["system_tracks"] == 3
    assert all(len(t["track_ids"]) == 1 for t in broken["score"]["targets"])

    def fused_from(report, target):
        track_id = report["score"]["targets"][target]["track_ids"][0]
        return min(r["time_s"] for r in report["rows"]
                   if r["system_track_id"] == track_id and r["sites"] == "north+south")

    for target in (0, 1, 2):
        assert fused_from(broken, target) <= fused_from(whole, target) + gap * PERIOD_S + \
            CentreConfig.settle_s + PERIOD_S
        track_id = broken["score"]["targets"][target]["track_ids"][0]
        first = min((r for r in broken["rows"] if r["system_track_id"] == track_id),
                    key=lambda r: r["time_s"])
        assert first["sites"] == "north+south"          # never a degraded track first
    back = (later + gap + 1) * PERIOD_S + SOUTH_OFFSET_S
    rows = [r for r in broken["rows"] if back <= r["time_s"] < back + 1.0]
    assert len(rows) == 30 and all(r["sites"] == "north+south" for r in rows)
    assert max(t["rms_error_m"] for t in broken["score"]["targets"]) <= 150.0


def test_site_tracks_long_gone_are_forgotten():
    """A centre that runs for months holds only live site tracks: one heard for 2 s and
    then never again is forgotten ``member_memory_s`` later; a live one is kept."""
    config = CentreConfig(period_s=PERIOD_S)
    centre = Centre(POSITIONS, config)
    for step in range(200):
        t = step * PERIOD_S
        reports = [SiteReport("north", 7, t, 90e3, -500.0, True)] if t < 2.0 else []
        reports.append(SiteReport("south", 8, t, 80e3, -300.0, True))
        centre.step(t, reports)
    held = (centre.last_seen, centre.first_seen, centre.last_measured, centre.free_since)
    assert all(("north", 7) not in h for h in held)
    assert ("south", 8) in centre.last_seen and ("south", 8) in centre.first_seen


LONE = PlanarTargets(np.vstack([THREE.position_m, [[42e3, 43e3]]]),
                     np.vstack([THREE.velocity_mps, [[-500., -500.]]]), np.zeros((4, 2)))


@pytest.mark.parametrize("rule, decision", [("any", "declared"), ("both", "withheld")])
def test_a_target_only_one_site_sees(tmp_path, rule, decision):
    p, _ = LONE.at(0.0)
    assert POSITIONS[0].in_beam(*p[3]) and not POSITIONS[1].in_beam(*p[3])
    report = run_centre(SITES, feeds(LONE), tmp_path, truth=truth(LONE),
                        rule=parse_rule(rule, 2))
    lone = report["score"]["targets"][3]
    assert len(lone["track_ids"]) == 1
    entries = [d for d in report["declarations"] + report["withheld"]
               if d["system_track_id"] == lone["track_ids"][0]]
    assert [d["decision"] for d in entries] == [decision]
    entry = entries[0]
    assert entry["sites"]["north"]["sees"] and not entry["sites"]["south"]["sees"]
    assert entry["sites"]["north"]["track_number"] == 4
    assert f"rule {rule} needs {1 if rule == 'any' else 2} of 2 sites, 1 see it" in entry["why"]
    assert "south: no fresh track" in entry["why"]
    rows = [r for r in report["rows"] if r["system_track_id"] == lone["track_ids"][0]]
    assert {r["sites"] for r in rows} == {"north"}
    # degraded: the cross-range sigma is the beam's, range * beamwidth / sqrt(12) at most
    cross = max(max(r["sigma_east_m"], r["sigma_north_m"]) for r in rows[5:])
    assert 1e3 < cross < 61e3 * math.radians(20) / math.sqrt(12) * 1.5
    # the three seen by both sites are declared under both rules
    assert len(report["declarations"]) >= 3


def test_time_offsets_up_to_one_cpi_cost_little(tmp_path):
    """Reports are extrapolated to the step by their own range rate: over at most one
    CPI ``T`` that adds ``rate_sigma T`` (0.2 m) and ``range_accel T**2 / 2`` (under
    0.5 m here) to a range, against 15 m of range noise; the bound asserted, 10 m on
    each target's RMS error over the zero-offset run's, leaves room for the 1/128 s
    time stamps (up to 8 m at 2000 m/s)."""
    errors = {}
    for offset in (0.0, PERIOD_S / 2, PERIOD_S):
        sites = crossing_sites(150e3, offset_s=offset)
        report = run_centre(sites, feeds(THREE, offset_s=offset), tmp_path / str(offset),
                            truth=truth(THREE))
        assert report["system_tracks"] == 3
        errors[offset] = [t["rms_error_m"] for t in report["score"]["targets"]]
    for offset in (PERIOD_S / 2, PERIOD_S):
        assert all(e <= e0 + 10.0 for e, e0 in zip(errors[offset], errors[0.0])), errors
