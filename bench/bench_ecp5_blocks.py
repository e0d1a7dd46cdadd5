"""Resources and Fmax of single blocks on the ECP5-85F (or the iCE40UP5K), one at a time.

Usage: ``python bench/bench_ecp5_blocks.py [--family ecp5|ice40] [--seeds 1 2 3]
[--build DIR] [BLOCK ...]`` (default: the ECP5, every block of the family, seeds
1-3, ``build/FAMILY_blocks``). Each block's Verilog (Amaranth) goes through Yosys
and nextpnr once per seed:

- ``ecp5``: ``synth_ecp5``, then ``nextpnr-ecp5 --85k --package CABGA381 --freq 200
  --out-of-context`` (no IO buffers: the ports stay bare);
- ``ice40``: ``synth_ice40 -dsp``, then ``nextpnr-ice40 --up5k --package sg48``,
  which has no out-of-context mode: the block sits in a harness whose only pins
  are the clock, the reset and one output (:class:`_PinHarness`, a few dozen
  logic cells of the figures).

Writes ``bench/results/FAMILY_blocks.json``::

    tool_versions   {PyPI distribution: version}
    flow            the fixed options of the two tools
    blocks          {name: {component, parameters, seeds: {seed: {fmax_mhz,
                     utilization}}, fmax_mhz_median, utilization (of the
                     median seed), synth_cells (Yosys stat), goal_mhz, goal_met,
                     build_seconds, ok, error, packed_utilization (what
                     nextpnr packed, from its log, when placement failed)}}

With block names given, the other blocks keep their entries. ``goal_mhz`` is
the Fmax the block is meant to reach in this flow, where one is set.
"""

import argparse
import json
import re
import statistics
import subprocess
import time
from pathlib import Path

from amaranth import Cat, Module, Signal, Value
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

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

RESULTS = Path(__file__).parent / "results"
# family -> Yosys script, nextpnr tool and its fixed options, whether the block needs pins
FLOWS = {
    "ecp5": ("synth_ecp5 -top top", "nextpnr-ecp5",
             ("--85k", "--package", "CABGA381", "--freq", "200", "--out-of-context",
              "--timing-allow-fail"), False),
    "ice40": ("synth_ice40 -dsp -top top", "nextpnr-ice40",
              ("--up5k", "--package", "sg48", "--freq", "50", "--pcf-allow-unconstrained",
               "--timing-allow-fail"), True),
}

_LFSR_BITS = 40
_LFSR_TAPS = (39, 37, 20, 18)   # x^40 + x^38 + x^21 + x^19 + 1, maximal length


class _PinHarness(wiring.Component):
    """``block`` with its inputs driven by a 40-bit LFSR (input bit k from LFSR bit
    ``k mod 40``) and the XOR of its outputs registered to ``seen``: every port is
    used, and the only pins are ``clk``, ``rst`` and ``seen``."""

    seen: Out(1)

    def __init__(self, block):
        super().__init__()
        self.block = block

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = block = self.block
        ports = [(member.flow, Value.cast(value))
                 for _, member, value in block.signature.flatten(block)]
        lfsr = Signal(_LFSR_BITS, init=1)
        m.d.sync += lfsr.eq(Cat(Cat(*(lfsr[t] for t in _LFSR_TAPS)).xor(), lfsr[:-1]))
        inputs = Cat(value for flow, value in ports if flow == In)
        m.d.comb += inputs.eq(Cat(lfsr[k % _LFSR_BITS] for k in range(len(inputs))))
        m.d.sync += self.seen.eq(Cat(value for flow, value in ports if flow == Out).xor())
        return m


def _tracker(**parameters):
    radar = tracker_radar(load_scenario().radar)
    return Tracker(TrackerConfig(radar=radar, max_tracks=parameters["max_tracks"],
                                 max_plots=parameters["max_plots"]), power_bits=parameters["power_bits"])


def ice40_blocks():
    """name -> (make(**parameters), parameters, goal_mhz or None) on the iCE40UP5K: the
    tracker at 8 tracks, 40-bit power as on the ULX3S (the iCEBreaker's chain is range-only;
    the tracker does not use the power); the goal is the iCEBreaker's 18 MHz clock."""
    return {f"tracker_8x{plots}": (_tracker, dict(max_tracks=8, max_plots=plots, power_bits=40), 18)
            for plots in (8, 16)}


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


BLOCKS = {"ecp5": blocks, "ice40": ice40_blocks}


def _synth(component, build_dir, script):
    (build_dir / "top.v").write_text(verilog.convert(component, name="top"))
    subprocess.run([tool_command("yosys"), "-q", "-l", "synth.log", "-p",
                    f"read_verilog top.v; {script}; tee -q -o stat.json stat -json; "
                    "write_json top.json"], cwd=build_dir, check=True)
    stat = json.loads((build_dir / "stat.json").read_text())
    design = stat.get("design") or next(iter(stat["modules"].values()))
    return dict(sorted(design["num_cells_by_type"].items()))


def _place_and_route(build_dir, seed, tool, options):
    report = build_dir / f"report-{seed}.json"
    subprocess.run([tool_command(tool), *options, "--seed", str(seed), "--json",
                    "top.json", "--report", report.name, "-l", f"nextpnr-{seed}.log", "-q"],
                   cwd=build_dir, check=True)
    result = read_report(report)
    clock = result["clocks"].get("clk") or next(iter(result["clocks"].values()))
    return {"fmax_mhz": clock["achieved_mhz"], "utilization": result["utilization"]}


def _placement_failure(log_path):
    """``error``: nextpnr's first ERROR line; ``packed_utilization``: the cells it packed,
    ``{kind: {used, available}}`` from the log (a run that fails writes no report)."""
    log = log_path.read_text()
    error = next((line for line in log.splitlines() if line.startswith("ERROR")), "no ERROR line")
    packed = re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%$",
                        log.partition("Device utilisation:")[2], re.M)
    return {"error": f"{error} ({log_path})",
            "packed_utilization": {kind: {"used": int(used), "available": int(available)}
                                   for kind, used, available in packed if int(used)}}


def build(name, make, parameters, goal, build_root, seeds, family):
    script, tool, options, pins = FLOWS[family]
    build_dir = Path(build_root) / name
    build_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    component = make(**parameters)
    entry = {"component": type(component).__name__,
             "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in parameters.items()},
             "goal_mhz": goal}
    runs = {}
    try:
        entry["synth_cells"] = _synth(_PinHarness(component) if pins else component, build_dir,
                                      script)
        for seed in seeds:
            runs[seed] = _place_and_route(build_dir, seed, tool, options)
    except subprocess.CalledProcessError as e:
        failure = {**entry, "ok": False, "error": f"{e.cmd[0]} failed (logs in {build_dir})"}
        if "synth_cells" in entry:
            failure.update(_placement_failure(build_dir / f"nextpnr-{seed}.log"))
        return {**failure, "build_seconds": round(time.monotonic() - start, 1)}
    median = statistics.median_low(r["fmax_mhz"] for r in runs.values())
    middle = next(r for r in runs.values() if r["fmax_mhz"] == median)
    used = {kind: u for kind, u in middle["utilization"].items() if u["used"]}
    return {**entry, "seeds": runs, "fmax_mhz_median": median, "utilization": used,
            "goal_met": None if goal is None else median >= goal,
            "build_seconds": round(time.monotonic() - start, 1), "ok": True, "error": None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="BLOCK")
    parser.add_argument("--family", choices=FLOWS, default="ecp5")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--build")
    args = parser.parse_args()
    table = BLOCKS[args.family]()
    unknown = [name for name in args.names if name not in table]
    if unknown:
        parser.error(f"no {args.family} block {unknown[0]!r}; choose from {', '.join(table)}")
    build_root = args.build or f"build/{args.family}_blocks"
    results_path = RESULTS / f"{args.family}_blocks.json"
    script, tool, options, _ = FLOWS[args.family]
    previous = json.loads(results_path.read_text())["blocks"] if results_path.exists() else {}
    results = {name: previous[name] for name in previous if name in table}
    for name in args.names or table:
        print(f"{name}: synthesis, place and route, seeds {args.seeds}", flush=True)
        results[name] = build(name, *table[name], build_root, args.seeds, args.family)
        entry = results[name]
        print(f"{name}: {entry.get('fmax_mhz_median')} MHz median, {entry.get('utilization')}",
              flush=True)
        # after every block, so that an interrupted run keeps what it measured
        results_path.write_text(json.dumps({"tool_versions": tool_versions(),
                                            "flow": {"yosys": script, tool: " ".join(options)},
                                            "blocks": results}, indent=2) + "\n")
    print(f"wrote {results_path}")


if __name__ == "__main__":
    main()
