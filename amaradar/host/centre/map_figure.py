"""``map.png``: the centre's picture in the first site's frame."""

import math
from collections import defaultdict

import numpy as np

__all__ = ["write_map"]


def write_map(path, positions, rows, reports, truth_rows=None):
    """Sites and beams, truth paths, fused system tracks, and each site's single-site
    estimates (its range along its boresight), in km east and north of the first site."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 8))
    reach = max([r.range_m for r in reports] + [1e3]) * 1.1
    for p in positions:
        e, n = p.enu[:2] / 1e3
        ax.plot(e, n, "k^", ms=9)
        ax.annotate(p.name, (e, n), textcoords="offset points", xytext=(6, -12))
        for edge in (p.azimuth - p.half_beam, p.azimuth + p.half_beam):
            ax.plot([e, e + reach / 1e3 * math.sin(edge)], [n, n + reach / 1e3 * math.cos(edge)],
                    "k:", lw=0.8)
    by_site = defaultdict(list)
    for r in reports:
        if r.measured:
            by_site[r.site].append(r.range_m)
    named = {p.name: p for p in positions}
    for site, ranges in sorted(by_site.items()):
        points = np.array([named[site].boresight_point(r) for r in ranges[::5]]) / 1e3
        ax.plot(points[:, 0], points[:, 1], ".", ms=2, alpha=0.4,
                label=f"{site}: range along boresight")
    if truth_rows:
        paths = defaultdict(list)
        for row in truth_rows:
            paths[int(row["target"])].append((row["east_m"] / 1e3, row["north_m"] / 1e3))
        for i, (_, samples) in enumerate(sorted(paths.items())):
            e, n = np.array(samples).T
            ax.plot(e, n, "-", color="0.6", lw=3, label="truth" if i == 0 else None)
    tracks = defaultdict(list)
    for row in rows:
        tracks[row["system_track_id"]].append((row["east_m"] / 1e3, row["north_m"] / 1e3))
    for track_id, samples in sorted(tracks.items()):
        e, n = np.array(samples).T
        line, = ax.plot(e, n, "-", lw=1.2, label=f"system track {track_id}")
        ax.annotate(str(track_id), (e[-1], n[-1]), color=line.get_color())
    ax.set_xlabel("east of the first site (km)")
    ax.set_ylabel("north of the first site (km)")
    ax.set_aspect("equal")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.set_title("joint centre: sites, beams, truth, system tracks")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
