"""The tracker on synthetic plots: fixed point against float, Doppler unfolding, and
the range-Doppler coupling correction.

Usage: ``python bench/bench_tracker.py``. Writes ``bench/results/tracker.json``.
The tracker is the bit-exact model ``TrackerModel`` (the gateware's reports), its
float twin ``IdealTracker``; the plots come from ``synthetic_plots`` (range and
Doppler noise, folded Doppler, the LFM's coupling shift, missed detections, false
plots) for the radar of the built-in scenario (``tracker_radar``), with
``TrackerConfig(max_speed_mps=12000, max_tracks=32)`` and M-of-N 3 of 5, K = 3.

Scores: the OSPA distance (``ospa``, cut-off ``c``, order ``p``) per CPI between the
truth and the confirmed and coasting tracks, on the state (range in cells, 10 x range
rate in cells per CPI), averaged over the CPIs and the seeds.

1. ``fixed_vs_float``: five targets from 0.5 to 55 v_u, Pd 0.9, 3 false plots per
   CPI; both trackers on the same plots; the ratio of their mean OSPA.
2. ``unfolding``: targets at 1, 3, 10 and 60 v_u (alternating sign), Pd 0.9, 1 false
   plot per CPI. A track belongs to the target that supplied most of its plots. A
   run is *right* for a target if at the last CPI a confirmed or coasting track of it
   is unfolded with a rate within 0.2 Doppler bin of the truth (a run without such a
   track at the end is counted apart: three missed detections delete a track); also
   the fraction of all unfolded confirmed reports of the targets' tracks within 0.2
   bin. A track is *unfolded wrongly* if any report of it, unfolded, is nearer
   another fold of the truth (error beyond ``v_u``).
3. ``coupling``: four targets closing at 15 to 60 v_u, Pd 0.9, 2 false plots per CPI;
   the same tracker with ``correct_coupling`` on and off on the same plots: mean
   OSPA over all CPIs and from CPI ``SETTLED_CPI`` on (well after confirmation and
   unfolding), and the mean range error of the unfolded tracks.
"""

from pathlib import Path

import numpy as np

from amaradar.hdl.track.tables import STATE_FRAC, STATUS_TENTATIVE, TrackerConfig
from amaradar.sim.models.track.ideal_tracker import IdealTracker
from amaradar.sim.models.track.tracker import TrackerModel, tracker_radar
from amaradar.sim.world.scenario import load_scenario
from amaradar.sim.world.track_metrics import ospa_series, synthetic_plots

from machine import run_and_write

RESULTS = Path(__file__).parent / "results" / "tracker.json"
RADAR = tracker_radar(load_scenario().radar)
CONFIG = TrackerConfig(radar=RADAR, max_speed_mps=12000, max_tracks=32)
RATE_WEIGHT = 10.0                        # state: (range cells, 10 x rate cells per CPI)
OSPA_C, OSPA_P = 2.0, 2
SEEDS = range(200)
TOLERANCE_BINS = 0.2                      # a right range rate: within this many Doppler bins
SETTLED_CPI = 20                          # the coupling table's second mean starts here
BIN_RATE = 256 * abs(RADAR.rate_per_doppler_lsb)       # cells per CPI of one Doppler bin
SCENARIOS = {
    "fixed_vs_float": dict(multiples=[-0.5, 2.0, -8.0, 25.0, -55.0],
                           starts=[1000.0, 1400, 2000, 2600, 3300], cpis=80,
                           false_plots_per_cpi=3.0, false_range_cells=(800.0, 3500.0)),
    "unfolding": dict(multiples=[1.0, -3.0, 10.0, -60.0], starts=[2000.0, 3000, 4000, 6000],
                      cpis=50, false_plots_per_cpi=1.0, false_range_cells=(1500.0, 6500.0)),
    "coupling": dict(multiples=[-15.0, -30.0, -45.0, -60.0], starts=[3000.0, 4000, 5000, 6000],
                     cpis=80, false_plots_per_cpi=2.0, false_range_cells=(2000.0, 6500.0)),
}
DETECTION_PROBABILITY = 0.9


def truth(scenario):
    """Range (cells) and rate (cells per CPI) of each target at each CPI."""
    rates = np.asarray(scenario["multiples"])[:, None] * RADAR.unambiguous_rate \
        * np.ones(scenario["cpis"])
    ranges = np.asarray(scenario["starts"])[:, None] + rates * np.arange(scenario["cpis"])
    return ranges, rates


def plots(scenario, seed):
    ranges, rates = truth(scenario)
    return synthetic_plots(RADAR, ranges, rates, rng=np.random.default_rng(seed),
                           detection_probability=DETECTION_PROBABILITY,
                           false_plots_per_cpi=scenario["false_plots_per_cpi"],
                           false_range_cells=scenario["false_range_cells"])


def state_sets(ranges, rates):
    """Truth as one (targets, 2) state array per CPI."""
    return list(np.stack([ranges.T, RATE_WEIGHT * rates.T], axis=2))


def track_sets(reports, cpis):
    """The confirmed and coasting tracks as one (tracks, 2) state array per CPI."""
    live = reports[reports["status"] != STATUS_TENTATIVE]
    states = np.stack([live["range_pos"] / 256.0,
                       RATE_WEIGHT * live["range_rate"] / 2.0 ** STATE_FRAC], axis=1)
    return [states[live["cpi"] == i] for i in range(cpis)]


def mean_ospa(scenario, reports, start=0):
    """Mean OSPA over the CPIs from ``start`` on."""
    ranges, rates = truth(scenario)
    return float(ospa_series(state_sets(ranges, rates), track_sets(reports, scenario["cpis"]),
                             c=OSPA_C, p=OSPA_P)[start:].mean())


def fixed_vs_float():
    scenario = SCENARIOS["fixed_vs_float"]
    runs = []
    for seed in SEEDS:
        frames, _ = plots(scenario, seed)
        model, ideal = TrackerModel(CONFIG).run(frames), IdealTracker(CONFIG).run(frames)
        same = len(model) == len(ideal) and all(
            np.array_equal(model[f], ideal[f]) for f in ("track_id", "status", "plot"))
        runs.append((mean_ospa(scenario, model), mean_ospa(scenario, ideal), same))
    fixed, ideal, same = (np.array(v) for v in zip(*runs))
    return {"mean_ospa_fixed": float(fixed.mean()), "mean_ospa_float": float(ideal.mean()),
            "ratio": float(fixed.mean() / ideal.mean()),
            "per_seed_ratio_min": float((fixed / ideal).min()),
            "per_seed_ratio_max": float((fixed / ideal).max()),
            "runs_with_identical_decisions": int(same.sum()), "runs": len(runs)}


def owners(reports, sources):
    """Each track id's target: the source of most of its plots (-1: false plots)."""
    used = reports[reports["plot"] > 0]
    source = np.array([sources[c][p - 1] for c, p in zip(used["cpi"], used["plot"])], dtype=np.int64)
    out = {}
    for track in np.unique(used["track_id"]):
        values, counts = np.unique(source[used["track_id"] == track], return_counts=True)
        out[int(track)] = int(values[np.argmax(counts)])
    return out


def unfolding():
    scenario = SCENARIOS["unfolding"]
    _, rates = truth(scenario)
    targets, last = len(scenario["multiples"]), scenario["cpis"] - 1
    right, lost, reports_right, reports_all = (np.zeros(targets, dtype=np.int64) for _ in range(4))
    unfolded_at = [[] for _ in range(targets)]
    wrong_tracks = false_unfolded = 0
    for seed in SEEDS:
        frames, sources = plots(scenario, seed)
        reports = TrackerModel(CONFIG).run(frames)
        owner = owners(reports, sources)
        target = np.array([owner.get(int(t), -1) for t in reports["track_id"]])
        unfolded = (reports["unfolded"] == 1) & (reports["status"] != STATUS_TENTATIVE)
        false_unfolded += len(np.unique(reports["track_id"][unfolded & (target < 0)]))
        mine = unfolded & (target >= 0)
        error = reports["range_rate"][mine] / 2.0 ** STATE_FRAC \
            - rates[target[mine], reports["cpi"][mine]]
        wrong_tracks += len(np.unique(reports["track_id"][mine][np.abs(error) > RADAR.unambiguous_rate]))
        for k in range(targets):
            at = reports["cpi"][mine & (target == k)]
            if at.size:
                unfolded_at[k].append(int(at.min()))
            good = np.abs(error[target[mine] == k]) < TOLERANCE_BINS * BIN_RATE
            reports_right[k] += good.sum()
            reports_all[k] += good.size
            now = (reports["cpi"][mine] == last) & (target[mine] == k)
            right[k] += bool(np.any(good[now[target[mine] == k]]))
            lost[k] += not np.any(now)
    rows = [{"multiple_of_v_u": m, "speed_mps": abs(m) * RADAR.unambiguous_velocity_mps,
             "runs_right": int(right[k]), "fraction_right": right[k] / len(SEEDS),
             "runs_without_unfolded_confirmed_track_at_end": int(lost[k]),
             "unfolded_reports": int(reports_all[k]),
             "fraction_of_unfolded_reports_right": reports_right[k] / reports_all[k],
             "runs_unfolded": len(unfolded_at[k]),
             "median_cpi_unfolded": float(np.median(unfolded_at[k])) if unfolded_at[k] else None}
            for k, m in enumerate(scenario["multiples"])]
    return {"targets": rows, "tracks_unfolded_wrongly": wrong_tracks,
            "false_tracks_unfolded": false_unfolded, "runs": len(SEEDS), "cpis": scenario["cpis"],
            "right_tolerance_bins": TOLERANCE_BINS}


def coupling():
    scenario = SCENARIOS["coupling"]
    ranges, _ = truth(scenario)
    scores = {True: [], False: []}
    settled = {True: [], False: []}
    bias = {True: [], False: []}
    for seed in SEEDS:
        frames, sources = plots(scenario, seed)
        for correct in (True, False):
            reports = TrackerModel(CONFIG, correct_coupling=correct).run(frames)
            scores[correct].append(mean_ospa(scenario, reports))
            settled[correct].append(mean_ospa(scenario, reports, SETTLED_CPI))
            owner = owners(reports, sources)
            target = np.array([owner.get(int(t), -1) for t in reports["track_id"]])
            mine = (reports["status"] != STATUS_TENTATIVE) & (reports["unfolded"] == 1) & (target >= 0)
            bias[correct].extend(reports["range_pos"][mine] / 256.0
                                 - ranges[target[mine], reports["cpi"][mine]])
    shift = [RADAR.coupling_per_doppler_lsb * m * RADAR.unambiguous_rate / RADAR.rate_per_doppler_lsb
             for m in scenario["multiples"]]
    on, off = float(np.mean(scores[True])), float(np.mean(scores[False]))
    on_late, off_late = float(np.mean(settled[True])), float(np.mean(settled[False]))
    return {"mean_ospa_correction_on": on, "mean_ospa_correction_off": off, "ratio_on_off": on / off,
            "settled_from_cpi": SETTLED_CPI, "settled_mean_ospa_correction_on": on_late,
            "settled_mean_ospa_correction_off": off_late, "settled_ratio_on_off": on_late / off_late,
            "mean_range_error_cells_on": float(np.mean(bias[True])),
            "mean_range_error_cells_off": float(np.mean(bias[False])),
            "plots_closer_by_cells": shift, "runs": len(SEEDS)}


def bench():
    out = {"radar": {"range_cell_m": RADAR.range_cell_m, "cpi_s": RADAR.cpi_s, "pulses": RADAR.pulses,
                     "unambiguous_velocity_mps": RADAR.unambiguous_velocity_mps, "sweep": RADAR.sweep,
                     "pulse_width_s": RADAR.pulse_width_s, "bandwidth_hz": RADAR.bandwidth_hz},
           "tracker": {"max_tracks": CONFIG.max_tracks, "max_speed_mps": CONFIG.max_speed_mps,
                       "tracking_index": CONFIG.tracking_index,
                       "range_sigma_cells": CONFIG.range_sigma_cells,
                       "confirm_m": 3, "confirm_n": 5, "delete_k": 3},
           "ospa": {"c": OSPA_C, "p": OSPA_P,
                    "state": "range cells, 10 x range rate cells per CPI; confirmed and coasting tracks"},
           "plots": {"detection_probability": DETECTION_PROBABILITY, "range_sigma_cells": 0.1,
                     "doppler_sigma_bins": 0.05, "coupling": True},
           "seeds": [SEEDS.start, SEEDS.stop - 1], "scenarios": SCENARIOS}
    out["fixed_vs_float"] = r = fixed_vs_float()
    print(f"OSPA fixed {r['mean_ospa_fixed']:.4f}  float {r['mean_ospa_float']:.4f}  "
          f"ratio {r['ratio']:.4f} (per seed {r['per_seed_ratio_min']:.3f} ... "
          f"{r['per_seed_ratio_max']:.3f}); identical decisions in "
          f"{r['runs_with_identical_decisions']}/{r['runs']}", flush=True)
    out["unfolding"] = r = unfolding()
    for row in r["targets"]:
        print(f"{row['multiple_of_v_u']:+6.1f} v_u: right {row['runs_right']}/{r['runs']} "
              f"(no unfolded confirmed track at the end "
              f"{row['runs_without_unfolded_confirmed_track_at_end']}), unfolded reports right "
              f"{row['fraction_of_unfolded_reports_right']:.4f} of {row['unfolded_reports']}, "
              f"unfolded {row['runs_unfolded']}, median CPI {row['median_cpi_unfolded']}", flush=True)
    print(f"tracks unfolded wrongly {r['tracks_unfolded_wrongly']}, "
          f"false tracks unfolded {r['false_tracks_unfolded']}", flush=True)
    out["coupling"] = r = coupling()
    print(f"coupling OSPA on {r['mean_ospa_correction_on']:.4f}  off {r['mean_ospa_correction_off']:.4f}"
          f"  ratio {r['ratio_on_off']:.3f}; from CPI {SETTLED_CPI} on "
          f"{r['settled_mean_ospa_correction_on']:.4f} off {r['settled_mean_ospa_correction_off']:.4f}"
          f" ratio {r['settled_ratio_on_off']:.3f}; mean range error on {r['mean_range_error_cells_on']:+.4f}"
          f" off {r['mean_range_error_cells_off']:+.4f} cells", flush=True)
    return out


if __name__ == "__main__":
    run_and_write(bench, RESULTS)
