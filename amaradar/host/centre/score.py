"""The centre's picture against truth: OSPA and GOSPA in the plane, per target errors.

At each step the estimates are every system track's position (fused, degraded or
coasting) and the truth every target's position interpolated (linearly) to the
step from ``truth.csv`` (targets outside their truth's time span are left out).
OSPA and GOSPA (:mod:`amaradar.sim.world.track_metrics`) use the cut-off
``c_m`` (m) and order 1. A system track is *on* a target at a step when the optimal
assignment pairs them closer than ``c_m``; per target: ``rms_error_m`` over the
steps it has a track on it, ``fused_rms_error_m`` over those on which that track
was fused (updated by two sites or more: ``fused_steps``), ``track_ids`` (the ids
ever on it) and ``swaps`` (how often the id on it changes).

What one site alone would say, for comparison (:func:`site_errors`): each measured
report of a site track placed at its range along the site's boresight, against the
target whose range from the site is nearest the report's at its time.
"""

from collections import defaultdict

import numpy as np

from ...sim.world.track_metrics import assigned_pairs, gospa, ospa

__all__ = ["OSPA_C_M", "truth_at", "score", "site_errors"]

OSPA_C_M = 2000.0


def truth_at(truth_rows, times_s):
    """``{target: (positions (len(times), 2), valid (len(times),))}``, interpolated."""
    by_target = defaultdict(list)
    for row in truth_rows:
        by_target[int(row["target"])].append((float(row["time_s"]), float(row["east_m"]),
                                              float(row["north_m"])))
    times_s = np.asarray(times_s, dtype=np.float64)
    out = {}
    for target, samples in sorted(by_target.items()):
        t, e, n = np.array(sorted(samples)).T
        valid = (times_s >= t[0] - 1e-9) & (times_s <= t[-1] + 1e-9)
        out[target] = (np.stack([np.interp(times_s, t, e), np.interp(times_s, t, n)], axis=1),
                       valid)
    return out


def site_errors(reports, positions, truth_rows, *, gate_m=OSPA_C_M):
    """``{site: {"reports": n, "rms_error_m": e}}``: the error of each site's own estimate
    (range plus boresight) of the measured ``reports`` (SiteReport) of the sites
    ``positions`` (SitePosition); a report farther than ``gate_m`` in range from every
    target is left out (a false track)."""
    by_site = defaultdict(list)
    for r in reports:
        if r.measured:
            by_site[r.site].append(r)
    out = {}
    for p in positions:
        mine = by_site.get(p.name, [])
        truth = truth_at(truth_rows, [r.time_s for r in mine])
        errors = []
        for k, r in enumerate(mine):
            points = np.array([pos[k] for pos, valid in truth.values() if valid[k]]).reshape(-1, 2)
            if not len(points):
                continue
            miss = np.abs(p.range_m(points[:, 0], points[:, 1]) - r.range_m)
            if miss.min() <= gate_m:
                errors.append(float(np.hypot(*(p.boresight_point(r.range_m)
                                                - points[int(np.argmin(miss))]))))
        out[p.name] = {"reports": len(errors),
                       "rms_error_m": float(np.sqrt(np.mean(np.square(errors)))) if errors else None}
    return out


def score(rows, truth_rows, *, c_m=OSPA_C_M):
    """Scores of ``rows`` (``system_tracks.csv`` rows) against ``truth_rows``."""
    by_time = defaultdict(list)
    for row in rows:
        by_time[row["time_s"]].append(row)
    times = sorted(by_time)
    truth = truth_at(truth_rows, times)
    targets = sorted(truth)
    ospa_m, gospa_m, missed, false = [], [], [], []
    on = {i: [] for i in targets}
    errors = {i: [] for i in targets}
    fused = {i: [] for i in targets}
    for k, t in enumerate(times):
        shown = [i for i in targets if truth[i][1][k]]
        x = np.array([truth[i][0][k] for i in shown]).reshape(-1, 2)
        y = np.array([[r["east_m"], r["north_m"]] for r in by_time[t]]).reshape(-1, 2)
        ospa_m.append(ospa(x, y, c=c_m))
        g = gospa(x, y, c=c_m)
        gospa_m.append(g.distance)
        missed.append(g.missed)
        false.append(g.false)
        for i, j in assigned_pairs(x, y, c=c_m):
            on[shown[i]].append(by_time[t][j]["system_track_id"])
            errors[shown[i]].append(float(np.hypot(*(x[i] - y[j]))))
            if "+" in by_time[t][j]["sites"]:
                fused[shown[i]].append(errors[shown[i]][-1])
    def rms(values):
        return float(np.sqrt(np.mean(np.square(values)))) if values else None

    per_target = []
    for i in targets:
        ids = on[i]
        per_target.append({
            "target": i, "steps_on": len(ids), "track_ids": sorted(set(ids)),
            "swaps": int(sum(a != b for a, b in zip(ids, ids[1:]))),
            "rms_error_m": rms(errors[i]), "fused_steps": len(fused[i]),
            "fused_rms_error_m": rms(fused[i])})
    return {"c_m": c_m, "p": 1, "steps": len(times),
            "mean_ospa_m": float(np.mean(ospa_m)) if times else None,
            "mean_gospa_m": float(np.mean(gospa_m)) if times else None,
            "ospa_m": ospa_m, "gospa_m": gospa_m, "gospa_missed": missed, "gospa_false": false,
            "targets": per_target}
