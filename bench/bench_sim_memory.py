"""Peak memory and time per CPI of ``amaradar sim`` against the run's length.

``amaradar sim`` streams a run block by block of CPIs, so its peak memory should not
grow with ``cpis`` and its time should grow linearly. This bench runs it as a
subprocess (``--quiet``) on two small scenarios, a range-Doppler one (tracker
included) and the same without ``[doppler]`` (range-only), with a 500-sample range
line and 16 pulses per CPI, at several lengths, on the reference engine (and on the
rtl engine at shorter lengths, after a warm-up run that builds the Verilator model
into the cache), and measures for each run:

- peak resident memory of the child (``os.wait4``'s ``ru_maxrss``);
- wall time, and CPU time (user + system, the child and the Verilator processes it
  waited for), which the other jobs of a shared machine disturb much less.

Time per CPI at a length ``N`` is ``(t(N) - t(8)) / (N - 8)`` of the CPU time: the
start-up (imports, the CFAR factor's solver, figures) cancels. Acceptance: peak memory at the longest
length within 1.5x of that at 8 CPIs, and the time per CPI at the longest length
within 20 % of that at the middle one. Writes bench/results/sim_memory.json.
Usage: ``python3 bench/bench_sim_memory.py`` (a few minutes on one core).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine

SCENARIO = """
[radar]
sample_rate_hz = 10e6
bandwidth_hz = 5e6
pulse_width_s = 5e-6
pri_s = 50e-6
carrier_hz = 435e6
pulses_per_cpi = 16
cpis = {cpis}
adc_bits = 12
noise_seed = 1
waveform = "lfm"
window = "hamming"

[cfar]
reference_cells = 8
guard_cells = 2
pfa = 1e-4

[[target]]
range_m = 5000.0
radial_velocity_mps = -300.0
snr_db = 5.0

[[target]]
range_m = 3000.0
radial_velocity_mps = 150.0
snr_db = 10.0
{doppler}"""

DOPPLER = """
[doppler]
window = "hamming"
"""

#: (scenario, engine, lengths in CPIs): the first length is the base of the ratios.
RUNS = [
    ("range_doppler", "reference", (8, 1000, 4000)),
    ("range_only", "reference", (8, 1000, 4000)),
    ("range_doppler", "rtl", (8, 500, 2000)),
]


def run_sim(folder, kind, engine, cpis):
    """One ``amaradar sim`` child: its peak RSS (bytes), wall and CPU time (s)."""
    path = folder / f"{kind}_{cpis}.toml"
    path.write_text(SCENARIO.format(cpis=cpis, doppler=DOPPLER if kind == "range_doppler" else ""))
    out = folder / f"out_{kind}_{engine}_{cpis}"
    t0 = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "amaradar", "sim", "--scenario", str(path),
                              "--out", str(out), "--engine", engine, "--quiet"],
                             stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        raise SystemExit(f"amaradar sim ({kind}, {engine}, {cpis} CPIs) exited with {child.returncode}")
    report = json.loads((out / "report.json").read_text())
    return {"cpis": cpis, "peak_rss_bytes": usage.ru_maxrss * 1024, "seconds": seconds,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "samples": report["counts"]["samples"], "bit_exact": report["bit_exact"]}


def main():
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sim-memory-") as tmp:
        for kind, engine, lengths in RUNS:
            if engine == "rtl":          # the Verilator build, into the cache, not timed
                run_sim(Path(tmp), kind, engine, lengths[0])
            runs = []
            for cpis in lengths:
                run = run_sim(Path(tmp), kind, engine, cpis)
                runs.append(run)
                print(f"{kind:>13} {engine:>9} {cpis:>5} CPIs: peak RSS "
                      f"{run['peak_rss_bytes'] / 2**20:6.1f} MiB, {run['seconds']:7.1f} s, "
                      f"CPU {run['cpu_seconds']:7.1f} s",
                      flush=True)
            base, middle, longest = runs
            per_cpi = [(r["cpu_seconds"] - base["cpu_seconds"]) / (r["cpis"] - base["cpis"])
                       for r in (middle, longest)]
            entry = {
                "scenario": kind, "engine": engine, "runs": runs,
                "peak_rss_ratio": longest["peak_rss_bytes"] / base["peak_rss_bytes"],
                "seconds_per_cpi": {str(middle["cpis"]): per_cpi[0],
                                    str(longest["cpis"]): per_cpi[1]},
                "seconds_per_cpi_ratio": per_cpi[1] / per_cpi[0],
            }
            entry["meets"] = entry["peak_rss_ratio"] <= 1.5 and \
                abs(entry["seconds_per_cpi_ratio"] - 1) <= 0.2
            print(f"{kind:>13} {engine:>9}: peak RSS x{entry['peak_rss_ratio']:.2f} from "
                  f"{base['cpis']} to {longest['cpis']} CPIs; time per CPI "
                  f"{per_cpi[0] * 1e3:.1f} ms at {middle['cpis']}, {per_cpi[1] * 1e3:.1f} ms at "
                  f"{longest['cpis']} (x{entry['seconds_per_cpi_ratio']:.2f})", flush=True)
            results.append(entry)
    out = Path(__file__).parent / "results" / "sim_memory.json"
    out.write_text(json.dumps({"machine": machine(), "line_samples": 500, "pulses_per_cpi": 16,
                               "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
