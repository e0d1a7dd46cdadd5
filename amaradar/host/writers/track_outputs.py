"""The files ``amaradar sim`` writes of the tracker's reports (a ``[doppler]`` scenario).

tracks.csv
    ``cpi,time_s,track_id,status,range_m,radial_velocity_mps`` — one row per live
    track per CPI, in the tracker's report order (by track slot). ``status`` is
    ``tentative``, ``confirmed`` or ``coasting``; ``time_s`` is the CPI's middle
    pulse ``cpi * M + M // 2`` times the PRI; ``range_m = c / 2 * (range_pos / 256 -
    (N - 1)) / fs``, the track's range after its update (corrected for the range-
    Doppler coupling once unfolded), the matched filter's delay removed;
    ``radial_velocity_mps`` the track's range rate, unambiguous once unfolded
    (negative closing).
tracks.png
    Tracks against truth over the run: range, and range rate.
"""

import csv

import numpy as np

from ...sim.world.plot_metrics import plot_truth
from .plot_outputs import cpi_columns, pyplot
from .rows import TRACK_CSV_COLUMNS, TRACK_STATUS_NAMES, track_row, track_velocity_mps

__all__ = ["track_columns", "write_tracks", "plot_tracks"]

COLOURS = 10     # matplotlib's default colour cycle, C0 to C9


def track_columns(scenario, tracks):
    """The physical columns of ``tracks``: ``time_s``, ``range_m``, ``radial_velocity_mps``."""
    r = scenario.radar
    return {**cpi_columns(scenario, tracks),
            "radial_velocity_mps": track_velocity_mps(np.asarray(tracks["range_rate"]),
                                                      r.pulses_per_cpi, r.line_samples)}


def write_tracks(path, scenario, tracks):
    """``tracks.csv`` of a range-Doppler run (schema above)."""
    columns = track_columns(scenario, tracks)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(TRACK_CSV_COLUMNS)
        for k in range(len(tracks["cpi"])):
            out.writerow(track_row(tracks["cpi"][k], columns["time_s"][k],
                                   tracks["track_id"][k], tracks["status"][k],
                                   columns["range_m"][k], columns["radial_velocity_mps"][k]))


def plot_tracks(path, scenario, tracks):
    """Tracks against truth: range and range rate over time, one colour per track id
    (the ten colours of the cycle taken in turn), tentative reports hollow. The tracks
    of one colour are drawn together, so the figure's size stays bounded however many
    tracks a long run starts."""
    plt = pyplot()
    columns = track_columns(scenario, tracks)
    truth = plot_truth(scenario)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for tid in range(len(scenario.targets)):
        for ax, key, scale in ((top, "range_m", 1e-3), (bottom, "velocity_mps", 1)):
            ax.plot(truth["time_s"][tid], truth[key][tid] * scale, "-", color="k", alpha=0.5,
                    lw=2, label="truth" if tid == 0 else None)
    status = np.asarray(tracks["status"])
    ids = np.asarray(tracks["track_id"])
    unique = np.unique(ids)
    for colour_index in range(min(COLOURS, len(unique))):
        mine_ids = unique[colour_index::COLOURS]
        colour = f"C{colour_index}"
        label = f"track {mine_ids[0]}" if len(mine_ids) == 1 else \
            f"tracks {mine_ids[0]}, {mine_ids[1]}{', ...' if len(mine_ids) > 2 else ''} ({len(mine_ids)})"
        for ax, key, scale in ((top, "range_m", 1e-3), (bottom, "radial_velocity_mps", 1)):
            ax.plot(*_joined(columns["time_s"], columns[key] * scale, ids, mine_ids), "-",
                    color=colour, lw=1)
            for code, name in enumerate(TRACK_STATUS_NAMES):
                shown = np.isin(ids, mine_ids) & (status == code)
                ax.plot(columns["time_s"][shown], columns[key][shown] * scale,
                        "o" if name != "coasting" else "s", color=colour, ms=4,
                        mfc="none" if name == "tentative" else colour,
                        label=label if ax is top and code == 1 else None)
    top.set_ylabel("range (km)")
    top.set_title("Tracks against truth (hollow: tentative, square: coasting)")
    bottom.set_ylabel("range rate (m/s)")
    bottom.set_xlabel("time (s)")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.legend(loc="upper right", fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _joined(x, y, ids, chosen):
    """``x``, ``y`` of the reports of the tracks ``chosen``, track after track, a NaN
    between two tracks so that one line draws them apart."""
    parts_x, parts_y = [], []
    for track_id in chosen:
        mine = ids == track_id
        parts_x += [x[mine], [np.nan]]
        parts_y += [y[mine], [np.nan]]
    return np.concatenate(parts_x[:-1]), np.concatenate(parts_y[:-1])
