"""Resources and Fmax of single blocks on the ECP5-85F, out of context, ports bare.

Usage: ``python bench/bench_ecp5_blocks.py [--seeds 1 2 3] [--build DIR] [BLOCK ...]``
(default: every block, seeds 1-3, ``build/ecp5_blocks``). Each block's Verilog
(Amaranth) goes through Yosys ``synth_ecp5`` and then
``nextpnr-ecp5 --85k --package CABGA381 --freq 200 --out-of-context`` once per
seed (no IO buffers: the ports stay bare). Writes
``bench/results/ecp5_blocks.json``::

    tool_versions   {PyPI distribution: version}
    flow            the fixed options of the two tools
    blocks          {name: {component, parameters, seeds: {seed: {fmax_mhz,
                     utilization}}, fmax_mhz_median, utilization (of the
                     median seed), synth_cells (Yosys stat), goal_mhz, goal_met,
                     build_seconds, ok, error}}

With block names given, the other blocks keep their entries. ``goal_mhz`` is
the Fmax the block is meant to reach in this flow, where one is set.
"""

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

from amaranth.back import verilog

from amaradar.boards.toolchain import read_report, tool_command, tool_versions
from amaradar.hdl.compress.fft import FFT
from amaradar.hdl.detect.ca_cfar import CaCfar
from amaradar.hdl.detect.cfar import Cfar
from amaradar.hdl.detect.plot_extractor import PlotExtractor
from amaradar.hdl.doppler.corner_turn import CornerTurn
from amaradar.hdl.doppler.doppler_filter import DopplerFilter
from amaradar.hdl.doppler.mti import MtiCanceller
from amaradar.hdl.track.tables import TrackerConfig
from amaradar.hdl.track.tracker import Tracker
from amaradar.sim.models.doppler.doppler_filter import doppler_window
from amaradar.sim.models.track.tracker import tracker_radar
from amaradar.sim.world.scenario import load_scenario

RESULTS = Path(__file__).parent / "results" / "ecp5_blocks.json"
SYNTH = "synth_ecp5 -top top"
NEXTPNR = ("--85k", "--package", "CABGA381", "--freq", "200", "--out-of-context",
           "--timing-allow-fail")


def _tracker(**parameters):
    radar = tracker_radar(load_scenario().radar)
    return Tracker(TrackerConfig(radar=radar, max_tracks=parameters["max_tracks"],
                                 max_plots=parameters["max_plots"]), power_bits=parameters["power_bits"])


def blocks():
    """name -> (make(**parameters), parameters, goal_mhz or None). The ULX3S's sizes: 4096
    range bins, 16 pulses, 18-bit compressed samples, 20-bit Doppler bins (40-bit power)."""
    window = tuple(int(w) for w in doppler_window("hamming", 16))
    cfar = dict(range_cells=4096, doppler_cells=16, max_reference_cells=16, max_guard_cells=3,
                power_width=40)
    return {
        "fft_sdf_1024": (FFT, dict(n=1024, width=16, twiddle_width=16), 125),
        "ca_cfar_4096_r16_g3": (CaCfar, dict(line_length=4096, reference_cells=16, guard_cells=3,
                                             power_width=36), 125),
        "corner_turn_4096x16": (CornerTurn, dict(line_length=4096, pulses=16, width=18), None),
        "mti_three_pulse": (MtiCanceller, dict(width=18, mode="three_pulse"), None),
        "doppler_filter_16": (DopplerFilter, dict(pulses=16, width=18, window=window,
                                                  output_width=20), None),
        "cfar_ca_go_so_2d": (Cfar, dict(cfar, types=("ca", "go", "so"),
                                        max_doppler_reference_cells=2,
                                        max_doppler_guard_cells=1), 125),
        "cfar_os": (Cfar, dict(cfar, types=("os",)), 125),
        "plot_extractor_16": (PlotExtractor, dict(range_bits=12, doppler_bins=16, power_width=40,
                                                  max_clusters=16), None),
        "tracker_32x32": (_tracker, dict(max_tracks=32, max_plots=32, power_bits=40), None),
    }


def _synth(component, build_dir):
    (build_dir / "top.v").write_text(verilog.convert(component, name="top"))
    subprocess.run([tool_command("yosys"), "-q", "-l", "synth.log", "-p",
                    f"read_verilog top.v; {SYNTH}; tee -q -o stat.json stat -json; "
                    "write_json top.json"], cwd=build_dir, check=True)
    stat = json.loads((build_dir / "stat.json").read_text())
    design = stat.get("design") or next(iter(stat["modules"].values()))
    return dict(sorted(design["num_cells_by_type"].items()))


def _place_and_route(build_dir, seed):
    report = build_dir / f"report-{seed}.json"
    subprocess.run([tool_command("nextpnr-ecp5"), *NEXTPNR, "--seed", str(seed), "--json",
                    "top.json", "--report", report.name, "-l", f"nextpnr-{seed}.log", "-q"],
                   cwd=build_dir, check=True)
    result = read_report(report)
    clock = result["clocks"].get("clk") or next(iter(result["clocks"].values()))
    return {"fmax_mhz": clock["achieved_mhz"], "utilization": result["utilization"]}


def build(name, make, parameters, goal, build_root, seeds):
    build_dir = Path(build_root) / name
    build_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    component = make(**parameters)
    entry = {"component": type(component).__name__,
             "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in parameters.items()},
             "goal_mhz": goal}
    try:
        entry["synth_cells"] = _synth(component, build_dir)
        runs = {seed: _place_and_route(build_dir, seed) for seed in seeds}
    except subprocess.CalledProcessError as e:
        return {**entry, "ok": False, "error": f"{e.cmd[0]} failed (logs in {build_dir})",
                "build_seconds": round(time.monotonic() - start, 1)}
    median = statistics.median_low(r["fmax_mhz"] for r in runs.values())
    middle = next(r for r in runs.values() if r["fmax_mhz"] == median)
    used = {kind: u for kind, u in middle["utilization"].items() if u["used"]}
    return {**entry, "seeds": runs, "fmax_mhz_median": median, "utilization": used,
            "goal_met": None if goal is None else median >= goal,
            "build_seconds": round(time.monotonic() - start, 1), "ok": True, "error": None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[], *blocks()], metavar="BLOCK")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--build", default="build/ecp5_blocks")
    args = parser.parse_args()
    table = blocks()
    previous = json.loads(RESULTS.read_text())["blocks"] if RESULTS.exists() else {}
    results = {name: previous[name] for name in previous if name in table}
    for name in args.names or table:
        print(f"{name}: synthesis, place and route, seeds {args.seeds}", flush=True)
        results[name] = build(name, *table[name], args.build, args.seeds)
        entry = results[name]
        print(f"{name}: {entry.get('fmax_mhz_median')} MHz median, {entry.get('utilization')}",
              flush=True)
        # after every block, so that an interrupted run keeps what it measured
        RESULTS.write_text(json.dumps({"tool_versions": tool_versions(),
                                       "flow": {"yosys": SYNTH, "nextpnr-ecp5": " ".join(NEXTPNR)},
                                       "blocks": results}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
