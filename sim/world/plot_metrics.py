"""Score the plots of the range-Doppler chain against the scenario's truth.

A plot measures a target over one CPI: its truth is taken at the CPI's middle
pulse ``cpi * M + M // 2`` (the time ``detections.csv`` gives it). In range the
truth cell is ``2 R / c * fs + (N - 1)`` (the matched filter's delay added); in
Doppler the truth bin is ``M/2 + f_d M / PRF`` folded into ``[0, M)``, with
``f_d = -2 v / lambda``. A plot is *on* a target when it lies within
``RANGE_GATE_CELLS`` (plus half the target's range walk over the CPI) and
``DOPPLER_GATE_BINS`` (circularly) of its truth; *near* a target when it lies
within the compressed pulse's extent in range at any Doppler (range sidelobes
of a strong echo); *edge* when its peak's CFAR window reaches into the
matched filter's fill (:func:`~amaradar.sim.world.metrics.fill_edge_bins`);
every other plot is *false*, counted against the noise cells tested away from
the targets and the edge.
"""

import math
from dataclasses import dataclass

import numpy as np

from ...spec.records import POSITION_FRAC
from .echo_physics import doppler_hz, echo_delay_s
from .metrics import (DETECTABLE_SNR_DB, FALSE_ALARM_CONFIDENCE, detectable_lines, fill_edge_bins,
                      fill_edge_cells, poisson_quantile)

__all__ = ["RANGE_GATE_CELLS", "DOPPLER_GATE_BINS", "plot_truth", "plot_score", "PlotScore"]

RANGE_GATE_CELLS = 1.5
DOPPLER_GATE_BINS = 1.5


def plot_truth(scenario):
    """Truth of every target at every CPI's middle pulse.

    Returns
    -------
    dict of ndarray, each of shape (targets, cpis)
        ``time_s``, ``range_m``, ``velocity_mps``, ``range_cell`` (fractional, with
        the filter delay), ``doppler_bin`` (fractional, folded into ``[0, M)``),
        ``walk_cells`` (range walk over the CPI, in cells), ``visible`` (bool: inside
        the site's sector).
    """
    r = scenario.radar
    m = r.pulses_per_cpi
    times = (np.arange(r.cpis) * m + m // 2) * r.pri_s
    shape = (len(scenario.targets), r.cpis)
    ranges = np.array([t.range_at(times) for t in scenario.targets]).reshape(shape)
    velocity = np.array([t.velocity_at(times) for t in scenario.targets]).reshape(shape)
    cells = echo_delay_s(ranges) * r.sample_rate_hz + (r.pulse_samples - 1)
    doppler = (m / 2 + doppler_hz(velocity, r.wavelength_m) / r.doppler_bin_hz) % m
    walk = r.range_walk_m(velocity) / r.range_bin_m
    visible = np.array([t.visible_at(times) for t in scenario.targets], dtype=bool).reshape(shape)
    return {"time_s": np.broadcast_to(times, shape), "range_m": ranges, "velocity_mps": velocity,
            "range_cell": cells, "doppler_bin": doppler, "walk_cells": walk, "visible": visible}


@dataclass
class TargetPlotScore:
    target_id: int
    snr_db: float             # after compression and coherent integration, ideal
    cpis_required: int        # CPIs where the target must give a plot
    cpis_detected: int        # of those, CPIs with a plot on the target
    rms_range_cells: float    # of the plots on the target
    rms_doppler_bins: float
    range_walk_cells: float   # largest walk over one CPI

    @property
    def detected_fraction(self):
        return self.cpis_detected / self.cpis_required if self.cpis_required else float("nan")


@dataclass
class PlotScore:
    targets: list
    false_plots: int
    near_target_plots: int
    edge_plots: int
    cells_tested: int
    noise_cells_tested: int
    expected_false: float
    allowed_false: int

    def as_dict(self):
        return {
            "targets": [dict(vars(t), detected_fraction=t.detected_fraction) for t in self.targets],
            "false_plots": self.false_plots, "near_target_plots": self.near_target_plots,
            "edge_plots": self.edge_plots, "cells_tested": self.cells_tested,
            "noise_cells_tested": self.noise_cells_tested, "expected_false": self.expected_false,
            "allowed_false": self.allowed_false,
        }


def plot_score(scenario, plots, *, cells_tested_per_cpi, pfa_factor=1.0):
    """Score ``plots`` (dict of arrays ``cpi``, ``range_pos``, ``doppler_pos``) of a
    scenario run; ``cells_tested_per_cpi`` is what the CFAR tests in one CPI's map."""
    r = scenario.radar
    m = r.pulses_per_cpi
    truth = plot_truth(scenario)
    cpi = np.asarray(plots["cpi"], dtype=np.int64)
    rng = np.asarray(plots["range_pos"], dtype=np.float64) / (1 << POSITION_FRAC)
    dop = np.asarray(plots["doppler_pos"], dtype=np.float64) / (1 << POSITION_FRAC)
    near = np.zeros(len(cpi), dtype=bool)
    targets = []
    for tid, target in enumerate(scenario.targets):
        range_error = rng - truth["range_cell"][tid, cpi]
        doppler_error = (dop - truth["doppler_bin"][tid, cpi] + m / 2) % m - m / 2
        near |= np.abs(range_error) <= r.pulse_samples
        gate = RANGE_GATE_CELLS + truth["walk_cells"][tid, cpi] / 2
        on = (np.abs(range_error) <= gate) & (np.abs(doppler_error) <= DOPPLER_GATE_BINS)
        snr = target.snr_db + 10 * math.log10(r.pulse_samples * m)
        lines = detectable_lines(scenario, tid).reshape(r.cpis, m)
        required = lines.all(axis=1) & (snr >= DETECTABLE_SNR_DB)
        hit = np.zeros(r.cpis, dtype=bool)
        hit[cpi[on]] = True
        targets.append(TargetPlotScore(
            target_id=tid, snr_db=snr, cpis_required=int(required.sum()),
            cpis_detected=int((hit & required).sum()),
            rms_range_cells=_rms(range_error[on]), rms_doppler_bins=_rms(doppler_error[on]),
            range_walk_cells=float(truth["walk_cells"][tid].max()) if r.cpis else 0.0))
    edge = ~near & (rng < fill_edge_bins(scenario))
    near_cells = min(len(scenario.targets) * (2 * r.pulse_samples + 1) * m, cells_tested_per_cpi)
    edge_cells = fill_edge_cells(scenario, cells_tested_per_cpi // m) * m
    noise_cells = r.cpis * max(cells_tested_per_cpi - near_cells - edge_cells, 0)
    expected = scenario.cfar.pfa * pfa_factor * noise_cells
    return PlotScore(targets=targets, false_plots=int((~near & ~edge).sum()),
                     near_target_plots=int(near.sum()), edge_plots=int(edge.sum()),
                     cells_tested=r.cpis * cells_tested_per_cpi, noise_cells_tested=noise_cells,
                     expected_false=expected,
                     allowed_false=poisson_quantile(FALSE_ALARM_CONFIDENCE, expected))


def _rms(errors):
    return float(np.sqrt(np.mean(errors ** 2))) if len(errors) else float("nan")
