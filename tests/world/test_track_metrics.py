"""OSPA and GOSPA against hand-computed cases, and the synthetic plots against the physics."""

import math
from itertools import permutations

import numpy as np
import pytest

from amaradar.hdl.track.tables import TrackerRadar
from amaradar.sim.world.track_metrics import (PLOT_DTYPE, gospa, ospa, ospa_series,
                                              synthetic_plots)
from amaradar.spec.physics import SPEED_OF_LIGHT


# ---------------------------------------------------------------- OSPA

def test_ospa_empty_sets():
    assert ospa([], [], c=5.0) == 0.0
    assert ospa([1.0, 2.0], [], c=5.0, p=2) == 5.0
    assert ospa([], [[1.0, 2.0]], c=3.0) == 3.0


def test_ospa_hand_cases():
    # one pair at distance 1, one unmatched state: (1 + 5) / 2 with p = 1
    assert ospa([0.0, 10.0], [1.0], c=5.0, p=1) == pytest.approx(3.0)
    # p = 2: sqrt((1 + 25) / 2)
    assert ospa([0.0, 10.0], [1.0], c=5.0, p=2) == pytest.approx(math.sqrt(13.0))
    # cut-off: a pair 100 apart costs c
    assert ospa([0.0], [100.0], c=5.0, p=2) == pytest.approx(5.0)
    # two dimensions: a 3-4-5 triangle
    assert ospa([[0.0, 0.0]], [[3.0, 4.0]], c=10.0) == pytest.approx(5.0)
    # the optimal assignment (0-1.9, 2-3: 2.9), not the greedy one (2-1.9 first: 3.1)
    assert ospa([0.0, 2.0], [1.9, 3.0], c=10.0, p=1) == pytest.approx(1.45)
    # symmetric
    assert ospa([1.0], [0.0, 10.0], c=5.0, p=2) == pytest.approx(math.sqrt(13.0))


def test_ospa_against_all_permutations():
    rng = np.random.default_rng(1)
    for _ in range(30):
        x = rng.uniform(0, 10, (rng.integers(1, 5), 2))
        y = rng.uniform(0, 10, (rng.integers(1, 5), 2))
        c, p = 4.0, rng.choice([1, 2, 3])
        small, large = (x, y) if len(x) <= len(y) else (y, x)
        best = min(sum(min(np.linalg.norm(small[i] - large[j]), c) ** p
                       for i, j in enumerate(perm))
                   for perm in permutations(range(len(large)), len(small)))
        expect = ((best + c ** p * (len(large) - len(small))) / len(large)) ** (1 / p)
        assert ospa(x, y, c=c, p=p) == pytest.approx(expect)
        assert ospa(x, y, c=c, p=p) <= c


def test_ospa_series():
    assert ospa_series([[0.0], []], [[1.0], [2.0]], c=3.0).tolist() == [1.0, 3.0]
    with pytest.raises(ValueError, match=r"^2 truth sets but 1 estimate sets$"):
        ospa_series([[0.0], []], [[1.0]], c=3.0)


# ---------------------------------------------------------------- GOSPA

def test_gospa_hand_cases():
    assert gospa([], [], c=4.0).distance == 0.0
    # one missed target: c**p / 2
    g = gospa([0.0], [], c=4.0, p=1)
    assert (g.distance, g.localisation, g.missed, g.false) == (2.0, 0.0, 1, 0)
    assert gospa([0.0], [], c=4.0, p=2).distance == pytest.approx(math.sqrt(8.0))
    # a pair at 1, a missed target at 10 and a false track at 50: 1 + 2 + 2 (p = 1)
    g = gospa([0.0, 10.0], [1.0, 50.0], c=4.0, p=1)
    assert (g.distance, g.localisation, g.missed, g.false) == (5.0, 1.0, 1, 1)
    assert gospa([0.0, 10.0], [1.0, 50.0], c=4.0, p=2).distance == pytest.approx(math.sqrt(17.0))
    # the cut-off: 3.9 is a pair, 4.5 a missed target and a false track
    assert gospa([0.0], [3.9], c=4.0).distance == pytest.approx(3.9)
    g = gospa([0.0], [4.5], c=4.0)
    assert (g.distance, g.missed, g.false) == (4.0, 1, 1)
    # alpha = 1: an unassigned state costs c**p, a pair is kept below 2 c**p
    g = gospa([0.0], [6.0], c=4.0, alpha=1.0)
    assert (g.distance, g.missed) == (6.0, 0)


def test_gospa_and_ospa_for_equal_sizes():
    """With as many estimates as truths and alpha = 2: GOSPA**p = n * OSPA**p."""
    rng = np.random.default_rng(2)
    for p in (1, 2):
        x, y = rng.uniform(0, 10, (4, 2)), rng.uniform(0, 10, (4, 2))
        assert gospa(x, y, c=3.0, p=p).distance ** p == pytest.approx(4 * ospa(x, y, c=3.0, p=p) ** p)


def test_metric_parameter_errors():
    with pytest.raises(ValueError, match=r"^c must be a finite number > 0, not 0.0$"):
        ospa([1.0], [2.0], c=0.0)
    with pytest.raises(ValueError, match=r"^p must be a finite number >= 1, not 0.5$"):
        gospa([1.0], [2.0], c=1.0, p=0.5)
    with pytest.raises(ValueError, match=r"^alpha must be in \(0, 2\], not 3.0$"):
        gospa([1.0], [2.0], c=1.0, alpha=3.0)
    with pytest.raises(ValueError, match="2 and 1 dimensions"):
        ospa([[1.0, 2.0]], [3.0], c=1.0)


# ---------------------------------------------------------------- synthetic plots

RADAR = TrackerRadar(range_cell_m=15.0, cpi_s=16e-3, pulses=16,
                     unambiguous_velocity_mps=SPEED_OF_LIGHT / 435e6 / 1e-3 / 4,
                     sweep="up", pulse_width_s=10e-6, bandwidth_hz=5e6)


def test_synthetic_plots_follow_the_physics():
    """Noiseless plots of a closing and an opening target: folded Doppler from
    f_d = -2 v / lambda, range shifted by the up-sweep's coupling -f_d T fs / B."""
    velocity = np.array([-2500.0, 700.0])                        # m/s
    rate = velocity * RADAR.cpi_s / RADAR.range_cell_m           # cells per CPI
    start = np.array([1000.0, 2000.0])
    frames, sources = synthetic_plots(RADAR, start[:, None] + rate[:, None] * np.arange(3),
                                      rate[:, None] * np.ones(3), rng=np.random.default_rng(0),
                                      range_sigma_cells=0.0, doppler_sigma_bins=0.0)
    wavelength = SPEED_OF_LIGHT / 435e6
    f_d = -2 * velocity / wavelength
    prf, fs = 1 / 1e-3, SPEED_OF_LIGHT / (2 * 15.0)
    bins = (f_d / (prf / 16) + 8) % 16                           # zero Doppler at M/2
    shift = -f_d * 10e-6 / 5e6 * fs                              # up-sweep: closing is closer
    assert shift[0] < 0 < shift[1]
    for i, frame in enumerate(frames):
        assert frame.dtype == PLOT_DTYPE and frame["cpi"].tolist() == [i, i]
        assert sources[i].tolist() == [0, 1]
        assert np.allclose(frame["doppler_pos"], np.round(bins * 256), atol=1)
        assert np.allclose(frame["range_pos"] / 256, start + rate * i + shift, atol=1 / 256)
    plain, _ = synthetic_plots(RADAR, start[:, None], rate[:, None], rng=np.random.default_rng(0),
                               range_sigma_cells=0.0, doppler_sigma_bins=0.0, coupling=False)
    assert np.allclose(plain[0]["range_pos"] / 256, start, atol=1 / 256)


def test_synthetic_plots_detection_and_false_plots():
    frames, sources = synthetic_plots(RADAR, np.full((3, 400), 500.0), np.zeros((3, 400)),
                                      rng=np.random.default_rng(3), detection_probability=0.8,
                                      false_plots_per_cpi=2.0, false_range_cells=(100.0, 200.0))
    every = np.concatenate(sources)
    assert abs(np.count_nonzero(every >= 0) / 1200 - 0.8) < 0.04
    assert abs(np.count_nonzero(every < 0) / 400 - 2.0) < 0.25
    plots = np.concatenate(frames)
    false = plots[every < 0]
    assert false["range_pos"].min() >= 100 * 256 and false["range_pos"].max() <= 200 * 256
    assert 0 <= plots["doppler_pos"].min() and plots["doppler_pos"].max() < 16 * 256
    for frame in frames:                                         # in range order
        assert np.all(np.diff(frame["range_pos"]) >= 0)
    with pytest.raises(TypeError, match="radar must be a TrackerRadar"):
        synthetic_plots(None, [[0.0]], [[0.0]], rng=np.random.default_rng())
