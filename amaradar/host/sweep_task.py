"""One sweep task: one run of one scenario through the chain, reduced to counts.

A task returns sums that add up over the runs of a point (the figures and their
intervals are computed from the sums, :mod:`amaradar.host.sweep_stats`):

- ``pd_trials``, ``pd_hits``: the looks at target 0 where its whole echo lies
  in the receive window (range lines of the range-only chain, CPIs of the
  range-Doppler chain), and those with a detection on it (within one range bin;
  a plot within the gates of :mod:`amaradar.sim.world.plot_metrics`);
- ``cells``, ``false``: cells tested in homogeneous noise, away from every
  target (the compressed pulse's extent either side of each excluded) and from
  the matched filter's fill at the start of the line
  (:func:`~amaradar.sim.world.metrics.fill_edge_bins`), and the detections or
  plots there (as :func:`~amaradar.sim.world.metrics.score` and
  :func:`~amaradar.sim.world.plot_metrics.plot_score` count them);
- ``range_sq``, ``velocity_sq``, ``errors``: squared range (m) and velocity
  (m/s) errors of the plots on target 0, and their count;
- ``ospa_sum``, ``ospa_sq``, ``gospa_sum``, ``gospa_sq``, ``looks``: OSPA and
  GOSPA of each CPI's plots against the targets detectable in it, in (range
  cell, Doppler bin) units with a cut-off of :data:`OSPA_CUTOFF_CELLS` and order
  1 (the Doppler distance is not wrapped), summed over the CPIs;
- ``bit_exact``: with the rtl engine, whether the run was bit-exact as
  ``amaradar sim`` defines it (:class:`amaradar.sim.comparison.Comparison`: every
  compressed sample and report equal, equal flags, no dropped sample; None with
  the reference engine).
"""

import time

import numpy as np

from ..sim.chain import chain_config, compress, reference_chain
from ..sim.world.metrics import detectable_lines, score, truth_bins
from ..sim.world.plot_metrics import (DOPPLER_GATE_BINS, RANGE_GATE_CELLS, plot_score,
                                      plot_truth)
from ..sim.world.scenario import parse_scenario, receive_iq
from ..sim.world.track_metrics import gospa, ospa
from ..spec.records import POSITION_FRAC

__all__ = ["run_task", "pd_looks", "OSPA_CUTOFF_CELLS"]

OSPA_CUTOFF_CELLS = 5.0


def run_task(doc, engine):
    """Run the scenario document ``doc`` on ``engine`` ("reference" or "rtl"); the counts."""
    t0 = time.perf_counter()
    scenario = parse_scenario(doc)
    config = chain_config(scenario)
    iq, _ = receive_iq(scenario)
    compressed = compress(config, iq)
    result = reference_chain(config, iq, compressed=compressed)
    bit_exact = None
    if engine == "rtl":
        from ..sim.engines.rtl_chain import compare_rtl_chain
        result, comparison, _ = compare_rtl_chain(config, iq, result, compressed, processes=1)
        bit_exact = comparison.bit_exact
    if config.doppler:
        counts = _plot_counts(scenario, config, result.detections)
    else:
        counts = _detection_counts(scenario, config, result.detections)
    counts.update(bit_exact=bit_exact, seconds=time.perf_counter() - t0)
    return counts


def pd_looks(scenario, target):
    """The looks at target ``target`` that count for Pd (bool array): range lines of the
    range-only chain, CPIs of the range-Doppler chain, where its whole echo lies in the
    receive window (every line of the CPI)."""
    r = scenario.radar
    lines = detectable_lines(scenario, target)
    return lines.reshape(r.cpis, r.pulses_per_cpi).all(axis=1) if scenario.doppler else lines


def _empty():
    return dict(pd_trials=0, pd_hits=0, cells=0, false=0, range_sq=0.0, velocity_sq=0.0,
                errors=0, ospa_sum=0.0, ospa_sq=0.0, gospa_sum=0.0, gospa_sq=0.0, looks=0)


def _detection_counts(scenario, config, detections):
    """Counts of the range-only chain: Pd per range line, Pfa per cell."""
    r = scenario.radar
    counts = _empty()
    s = score(scenario, detections, tested_cells_per_line=config.tested_cells_per_line)
    counts.update(cells=s.noise_cells_tested, false=s.false_detections)
    if scenario.targets:
        line = detections["cpi"].astype(np.int64) * r.pulses_per_cpi + detections["pulse"]
        truth = truth_bins(scenario)[0, line]
        on = np.abs(detections["range_bin"] - truth) <= 1.0
        required = pd_looks(scenario, 0)
        hit = np.zeros(r.lines, dtype=bool)
        hit[line[on]] = True
        counts.update(pd_trials=int(required.sum()), pd_hits=int((hit & required).sum()))
    return counts


def _plot_counts(scenario, config, plots):
    """Counts of the range-Doppler chain: Pd per CPI, Pfa per cell, plot errors, OSPA/GOSPA."""
    r = scenario.radar
    m = r.pulses_per_cpi
    counts = _empty()
    s = plot_score(scenario, plots, cells_tested_per_cpi=config.tested_cells_per_cpi)
    counts.update(cells=s.noise_cells_tested, false=s.false_plots)
    cpi = np.asarray(plots["cpi"], dtype=np.int64)
    rng = np.asarray(plots["range_pos"], dtype=np.float64) / (1 << POSITION_FRAC)
    dop = np.asarray(plots["doppler_pos"], dtype=np.float64) / (1 << POSITION_FRAC)
    truth = plot_truth(scenario)
    required = np.array([pd_looks(scenario, t) for t in range(len(scenario.targets))],
                        dtype=bool).reshape(-1, r.cpis)
    if scenario.targets:
        range_error = rng - truth["range_cell"][0, cpi]
        doppler_error = (dop - truth["doppler_bin"][0, cpi] + m / 2) % m - m / 2
        gate = RANGE_GATE_CELLS + truth["walk_cells"][0, cpi] / 2
        on = (np.abs(range_error) <= gate) & (np.abs(doppler_error) <= DOPPLER_GATE_BINS)
        hit = np.zeros(r.cpis, dtype=bool)
        hit[cpi[on]] = True
        doppler_mps = 2 * r.unambiguous_velocity_mps / m
        counts.update(pd_trials=int(required[0].sum()), pd_hits=int((hit & required[0]).sum()),
                      range_sq=float(np.sum((range_error[on] * r.range_bin_m) ** 2)),
                      velocity_sq=float(np.sum((doppler_error[on] * doppler_mps) ** 2)),
                      errors=int(on.sum()))
    for c in range(r.cpis):
        present = required[:, c]
        x = np.stack([truth["range_cell"][present, c], truth["doppler_bin"][present, c]], axis=1)
        y = np.stack([rng[cpi == c], dop[cpi == c]], axis=1)
        o = ospa(x, y, c=OSPA_CUTOFF_CELLS)
        g = gospa(x, y, c=OSPA_CUTOFF_CELLS).distance
        counts["ospa_sum"] += o
        counts["ospa_sq"] += o * o
        counts["gospa_sum"] += g
        counts["gospa_sq"] += g * g
        counts["looks"] += 1
    return counts
