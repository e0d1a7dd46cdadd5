"""The joint centre on synthetic site feeds: OSPA in the plane vs the number of
targets and vs the site baseline.

Usage: ``python bench/bench_centre.py``. Writes ``bench/results/centre.json`` and
``bench/results/centre.png``.

Feeds are synthetic (``amaradar.host.centre.synthetic``): two sites
(``crossing_sites``, 20 degree beams crossing at right angles, the second site's
CPIs 50 ms after the first's), CPI 0.1 s, 200 CPIs, range noise 15 m and range
rate noise 1.5 m/s per report, CAT048 through ASTERIX and back. Targets start
within 4 % of the baseline of the beams' crossing point, at 800 to 2000 m/s
heading within 60 degrees of the first site. Scores: OSPA and GOSPA (cut-off
2000 m, order 1) per step from the first system track on, the mean over steps
and seeds; also ghosts (system tracks beyond the number of targets) and swaps.
"""

import sys
from pathlib import Path

import numpy as np

from amaradar.host.centre.geometry import site_positions
from amaradar.host.centre.run import run_centre
from amaradar.host.centre.synthetic import PlanarTargets, crossing_sites, site_feed
from machine import run_and_write

RESULTS = Path(__file__).parent / "results"
CPIS, OFFSET_S, SEEDS = 200, 0.05, (1, 2, 3)
COUNTS = (1, 2, 3, 4, 6)
BASELINES_M = (75e3, 150e3, 250e3)


def targets_near(baseline_m, count, rng):
    centre = np.array([baseline_m / 2, baseline_m / 2])
    position = centre + rng.uniform(-0.04, 0.04, (count, 2)) * baseline_m
    heading = np.arctan2(-centre[0], -centre[1]) + rng.uniform(-np.pi / 3, np.pi / 3, count)
    speed = rng.uniform(800, 2000, count)
    velocity = np.stack([speed * np.sin(heading), speed * np.cos(heading)], axis=1)
    return PlanarTargets(position, velocity, np.zeros((count, 2)))


def one_run(baseline_m, count, seed, out):
    rng = np.random.default_rng(seed)
    sites = crossing_sites(baseline_m, offset_s=OFFSET_S)
    positions = site_positions(sites)
    targets = targets_near(baseline_m, count, rng)
    feeds = {"north": site_feed(positions[0], targets, cpis=CPIS, rng=rng),
             "south": site_feed(positions[1], targets, cpis=CPIS, rng=rng, offset_s=OFFSET_S,
                                first_track=100)}
    truth = targets.truth_rows(np.arange(0, CPIS * 0.1 + OFFSET_S, 0.01))
    report = run_centre(sites, feeds, out, truth=truth)
    score = report["score"]
    first = next((k for k, g in enumerate(score["gospa_missed"]) if g < count), len(score["ospa_m"]))
    errors = [t["rms_error_m"] for t in score["targets"] if t["rms_error_m"] is not None]
    return {"ospa_m": float(np.mean(score["ospa_m"][first:])),
            "gospa_m": float(np.mean(score["gospa_m"][first:])),
            "rms_error_m": float(np.sqrt(np.mean(np.square(errors)))) if errors else None,
            "ghosts": max(0, report["system_tracks"] - count),
            "swaps": sum(t["swaps"] for t in score["targets"])}


def summary(runs):
    def mean(key):
        values = [r[key] for r in runs if r[key] is not None]
        return float(np.mean(values)) if values else None
    return {"ospa_m": mean("ospa_m"), "gospa_m": mean("gospa_m"),
            "rms_error_m": mean("rms_error_m"), "ghosts": sum(r["ghosts"] for r in runs),
            "swaps": sum(r["swaps"] for r in runs), "runs": runs}


def bench():
    out = Path("/tmp/bench_centre")
    by_count = {str(n): summary([one_run(150e3, n, s, out) for s in SEEDS]) for n in COUNTS}
    by_baseline = {str(int(b)): summary([one_run(b, 3, s, out) for s in SEEDS])
                   for b in BASELINES_M}
    for name, table in (("targets", by_count), ("baseline_m", by_baseline)):
        print(f"{name:>10} {'OSPA m':>8} {'GOSPA m':>8} {'RMS m':>8} ghosts swaps")
        for key, row in table.items():
            print(f"{key:>10} {row['ospa_m']:8.1f} {row['gospa_m']:8.1f} "
                  f"{row['rms_error_m']:8.1f} {row['ghosts']:6d} {row['swaps']:5d}")
    plot(by_count, by_baseline)
    return {"synthetic_feeds": True, "cpis": CPIS, "seeds": list(SEEDS), "c_m": 2000.0,
            "vs_targets_at_150km": by_count, "vs_baseline_3_targets": by_baseline}


def plot(by_count, by_baseline):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot([int(k) for k in by_count], [r["ospa_m"] for r in by_count.values()], "o-")
    left.set_xlabel("targets (baseline 150 km)")
    right.plot([int(k) / 1e3 for k in by_baseline], [r["ospa_m"] for r in by_baseline.values()],
               "o-")
    right.set_xlabel("site baseline (km), 3 targets")
    for ax in (left, right):
        ax.set_ylabel("mean OSPA in the plane (m, c = 2 km)")
        ax.grid(True, alpha=0.3)
    fig.suptitle("joint centre, synthetic feeds")
    fig.tight_layout()
    fig.savefig(RESULTS / "centre.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(run_and_write(bench, RESULTS / "centre.json"))
