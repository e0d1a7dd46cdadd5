"""The range-walk loss of the built-in scenario's targets, measured in the model chain.

Usage: ``python bench/bench_walk_loss.py``. Writes ``bench/results/walk_loss.json``.

A target that closes at ``v`` moves ``v M PRI`` over a CPI of ``M`` pulses: its
compressed peak walks across range cells and the Doppler filter integrates less
than all ``M`` pulses in any one cell. The bench runs the bit-exact model chain
(``reference_chain``) on the built-in scenario twice with the same noise: as it is,
and with every echo's delay held over each CPI at its middle pulse's range (its
carrier phase still moving, so its Doppler is the same: ``receive_iq(...,
range_walk=False)``). The walk loss of a target in a CPI is the ratio of the two
maps' peak power near its truth cell (within half its walk plus 2 range cells and
2 Doppler bins); the post-processing SNR of every target is over 30 dB, so the
noise moves the ratio by a few hundredths of a dB. It also gives the plots'
rms range error in cells and the CPIs each target is found in, both ways.
"""

import math
import tomllib
from pathlib import Path

import numpy as np

from amaradar.sim.chain import chain_config, reference_chain
from amaradar.sim.world.plot_metrics import plot_score, plot_truth
from amaradar.sim.world.scenario import default_scenario_text, parse_scenario, receive_iq

from machine import run_and_write

RESULTS = Path(__file__).parent / "results" / "walk_loss.json"
DOPPLER_SPAN_BINS = 2
RANGE_SPAN_CELLS = 2


def peak_powers(maps, truth, target):
    """The largest map power near ``target``'s truth cell in each CPI."""
    m = maps.shape[2]
    peaks = []
    for cpi, cells in enumerate(maps):
        centre = int(round(truth["range_cell"][target, cpi]))
        half = int(math.ceil(truth["walk_cells"][target, cpi] / 2)) + RANGE_SPAN_CELLS
        dopplers = (int(round(truth["doppler_bin"][target, cpi]))
                    + np.arange(-DOPPLER_SPAN_BINS, DOPPLER_SPAN_BINS + 1)) % m
        peaks.append(int(cells[centre - half:centre + half + 1][:, dopplers].max()))
    return np.array(peaks, dtype=np.float64)


def bench():
    scenario = parse_scenario(tomllib.loads(default_scenario_text()))
    config = chain_config(scenario)
    truth = plot_truth(scenario)
    runs = {}
    for walk in (True, False):
        iq, _ = receive_iq(scenario, range_walk=walk)
        runs[walk] = reference_chain(config, iq, keep_power=True)
    scores = {walk: plot_score(scenario, run.detections,
                               cells_tested_per_cpi=config.tested_cells_per_cpi).targets
              for walk, run in runs.items()}
    targets = []
    for k, target in enumerate(scenario.targets):
        loss = 10 * np.log10(peak_powers(runs[False].power, truth, k)
                             / peak_powers(runs[True].power, truth, k))
        targets.append({
            "range_m": target.range_m, "radial_velocity_mps": target.radial_velocity_mps,
            "snr_db": target.snr_db,
            "walk_cells_per_cpi": round(float(truth["walk_cells"][k].mean()), 3),
            "walk_loss_db": {"mean": round(float(loss.mean()), 3),
                             "min": round(float(loss.min()), 3),
                             "max": round(float(loss.max()), 3)},
            "cpis_found": {"walking": scores[True][k].cpis_detected,
                           "held": scores[False][k].cpis_detected},
            "rms_range_cells": {"walking": round(scores[True][k].rms_range_cells, 3),
                                "held": round(scores[False][k].rms_range_cells, 3)}})
        print(f"target {k}: {target.radial_velocity_mps:+.0f} m/s, "
              f"walk {targets[-1]['walk_cells_per_cpi']} cells/CPI, "
              f"loss {targets[-1]['walk_loss_db']['mean']} dB")
    r = scenario.radar
    return {"scenario": "built-in", "cpis": r.cpis, "pulses_per_cpi": r.pulses_per_cpi,
            "range_cell_m": r.range_bin_m, "pulse_samples": r.pulse_samples,
            "targets": targets}


if __name__ == "__main__":
    run_and_write(bench, RESULTS)
