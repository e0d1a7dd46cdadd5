"""The matched filter's fill at the start of each line is a noise edge: the
scores count the false alarms there apart, so that the measured Pfa is that of
the homogeneous noise the CFAR factor was designed for (sim/world/metrics.py:
fill_edge_bins)."""

import tomllib
from importlib import resources

import numpy as np
import pytest
from scipy import stats

from amaradar.sim.chain import compress, reference_chain, scenario_chain_config
from amaradar.sim.world.metrics import fill_edge_bins
from amaradar.sim.world.plot_metrics import plot_score
from amaradar.sim.world.scenario import parse_scenario, receive_iq
from amaradar.spec.records import POSITION_FRAC

CPIS = 24


@pytest.fixture(scope="module")
def so_noise_run():
    doc = tomllib.loads(resources.files("amaradar.sweeps").joinpath("noise_doppler.toml").read_text())
    doc["radar"]["cpis"] = CPIS
    doc["cfar"].update(type="so", pfa=1e-3)
    scenario = parse_scenario(doc)
    config = scenario_chain_config(scenario)
    iq, _ = receive_iq(scenario)
    result = reference_chain(config, iq, keep_power=True, compressed=compress(config, iq))
    return scenario, config, result


def test_the_first_bins_hold_less_noise(so_noise_run):
    """The bins before P - 1 are the filter's partial sums: their mean power ramps up as
    the share of the taps' energy they hold (within 5 standard errors of the mean over
    the cells averaged; the last partial bin holds (P - 1)/P, too near the full power
    for a fixed margin below it to hold with every noise draw)."""
    scenario, config, result = so_noise_run
    p = scenario.radar.pulse_samples
    mean = np.asarray(result.power, dtype=np.float64).mean(axis=(0, 2))
    full = mean[p:].mean()
    energy = np.abs(config.taps_array[::-1]) ** 2
    expected = full * np.cumsum(energy)[:p - 1] / energy.sum()
    cells = result.power.shape[0] * result.power.shape[2]
    assert np.all(np.abs(mean[:p - 1] - expected) < 5 * expected / np.sqrt(cells))
    assert np.all(np.diff(expected) > 0) and mean[0] < 0.15 * full


def test_so_false_plots_meet_the_design_pfa_away_from_the_edge_and_not_at_it(so_noise_run):
    scenario, config, result = so_noise_run
    s = plot_score(scenario, result.detections, cells_tested_per_cpi=config.tested_cells_per_cpi)
    edge_cells = s.cells_tested - s.noise_cells_tested
    assert edge_cells == CPIS * (scenario.radar.pulse_samples - 1) * scenario.radar.pulses_per_cpi
    low, high = stats.poisson.ppf([0.0005, 0.9995], s.expected_false)
    assert low <= s.false_plots <= high
    # the edge's SO threshold rides on the low half: alarms far above the design rate there
    assert s.edge_plots > 3 * 1e-3 * edge_cells
    rng = result.detections["range_pos"] / (1 << POSITION_FRAC)
    assert np.count_nonzero(rng < fill_edge_bins(scenario)) >= s.edge_plots
