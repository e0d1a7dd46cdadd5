"""Speed-up of `amaradar sweep` on the local Dask cluster, and the cost of a task.

Runs the same sweep, the shipped ``pd_vs_snr.toml`` at 2 runs a point (two tasks
a point, each one 64-CPI scenario, reference engine), on a ``LocalCluster`` of
1 and of 2 worker processes (one thread each) in one run; each from an empty
output folder, the cluster's start excluded. Reports the wall time of each, the
speed-up ratio, the tasks' own time (summed on the workers), and two overheads:

- ``empty_task_s``: the round trip of a task that does nothing (submit, schedule,
  run, gather), from 200 such tasks on the 2-worker cluster;
- ``sweep_overhead_per_task_s``: ``(workers * wall - sum of task times) / tasks``,
  the time a worker slot spent per task outside ``run_task`` (scheduling,
  transfer, the client writing each point and the report's theory and PNGs).

The machine is shared: its load average is recorded with the figures.
Writes bench/results/sweep.json. Usage: ``python3 bench/bench_sweep.py``.
"""

import dataclasses
import json
import tempfile
import time
from importlib import resources
from pathlib import Path

from distributed import Client, LocalCluster

from amaradar.host.sweep import run_sweep
from amaradar.host.sweep_file import load_sweep
from machine import machine

RUNS = 2
EMPTY_TASKS = 200


def _nothing(i):
    return i


def _timed_sweep(sweep, workers):
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            report = run_sweep(sweep, client=client, out_dir=Path(out), progress=False)
            wall = time.perf_counter() - t0
        empty = None
        if workers > 1:
            t0 = time.perf_counter()
            client.gather([client.submit(_nothing, i, pure=False) for i in range(EMPTY_TASKS)])
            empty = (time.perf_counter() - t0) / EMPTY_TASKS
    tasks = report["points"]["computed"] * sweep.runs
    task_s = report["timings"]["task_s_total"]
    return {"workers": workers, "wall_s": wall, "tasks": tasks, "task_s_total": task_s,
            "sweep_overhead_per_task_s": (workers * wall - task_s) / tasks,
            "empty_task_s": empty}


def main():
    path = resources.files("amaradar").joinpath("sweeps/pd_vs_snr.toml")
    sweep = dataclasses.replace(load_sweep(path), runs=RUNS)
    results = {"machine_before": machine(), "sweep": "amaradar/sweeps/pd_vs_snr.toml",
               "runs_per_point": RUNS, "points": len(sweep.points())}
    one = _timed_sweep(sweep, 1)
    two = _timed_sweep(sweep, 2)
    results.update(one_worker=one, two_workers=two, speed_up=one["wall_s"] / two["wall_s"],
                   empty_task_s=two["empty_task_s"], machine_after=machine())
    out = Path(__file__).parent / "results" / "sweep.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
