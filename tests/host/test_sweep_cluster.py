"""`amaradar sweep` on real Dask clusters: a worker killed mid-sweep, a resumed
sweep, and a scheduler and worker started separately, as a user's cluster is."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster

from amaradar.cli import main
from amaradar.host.sweep import run_sweep
from amaradar.host.sweep_file import load_sweep
from test_sweep import COLUMNS, write_sweep


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_killed_worker_every_point_once_then_resume_skips_all(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, runs=4, cpis=8))
    out = tmp_path / "out"
    killed = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        def kill_one(done):
            if not killed:
                pids = client.run(os.getpid)
                assert len(pids) == 2
                # the worker with the most tasks in hand: they must run again elsewhere
                busy = max(client.processing().items(), key=lambda item: len(item[1]))
                assert busy[1], "no task was running when the worker was killed"
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append((pids[busy[0]], done))

        report = run_sweep(sweep, client=client, out_dir=out, progress=False, on_point=kill_one)
        assert killed and killed[0][1] == 1          # killed after the first of 4 points
        assert not _alive(killed[0][0])
        rows = pq.read_table(out / "results.parquet").to_pylist()
        assert sorted((r["cfar.type"], r["target.0.snr_db"]) for r in rows) == sweep.points()
        tasks = pq.read_table(out / "tasks.parquet").to_pylist()
        assert sorted((t["point"], t["run"]) for t in tasks) == [
            (p, r) for p in range(4) for r in range(4)]
        assert report["points"] == {"total": 4, "computed": 4, "skipped": 0}

        before = (out / "results.parquet").read_bytes()
        again = run_sweep(sweep, client=client, out_dir=out, progress=False,
                          on_point=lambda done: pytest.fail("a done point ran again"))
        assert again["points"] == {"total": 4, "computed": 0, "skipped": 4}
        assert (out / "results.parquet").read_bytes() == before
        assert again["rows"] == report["rows"]


def _dask(*args):
    return [str(Path(sys.executable).with_name("dask")), *args]


def test_sweep_on_a_separately_started_scheduler(tmp_path, capsys):
    scheduler_file = tmp_path / "scheduler.json"
    logs = open(tmp_path / "dask.log", "w")
    processes = [subprocess.Popen(_dask("scheduler", "--host", "127.0.0.1", "--port", "0",
                                        "--no-dashboard", "--scheduler-file", str(scheduler_file)),
                                  stdout=logs, stderr=logs)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        time.sleep(0.5)
        address = json.loads(scheduler_file.read_text())["address"]
        processes.append(subprocess.Popen(
            _dask("worker", "--scheduler-file", str(scheduler_file), "--nworkers", "1",
                  "--nthreads", "1", "--no-dashboard"), stdout=logs, stderr=logs))
        out = tmp_path / "out"
        status = main(["sweep", str(write_sweep(tmp_path, runs=1)), "--scheduler", address,
                       "--out", str(out)])
        assert status == 0
        assert f"scheduler at {address}" == json.loads((out / "report.json").read_text())["cluster"]
        assert pq.read_table(out / "results.parquet").column_names == COLUMNS
        assert "4 points computed, 0 already done" in capsys.readouterr().out
    finally:
        for p in reversed(processes):
            p.terminate()
            p.wait(timeout=30)
        logs.close()
