"""`amaradar sweep`: Monte-Carlo sweeps of a scenario grid on Dask.

Each run of each grid point is a Dask task (:func:`amaradar.host.sweep_task.run_task`);
the runs of a point are summed into its results row
(:func:`amaradar.host.sweep_stats.point_row`) as soon as the last one returns, and
the row is written at once (:class:`amaradar.host.sweep_store.SweepStore`), so a
killed sweep resumes where it stopped: points already in ``results.parquet``
are skipped. Without a scheduler address the tasks run on a
``distributed.LocalCluster`` of worker processes on this machine.

``report.json`` holds the sweep, the rows with, for Pd, the Swerling 0 or 1 theory
(:mod:`amaradar.host.sweep_theory`) at each point and whether it lies in the
point's interval (for Swerling 1 also the theory given the amplitudes the runs
drew, which every point shares), and for Pfa whether the design Pfa does; with
the rtl engine, how many tasks were bit-exact.
"""

import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from .sweep_figures import SNR_KEY, write_sweep_figures
from .sweep_stats import CONFIDENCE, add_counts, point_row
from .sweep_store import SweepStore
from .sweep_task import OSPA_CUTOFF_CELLS, pd_looks, run_task
from .sweep_theory import cfar_pd, integration_gain_db, swerling1_pd_given
from ..sim.chain import chain_config, transmit_pulse
from ..sim.models.detect.cfar import reference_count
from ..sim.world.scenario import parse_scenario, target_fluctuation

__all__ = ["run_sweep", "connect", "REPORT_SCHEMA"]

REPORT_SCHEMA = 1
CONNECT_TIMEOUT_S = 10


class _Progress:
    """One status line on stderr: points done, their rate, the time left."""

    def __init__(self, total, enabled):
        self.total, self.enabled = total, enabled
        self.start = time.perf_counter()

    def show(self, done):
        if not self.enabled or self.total == 0:
            return
        elapsed = time.perf_counter() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        left = f"{(self.total - done) / rate:,.0f} s left" if rate > 0 else "time left unknown"
        print(f"\rsweep: {done} of {self.total} points ({rate * 60:.1f} points/min, {left})",
              end="\n" if done == self.total else "", file=sys.stderr, flush=True)


@contextlib.contextmanager
def connect(scheduler=None, workers=None):
    """A Dask client, as a context: on the cluster at ``scheduler``, or on a new
    ``LocalCluster`` of ``workers`` processes (default: one per core), closed on
    exit. Yields ``(client, description)``.

    Raises ``ValueError`` (one line) when no scheduler answers at ``scheduler``.
    """
    from distributed import Client, LocalCluster
    if scheduler is None:
        workers = workers or os.cpu_count() or 1
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client, f"local cluster of {workers} worker processes"
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, ValueError, TypeError) as e:
        detail = str(e).splitlines()[0] if str(e) else "no detail"
        raise ValueError(f"--scheduler {scheduler!r}: no Dask scheduler answers there "
                         f"({type(e).__name__}: {detail})") from None
    with client:
        yield client, f"scheduler at {scheduler}"


def run_sweep(sweep, *, client, out_dir, engine="reference", progress=True, on_point=None,
              source=None, cluster=None):
    """Run ``sweep`` (:class:`~amaradar.host.sweep_file.Sweep`) on the Dask ``client``.

    Parameters
    ----------
    out_dir : path
        Where ``results.parquet``, ``tasks.parquet``, ``report.json`` and the PNGs go.
    engine : {"reference", "rtl"}
    progress : bool
        Show the progress line on stderr.
    on_point : callable, optional
        Called with the number of points done in this call after each point is written.
    source, cluster : str, optional
        The sweep file and the cluster's description, for the report.

    Returns
    -------
    dict
        The report (also written to ``report.json``).
    """
    from distributed import as_completed
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    store = SweepStore(out_dir, sweep.columns, sweep.runs)
    done = store.done(sweep.keys)
    points = sweep.points()
    pending = [i for i, p in enumerate(points) if p not in done]
    futures = {}
    for i in pending:
        for run in range(sweep.runs):
            future = client.submit(run_task, sweep.scenario_doc(points[i], run), engine, pure=False)
            futures[future] = (i, run)
    bar = _Progress(len(pending), progress)
    bar.show(0)
    results = {i: {} for i in pending}
    finished = 0
    for future in as_completed(futures):
        i, run = futures.pop(future)
        results[i][run] = future.result()
        if len(results[i]) < sweep.runs:
            continue
        runs = [c for _, c in sorted(results.pop(i).items())]
        row = point_row(sweep.keys, points[i], sweep.runs, sweep.figures, add_counts(runs))
        store.add(row, [dict(point=i, run=r, bit_exact=c["bit_exact"], seconds=c["seconds"])
                        for r, c in enumerate(runs)])
        finished += 1
        bar.show(finished)
        if on_point is not None:
            on_point(finished)
    report = _report(sweep, store, engine=engine, computed=len(pending), source=source,
                     cluster=cluster, wall_s=time.perf_counter() - t0)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_sweep_figures(out_dir, store.rows, sweep.keys, sweep.figures,
                        false_per_look=lambda row: _false_per_look(sweep, row),
                        theory=lambda row: _theory_curve(sweep, row))
    tmp = out_dir / ".report.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, allow_nan=False, default=_json_default) + "\n")
    os.replace(tmp, out_dir / "report.json")
    return report


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _clean(value):
    """NaN as null (JSON has no NaN)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _row_scenario(sweep, row):
    return parse_scenario(sweep.scenario_doc(tuple(row[k] for k in sweep.keys), 0))


def _detector(scenario):
    """``(pd(snr_db, powers=None), config)``: Pd of target 0 (Swerling 0 or 1, as it
    is) at per-sample SNR ``snr_db``, for the textbook factor of the design Pfa on
    independent reference cells; with ``powers`` (the amplitude power of each look),
    the Pd given those amplitudes."""
    config = chain_config(scenario)
    c = scenario.cfar
    if config.doppler:
        n = reference_count(c.reference_cells, c.guard_cells, c.doppler_reference_cells,
                            c.doppler_guard_cells)
        window = np.asarray(config.doppler_window, dtype=np.float64)
    else:
        n, window = 2 * c.reference_cells, None
    gain = integration_gain_db(transmit_pulse(scenario.radar), config.taps, window)
    os_k = c.os_k if c.type == "os" else None

    def pd(snr_db, powers=None):
        snr = 10 ** ((snr_db + gain) / 10)
        if powers is not None:
            return swerling1_pd_given(snr, powers, c.type, config.cfar_alpha_white, n, os_k=os_k)
        return cfar_pd(snr, c.type, config.cfar_alpha_white, n, os_k=os_k,
                       swerling=scenario.targets[0].swerling)
    return pd, config


def _drawn_powers(sweep, row):
    """The amplitude power of target 0 at every look the point's runs counted for Pd
    (a CPI of the range-Doppler chain, a range line of the range-only chain)."""
    values = tuple(row[k] for k in sweep.keys)
    powers = []
    for run in range(row["runs"]):
        scenario = parse_scenario(sweep.scenario_doc(values, run))
        r = scenario.radar
        amplitude = target_fluctuation(r, scenario.targets[0], 0)
        if not scenario.doppler:
            amplitude = np.repeat(amplitude, r.pulses_per_cpi)
        powers.append(np.abs(amplitude[pd_looks(scenario, 0)]) ** 2)
    return np.concatenate(powers)


def _theory_curve(sweep, row):
    if SNR_KEY not in sweep.keys:
        return None
    pd, _ = _detector(_row_scenario(sweep, row))
    snr = np.linspace(min(sweep.grid[SNR_KEY]) - 1, max(sweep.grid[SNR_KEY]) + 1, 61)
    return snr, [pd(s) for s in snr]


def _false_per_look(sweep, row):
    scenario = _row_scenario(sweep, row)
    looks = row["runs"] * (scenario.radar.cpis if scenario.doppler else scenario.radar.lines)
    return scenario.cfar.pfa * row["cells"] / looks


def _report(sweep, store, *, engine, computed, source, cluster, wall_s):
    rows, checks = [], {"pd_within": 0, "pd_points": 0, "pfa_within": 0, "pfa_points": 0,
                        "pd_given_draws_within": 0, "pd_given_draws_points": 0}
    for row in store.rows:
        scenario = _row_scenario(sweep, row)
        out = {k: _clean(v) for k, v in row.items()}
        if "pd" in sweep.figures:
            pd, _ = _detector(scenario)
            theory = pd(scenario.targets[0].snr_db)
            within = bool(row["pd_lo"] <= theory <= row["pd_hi"])
            out.update(pd_theory=theory, pd_theory_swerling=scenario.targets[0].swerling,
                       pd_theory_within=within)
            checks["pd_points"] += 1
            checks["pd_within"] += within
            if scenario.targets[0].swerling == 1 and math.isfinite(row["pd"]):
                given = pd(scenario.targets[0].snr_db, _drawn_powers(sweep, row))
                within = bool(row["pd_lo"] <= given <= row["pd_hi"])
                out.update(pd_theory_given_draws=given, pd_theory_given_draws_within=within)
                checks["pd_given_draws_points"] += 1
                checks["pd_given_draws_within"] += within
        if "pfa" in sweep.figures:
            within = bool(row["pfa_lo"] <= scenario.cfar.pfa <= row["pfa_hi"])
            out.update(pfa_design=scenario.cfar.pfa, pfa_design_within=within)
            checks["pfa_points"] += 1
            checks["pfa_within"] += within
        rows.append(out)
    exact = [t["bit_exact"] for t in store.tasks if t["bit_exact"] is not None]
    seconds = [t["seconds"] for t in store.tasks]
    return {
        "schema": REPORT_SCHEMA,
        "sweep": None if source is None else str(source),
        "engine": engine,
        "cluster": cluster,
        "runs": sweep.runs,
        "figures": list(sweep.figures),
        "grid": {k: list(v) for k, v in sweep.grid.items()},
        "confidence": CONFIDENCE,
        "base": parse_scenario(sweep.base).as_dict(),
        "points": {"total": len(sweep.points()), "computed": computed,
                   "skipped": len(store.rows) - computed},
        "bit_exact": None if not exact else {"tasks": len(exact), "bit_exact": sum(exact),
                                             "all": all(exact)},
        "theory": {"pd": "Swerling 0 (constant amplitude) or Swerling 1 (Rayleigh, new each "
                         "CPI), as target 0 is; CFAR on independent exponential reference cells "
                         "at the textbook factor for the design Pfa, target on a range sample "
                         "and a Doppler bin centre",
                   "pd_given_draws": "Swerling 1: the mean of the Swerling 0 Pd over the "
                                     "amplitudes the point's runs drew (every point of the "
                                     "sweep draws the same ones)"},
        "ospa_cutoff_cells": OSPA_CUTOFF_CELLS,
        "checks": checks,
        "timings": {"wall_s": wall_s, "task_s_total": float(sum(seconds))},
        "rows": rows,
    }
