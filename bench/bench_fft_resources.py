"""Resources and Fmax of the FFT cores, out of context, with the YoWASP tools.

Usage: ``python bench/bench_fft_resources.py [BUILD_DIR] [TARGET ...]`` (default
``build/fft_resources``, every target). Writes ``bench/results/fft_resources.json``::

    tool_versions        {PyPI distribution: version}
    targets              {name: {device, core, parameters, clock_constraint_mhz,
                          fmax_mhz, met, utilization, cells, throughput,
                          build_seconds, ok, error}}

``utilization`` is nextpnr's ``--report`` (``{kind: {used, available}}``);
``cells`` is Yosys's ``stat`` of the synthesised netlist (LUT4, flip-flops,
multipliers and block RAMs by cell type), ``throughput`` the core's sustained
samples per clock and the samples per second at the achieved Fmax.

Each core sits between registers: a 40-bit LFSR drives its input payload,
``i.valid`` and ``o.ready`` (so every stall path is exercised), and the XOR of
its output payload, ``o.valid`` and ``overflow`` goes to an LED through a
register. The harness costs a few dozen LUTs and no block RAM or multiplier.
The board's oscillator pin is re-declared at the target clock, so nextpnr
times the core against that constraint without a PLL. One build at a time;
the ECP5 place and route takes several minutes.
"""

import json
import sys
import time
from pathlib import Path

from amaranth import Cat, ClockDomain, ClockSignal, Elaboratable, Module, Signal
from amaranth.build import Clock, Resource
from amaranth.lib import io
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from amaradar.boards.toolchain import BuildError, NEXTPNR_OPTS, read_report, run_plan, tool_versions
from amaradar.hdl.compress.fft import FFT
from amaradar.hdl.compress.fft_iterative import IterativeFFT

RESULTS = Path(__file__).parent / "results" / "fft_resources.json"

_LFSR_BITS = 40
_LFSR_TAPS = (39, 37, 20, 18)   # x^40 + x^38 + x^21 + x^19 + 1, maximal length
_STAT = "stat.json"


class _Harness(Elaboratable):
    """``core`` between an LFSR source/sink-ready and a registered XOR to an LED."""

    def __init__(self, core, clock, led):
        self.core, self.clock, self.led = core, clock, led

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync", reset_less=True)
        m.submodules.clk = clk = io.Buffer("i", platform.request(self.clock, 0, dir="-"))
        m.submodules.led = led = io.Buffer("o", platform.request(self.led, 0, dir="-"))
        m.d.comb += ClockSignal("sync").eq(clk.i)
        m.submodules.core = core = self.core
        lfsr = Signal(_LFSR_BITS, init=1)
        m.d.sync += lfsr.eq(Cat(Cat(*(lfsr[t] for t in _LFSR_TAPS)).xor(), lfsr[:-1]))
        payload = core.i.payload.as_value()
        m.d.comb += [payload.eq(lfsr), core.i.valid.eq(lfsr[-1]), core.o.ready.eq(lfsr[-2])]
        seen = Signal()
        m.d.sync += seen.eq(Cat(core.o.payload.as_value(), core.o.valid, core.overflow).xor())
        m.d.comb += led.o.eq(seen)
        return m


def _platform(base, clock, hz):
    """``base`` with the oscillator resource ``clock`` re-declared at ``hz``."""
    resources = [Resource(r.name, r.number, *r.ios, Clock(hz), r.attrs)
                 if r.name == clock else r for r in base.resources]
    return type(f"{base.__name__}At{hz / 1e6:g}MHz", (base,), {"resources": resources})


def _targets():
    fft = dict(width=16, twiddle_width=16)
    small = dict(width=16, twiddle_width=16, guard_bits=0)
    return {
        "ecp5_85f_fft_sdf_1024": dict(
            device="LFE5U-85F-6BG381C", base=ULX3S_85F_Platform, clock="clk25", led="led", mhz=125,
            core=FFT, parameters=dict(n=1024, **fft), overrides={}),
        "up5k_fft_iterative_256": dict(
            device="iCE40UP5K-SG48", base=ICEBreakerPlatform, clock="clk12", led="led_g", mhz=40,
            core=IterativeFFT, parameters=dict(n=256, **small), overrides={"synth_opts": "-dsp"}),
        "up5k_fft_iterative_1024": dict(
            device="iCE40UP5K-SG48", base=ICEBreakerPlatform, clock="clk12", led="led_g", mhz=40,
            core=IterativeFFT, parameters=dict(n=1024, **small), overrides={"synth_opts": "-dsp"}),
    }


def _cells(stat_path):
    """Cell counts by type from Yosys's ``stat -json`` of the top module."""
    stat = json.loads(Path(stat_path).read_text())
    design = stat.get("design") or next(iter(stat["modules"].values()))
    return dict(sorted(design["num_cells_by_type"].items()))


def build(name, target, build_root):
    core = target["core"](**target["parameters"])
    hz = target["mhz"] * 1e6
    platform = _platform(target["base"], target["clock"], hz)()
    build_dir = Path(build_root) / name
    overrides = {"debug_verilog": False, "nextpnr_opts": NEXTPNR_OPTS,
                 "script_after_synth": f"tee -q -o {_STAT} stat -json", **target["overrides"]}
    start = time.monotonic()
    plan = platform.prepare(_Harness(core, target["clock"], target["led"]), name="top", **overrides)
    result = {"device": target["device"], "core": target["core"].__name__,
              "parameters": target["parameters"], "clock_constraint_mhz": target["mhz"]}
    try:
        run_plan(plan, build_dir)
    except BuildError as e:
        return {**result, "ok": False, "error": str(e)}
    report = read_report(build_dir / "report.json")
    clock = next(iter(report["clocks"].values()))
    samples_per_clock = getattr(core, "samples_per_clock", 1)
    return {
        **result,
        "fmax_mhz": clock["achieved_mhz"],
        "met": clock["met"],
        "utilization": report["utilization"],
        "cells": _cells(build_dir / _STAT),
        "throughput": {"samples_per_clock": samples_per_clock,
                       "samples_per_second_at_fmax": round(samples_per_clock * clock["achieved_mhz"] * 1e6)},
        "build_seconds": round(time.monotonic() - start, 1),
        "ok": True, "error": None,
    }


def bench(build_root, names):
    targets = _targets()
    previous = json.loads(RESULTS.read_text())["targets"] if RESULTS.exists() else {}
    results = {name: previous[name] for name in previous if name in targets}
    for name in names or targets:
        print(f"{name}: building", flush=True)
        results[name] = build(name, targets[name], build_root)
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    return {"tool_versions": tool_versions(), "targets": results}


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else "build/fft_resources"
    out = bench(root, sys.argv[2:])
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")
