"""The ideal float tracker: its arithmetic by hand, and the fixed-point model's loss
against it on the same plots (OSPA, the decisions, the state)."""

import numpy as np
import pytest

from amaradar.hdl.track.tables import STATE_FRAC, TrackerConfig, TrackerRadar, tracker_tables
from amaradar.sim.models.track.ideal_tracker import IDEAL_TRACK_DTYPE, IdealTracker
from amaradar.sim.models.track.tracker import TRACK_FIELDS, TrackerModel
from amaradar.sim.world.track_metrics import PLOT_DTYPE, gospa, ospa_series, synthetic_plots
from amaradar.spec.physics import SPEED_OF_LIGHT

UHF = TrackerRadar(range_cell_m=15.0, cpi_s=16e-3, pulses=16,
                   unambiguous_velocity_mps=SPEED_OF_LIGHT / 435e6 / 1e-3 / 4,
                   sweep="up", pulse_width_s=10e-6, bandwidth_hz=5e6)
CONFIG = TrackerConfig(radar=UHF, max_speed_mps=12000, max_tracks=32)
CPIS = 80


@pytest.fixture(scope="module")
def runs():
    """Five targets from 0.5 to 55 v_u, Pd 0.9, 3 false plots per CPI; both trackers."""
    multiples = np.array([-0.5, 2.0, -8.0, 25.0, -55.0])
    rates = (multiples * UHF.unambiguous_rate)[:, None] * np.ones(CPIS)
    ranges = np.array([1000.0, 1400, 2000, 2600, 3300])[:, None] + rates * np.arange(CPIS)
    frames, _ = synthetic_plots(UHF, ranges, rates, rng=np.random.default_rng(4),
                                detection_probability=0.9, false_plots_per_cpi=3.0,
                                false_range_cells=(800.0, 3500.0))
    return ranges, rates, TrackerModel(CONFIG).run(frames), IdealTracker(CONFIG).run(frames)


def _estimates(reports, cpi):
    """(range cells, 10 x rate cells per CPI) of the confirmed and coasting tracks."""
    r = reports[(reports["cpi"] == cpi) & (reports["status"] != 0)]
    return np.stack([r["range_pos"] / 256, 10 * r["range_rate"] / 2 ** STATE_FRAC], axis=1)


def test_model_and_ideal_agree_in_ospa(runs):
    ranges, rates, model, ideal = runs
    truth = [np.stack([ranges[:, i], 10 * rates[:, i]], axis=1) for i in range(CPIS)]
    scores = {}
    for name, reports in (("model", model), ("ideal", ideal)):
        estimates = [_estimates(reports, i) for i in range(CPIS)]
        scores[name] = ospa_series(truth, estimates, c=2.0, p=2).mean()
        late = [gospa(t, e, c=2.0, p=2) for t, e in zip(truth[20:], estimates[20:])]
        assert sum(g.false for g in late) == 0          # no false track after the start
        assert sum(g.missed for g in late) <= 10        # missed: Pd 0.9 and coasting
    assert 1 / 1.1 <= scores["model"] / scores["ideal"] <= 1.1
    assert scores["ideal"] < 0.3


def test_model_and_ideal_take_the_same_decisions(runs):
    _, _, model, ideal = runs
    assert model.dtype.names == ideal.dtype.names == TRACK_FIELDS
    assert len(model) == len(ideal) > 5 * CPIS
    for name in ("cpi", "track_id", "status", "unfolded", "age", "misses", "plot"):
        assert np.array_equal(model[name], ideal[name]), name
    # the fixed-point loss: range within one plot LSB, rate within 16 state LSBs
    assert np.abs(model["range_pos"] - ideal["range_pos"]).max() <= 1.0
    assert np.abs(model["range_rate"] - ideal["range_rate"]).max() <= 16.0
    assert np.any(model["range_rate"] != ideal["range_rate"])     # they do differ


def test_ideal_update_by_hand():
    """Two plots: the second update uses the unrounded Kalman gains of age 1."""
    t = tracker_tables(CONFIG)
    frames = np.zeros((2, 1), dtype=PLOT_DTYPE)
    frames["range_pos"] = [[1000 * 256], [1000 * 256 + 77]]
    frames["doppler_pos"] = 2048
    ideal = IdealTracker(CONFIG).run(list(frames))
    assert ideal.dtype == IDEAL_TRACK_DTYPE
    innovation = 77 * 256                                  # range-state units
    assert ideal["range_pos"][1] == pytest.approx(1000 * 256 + t.alpha_f[1, 0] * innovation / 256,
                                                  rel=1e-15)
    assert ideal["range_rate"][1] == pytest.approx(t.beta_f[1, 0] * innovation, rel=1e-15)
    model = TrackerModel(CONFIG).run(list(frames))
    assert abs(model["range_rate"][1] - ideal["range_rate"][1]) <= 1.0
    assert model["range_pos"][1] == np.round(ideal["range_pos"][1])
