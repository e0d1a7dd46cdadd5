"""The files ``amaradar sim`` writes for the range-Doppler chain (a ``[doppler]`` scenario).

detections.csv
    ``cpi,pulse,time_s,range_m,radial_velocity_mps,range_bin,doppler_bin,power_db,threshold_db``
    — one row per plot per CPI. ``pulse`` is empty; ``time_s`` is the CPI's middle
    pulse ``cpi * M + M // 2`` times the PRI; ``range_m = c / 2 * (range_pos / 256
    - (N - 1)) / fs`` from the interpolated range cell, the matched filter's delay
    removed; ``radial_velocity_mps = -lambda f_d / 2`` from the interpolated
    Doppler bin (``f_d = (bin - M/2) PRF / M``), folded into ``[-v_u, v_u)``;
    ``range_bin``, ``doppler_bin`` the cells nearest the interpolated position;
    powers in dB re one power LSB of the Doppler power detector.
range_doppler.png
    The range-Doppler map of one CPI (dB), plots and truth marked.
plots.png
    Plots against truth over the run: range and radial velocity.
"""

import csv

import numpy as np

from ...sim.world.plot_metrics import plot_truth
from ...spec.records import POSITION_FRAC
from .rows import PLOT_CSV_COLUMNS, detection_range_m, plot_row, plot_velocity_mps

__all__ = ["cpi_columns", "plot_columns", "write_plots", "pyplot", "plot_range_doppler", "plot_tracks_of_plots"]


def cpi_columns(scenario, records):
    """``time_s`` (the CPI's middle pulse) and ``range_m`` (the interpolated range cell,
    the matched filter's delay removed) of records with ``cpi`` and ``range_pos``: plots
    and tracks alike."""
    r = scenario.radar
    m = r.pulses_per_cpi
    cpi = np.asarray(records["cpi"], dtype=np.int64)
    return {
        "time_s": (cpi * m + m // 2) * r.pri_s,
        "range_m": detection_range_m(np.asarray(records["range_pos"]) / (1 << POSITION_FRAC),
                                     r.pulse_samples, r.sample_rate_hz),
    }


def plot_columns(scenario, plots):
    """The physical columns of ``plots``: ``time_s``, ``range_m``, ``radial_velocity_mps``."""
    r = scenario.radar
    return {**cpi_columns(scenario, plots),
            "radial_velocity_mps": plot_velocity_mps(np.asarray(plots["doppler_pos"]),
                                                     r.pulses_per_cpi, r.pri_s, r.wavelength_m)}


def write_plots(path, scenario, plots):
    """``detections.csv`` of a range-Doppler run: one row per plot (schema above)."""
    columns = plot_columns(scenario, plots)
    m = scenario.radar.pulses_per_cpi
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(PLOT_CSV_COLUMNS)
        for k in range(len(plots["cpi"])):
            out.writerow(plot_row(plots["cpi"][k], columns["time_s"][k], columns["range_m"][k],
                                  columns["radial_velocity_mps"][k], plots["range_pos"][k],
                                  plots["doppler_pos"][k], m, int(plots["power"][k]),
                                  int(plots["threshold"][k])))


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no display)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_range_doppler(path, scenario, power_map, plots, cpi):
    """The range-Doppler map of CPI ``cpi`` (``power_map``: range bins x Doppler bins),
    its plots and the truth at its middle pulse."""
    plt = pyplot()
    r = scenario.radar
    m = r.pulses_per_cpi
    ranges = detection_range_m(np.arange(power_map.shape[0]), r.pulse_samples, r.sample_rate_hz)
    fig, ax = plt.subplots(figsize=(11, 5))
    image = 10 * np.log10(np.maximum(power_map, 1)).T
    extent = (ranges[0] / 1e3, ranges[-1] / 1e3, -0.5, m - 0.5)
    shown = ax.imshow(image, aspect="auto", origin="lower", extent=extent, cmap="viridis",
                      interpolation="nearest")
    fig.colorbar(shown, ax=ax, label="dB re 1 power LSB")
    mine = np.asarray(plots["cpi"]) == cpi
    ax.plot(plot_columns(scenario, plots)["range_m"][mine] / 1e3,
            np.asarray(plots["doppler_pos"])[mine] / (1 << POSITION_FRAC), "o", mfc="none",
            mec="red", ms=10, label="plots")
    truth = plot_truth(scenario)
    ax.plot(truth["range_m"][:, cpi] / 1e3, truth["doppler_bin"][:, cpi], "x", color="white",
            ms=8, label="truth")
    ax.set_xlabel("range (km)")
    ax.set_ylabel(f"Doppler bin (zero at {m // 2}; v_u = {r.unambiguous_velocity_mps:.1f} m/s)")
    ax.set_title(f"Range-Doppler map, CPI {cpi}")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_tracks_of_plots(path, scenario, plots):
    """Plots against truth over the run: range, and folded radial velocity."""
    plt = pyplot()
    r = scenario.radar
    columns = plot_columns(scenario, plots)
    truth = plot_truth(scenario)
    limit = r.unambiguous_velocity_mps
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    top.plot(columns["time_s"], columns["range_m"] / 1e3, ".", color="tab:red", label="plots")
    bottom.plot(columns["time_s"], columns["radial_velocity_mps"], ".", color="tab:red",
                label="plots")
    for tid in range(len(scenario.targets)):
        top.plot(truth["time_s"][tid], truth["range_m"][tid] / 1e3, "-", color="k", alpha=0.6,
                 label="truth" if tid == 0 else None)
        folded = (truth["velocity_mps"][tid] + limit) % (2 * limit) - limit
        bottom.plot(truth["time_s"][tid], folded, "-", color="k", alpha=0.6,
                    label="truth (folded)" if tid == 0 else None)
    top.set_ylabel("range (km)")
    top.set_title("Plots against truth")
    bottom.set_ylabel("radial velocity (m/s)")
    bottom.set_xlabel("time (s)")
    bottom.set_ylim(-limit, limit)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
