"""The run's track scores (OSPA, GOSPA, confirmation, breaks, false tracks, rate error)
against a hand-computed case."""

import numpy as np
import pytest

from amaradar.hdl.track.tables import STATE_FRAC
from amaradar.sim.world.plot_metrics import plot_truth
from amaradar.sim.world.scenario import parse_scenario
from amaradar.sim.world.track_score import OSPA_C_CELLS, track_score
from amaradar.spec.records import POSITION_FRAC
from scenarios import builtin_doc

TENTATIVE, CONFIRMED, COASTING = 0, 1, 2


def _scenario():
    doc = builtin_doc()
    doc["radar"]["cpis"] = 4
    doc["target"] = doc["target"][:2]
    return parse_scenario(doc)


def test_hand_computed_case():
    """CPI 0: one tentative track (no estimate). CPI 1: track 0 two cells off target 0,
    a false track 5, target 1 missed. CPI 2: track 0 half a cell off target 0, track 7
    on target 1 (unfolded, rate 3 m/s fast). CPI 3: track 8 takes target 0 (a break),
    track 7 coasting on target 1 (unfolded, rate 4 m/s slow)."""
    s = _scenario()
    r = s.radar
    truth = plot_truth(s)["range_cell"]
    velocity = plot_truth(s)["velocity_mps"]
    cell_m = r.range_bin_m
    per_mps = (1 << STATE_FRAC) * r.pri_s * r.pulses_per_cpi / cell_m
    rows = [  # cpi, id, status, range (cells), rate (m/s), unfolded
        (0, 0, TENTATIVE, truth[0, 0], 0.0, 0),
        (1, 0, CONFIRMED, truth[0, 1] + 2, 0.0, 0),
        (1, 5, CONFIRMED, truth[1, 1] + 40, 0.0, 0),
        (2, 0, CONFIRMED, truth[0, 2] - 0.5, 0.0, 0),
        (2, 7, CONFIRMED, truth[1, 2], velocity[1, 2] + 3, 1),
        (3, 8, CONFIRMED, truth[0, 3], 0.0, 0),
        (3, 7, COASTING, truth[1, 3], velocity[1, 3] - 4, 1),
    ]
    tracks = {"cpi": np.array([x[0] for x in rows]), "track_id": np.array([x[1] for x in rows]),
              "status": np.array([x[2] for x in rows]),
              "range_pos": np.round(np.array([x[3] for x in rows]) * (1 << POSITION_FRAC)),
              "range_rate": np.round(np.array([x[4] for x in rows]) * per_mps),
              "unfolded": np.array([x[5] for x in rows])}
    score = track_score(s, tracks).as_dict()
    c = OSPA_C_CELLS
    quantum = 1 / (1 << POSITION_FRAC)
    assert score["ospa_m"][0] == pytest.approx(c * cell_m)
    assert score["ospa_m"][1] == pytest.approx((2 + c) / 2 * cell_m, abs=quantum * cell_m)
    assert score["ospa_m"][2] == pytest.approx(0.5 / 2 * cell_m, abs=quantum * cell_m)
    assert score["ospa_m"][3] == pytest.approx(0, abs=quantum * cell_m)
    # GOSPA (alpha 2, p 1): c/2 per missed or false state plus the assigned distances
    assert score["gospa_m"][0] == pytest.approx(c * cell_m)
    assert score["gospa_m"][1] == pytest.approx((2 + c) * cell_m, abs=quantum * cell_m)
    assert score["gospa_missed"] == [2, 1, 0, 0] and score["gospa_false"] == [0, 1, 0, 0]
    t0, t1 = score["targets"]
    assert (t0["cpis_to_confirm"], t0["breaks"], t0["rate_rms_mps"]) == (2, 1, None)
    assert (t1["cpis_to_confirm"], t1["breaks"]) == (3, 0)
    assert t1["rate_rms_mps"] == pytest.approx(np.sqrt((9 + 16) / 2), abs=1 / per_mps)
    assert score["false_tracks"] == 1 and score["confirmed_tracks"] == 4
    assert score["mean_ospa_m"] == pytest.approx(np.mean(score["ospa_m"]))


def test_no_tracks_at_all():
    s = _scenario()
    empty = {name: np.zeros(0, dtype=np.int64)
             for name in ("cpi", "track_id", "status", "range_pos", "range_rate", "unfolded")}
    score = track_score(s, empty).as_dict()
    assert score["ospa_m"] == [pytest.approx(OSPA_C_CELLS * s.radar.range_bin_m)] * 4
    assert all(t["cpis_to_confirm"] is None and t["breaks"] == 0 for t in score["targets"])
    assert score["false_tracks"] == score["confirmed_tracks"] == 0
