"""The sweep's PNGs: Pd vs SNR with theory, measured vs design Pfa, OSPA/GOSPA vs
false plots; every point with its 95 % interval.

Points are drawn in series: one series per combination of the grid keys other
than the figure's x axis.
"""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["write_sweep_figures"]

SNR_KEY = "target.0.snr_db"
PFA_KEY = "cfar.pfa"


def _series(rows, keys, x_key):
    """Rows grouped by the values of the keys other than ``x_key``, sorted by x."""
    others = [k for k in keys if k != x_key]
    groups = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in others), []).append(row)
    for label, members in groups.items():
        name = ", ".join(f"{k} = {v}" for k, v in zip(others, label)) or "all points"
        yield name, sorted(members, key=lambda r: r["x"])


def _errorbar(ax, members, name, column, **style):
    x = [r["x"] for r in members]
    y = [r[column] for r in members]
    err = [[max(0.0, r[column] - r[f"{column}_lo"]) if math.isfinite(r[f"{column}_lo"]) else 0.0
            for r in members],
           [max(0.0, r[f"{column}_hi"] - r[column]) if math.isfinite(r[f"{column}_hi"]) else 0.0
            for r in members]]
    return ax.errorbar(x, y, yerr=err, capsize=3, label=name, **style)


def _save(fig, ax, path, title, xlabel, ylabel):
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pd_figure(path, rows, keys, theory):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, members in _series(rows, keys, SNR_KEY):
        line = _errorbar(ax, members, name, "pd", fmt="o")
        curve = theory(members[0])
        if curve is not None:
            ax.plot(*curve, color=line.lines[0].get_color(), lw=1,
                    label=f"theory ({name})")
    _save(fig, ax, path, "Pd vs SNR (95 % intervals)", "target SNR per sample (dB)", "Pd")


def _pfa_figure(path, rows, keys):
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, members in _series(rows, keys, PFA_KEY):
        _errorbar(ax, members, name, "pfa", fmt="o")
    design = sorted({r["x"] for r in rows})
    ax.plot(design, design, "k--", lw=1, label="measured = design")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _save(fig, ax, path, "Measured vs design Pfa (95 % intervals)", "design Pfa", "measured Pfa")


def _ospa_figure(path, rows, figures):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    members = sorted(rows, key=lambda r: r["x"])
    for column in ("ospa", "gospa"):
        if column in figures:
            _errorbar(ax, members, column.upper(), column, fmt="o-")
    _save(fig, ax, path, "OSPA / GOSPA of each CPI's plots (cut-off 5 cells, p = 1)",
          "expected false plots per CPI (design Pfa x cells)", "distance (cells)")


def write_sweep_figures(out_dir, rows, keys, figures, *, false_per_look, theory):
    """Write the PNGs that the figures and the grid allow; return their names.

    ``theory(row)`` gives ``(snr_db, pd)`` arrays of the theoretical curve of the
    series that ``row`` belongs to (or None); ``false_per_look(row)`` the expected
    false plots per CPI of a point.
    """
    written = []
    if "pd" in figures and SNR_KEY in keys:
        _pd_figure(out_dir / "pd_vs_snr.png", [dict(r, x=r[SNR_KEY]) for r in rows], keys, theory)
        written.append("pd_vs_snr.png")
    if "pfa" in figures and PFA_KEY in keys:
        _pfa_figure(out_dir / "pfa.png", [dict(r, x=r[PFA_KEY]) for r in rows], keys)
        written.append("pfa.png")
    if "ospa" in figures or "gospa" in figures:
        _ospa_figure(out_dir / "ospa.png", [dict(r, x=false_per_look(r)) for r in rows], figures)
        written.append("ospa.png")
    return written
