"""Samples per second of the same chain on every way amaradar can run it.

The chain is the built-in scenario's (100-tap complex matched filter -> |x|^2 ->
CA-CFAR over 2 x 16 cells) and the input is that scenario's ADC samples:

- amaranth-sim: Amaranth's Python simulator (``tests/streams.simulate_stream``)
- cocotb: cocotb 2 + Verilator on the generated Verilog (``tests/streams.cocotb_stream``)
- rtl engine, one process: the compiled Verilator harness on the whole input
- rtl engine: as ``amaradar sim`` runs it (``run_rtl_chain``: groups of whole
  CPIs in parallel harness processes, one per core), framing included
- amaradar sim: a second ``amaradar sim --engine rtl`` run, everything included

Builds are excluded from the first four (each is built once before timing);
the last one runs after a warm-up run, so its build comes from the cache.
Writes bench/results/chain_speed.json. Usage: ``python3 bench/bench_chain_speed.py``.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from amaradar.hdl.formats import complex_layout, framed_layout, pack
from amaradar.hdl.radar_chain import RadarChain
from amaradar.sim.chain import chain_config
from amaradar.sim.engines.rtl_chain import design_key, frame_iq, run_rtl_chain
from amaradar.sim.engines.rtl_engine import RtlEngine
from amaradar.sim.world.scenario import load_scenario, receive_iq
from machine import machine
from amaradar.sim.engines.streams import cocotb_stream, simulate_stream

AMARANTH_SAMPLES = 2_000
COCOTB_SAMPLES = 20_000


def words(config, iq):
    """Slow reference packing of ``iq`` lines into payload ints (first lines only)."""
    lines, length = iq.shape
    k = np.tile(np.arange(length), lines)
    return pack(framed_layout(complex_layout(config.adc_width)),
                **{"data.i": iq.real.ravel(), "data.q": iq.imag.ravel(),
                   "first": k == 0, "last": k == length - 1})


def timed(label, samples, run):
    t0 = time.perf_counter()
    run()
    seconds = time.perf_counter() - t0
    print(f"{label:>14}: {samples:>9,} samples in {seconds:7.2f} s = {samples / seconds:>12,.0f} samples/s",
          flush=True)
    return {"samples": samples, "seconds": seconds, "samples_per_s": samples / seconds}


def main():
    scenario = load_scenario()
    config = chain_config(scenario)
    iq, _ = receive_iq(scenario)
    flat = iq.reshape(1, -1)
    results = {"machine": machine(), "chain": config.as_dict(), "engines": {}}
    ports = {"scale": config.cfar_scale}

    short = words(config, flat[:, :AMARANTH_SAMPLES])
    results["engines"]["amaranth_sim"] = timed("amaranth-sim", len(short), lambda: simulate_stream(
        RadarChain(config), short, 0, p_in_stall=0.0, p_out_stall=0.0, ports=ports))

    medium = words(config, flat[:, :COCOTB_SAMPLES])
    cocotb_stream(RadarChain(config), "bench_chain", medium[:10], 0, p_in_stall=0.0,
                  p_out_stall=0.0, ports=ports, optimise=True)        # build once
    results["engines"]["cocotb_verilator"] = timed("cocotb", len(medium), lambda: cocotb_stream(
        RadarChain(config), "bench_chain", medium, 0, p_in_stall=0.0, p_out_stall=0.0, ports=ports,
        optimise=True))

    engine = RtlEngine(RadarChain(config), name="radar_chain", key=design_key(config))
    framed = frame_iq(config, iq)
    results["engines"]["rtl_engine_one_process"] = timed(
        "rtl, 1 process", len(framed), lambda: engine.run(framed, ports=ports, drain_cycles=1000))
    processes = {}
    results["engines"]["rtl_engine"] = timed(
        "rtl engine", iq.size, lambda: processes.update(run_rtl_chain(config, iq)[1]))
    results["engines"]["rtl_engine"]["processes"] = processes["processes"]

    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "amaradar", "sim", "--quiet", "--out", tmp]
        subprocess.run(command, check=True)                          # warm: cached build
        results["engines"]["amaradar_sim_second_run"] = timed(
            "amaradar sim", iq.size, lambda: subprocess.run(command, check=True))

    engines = results["engines"]
    results["ratio_rtl_to_cocotb"] = engines["rtl_engine"]["samples_per_s"] / \
        engines["cocotb_verilator"]["samples_per_s"]
    results["ratio_rtl_to_amaranth_sim"] = engines["rtl_engine"]["samples_per_s"] / \
        engines["amaranth_sim"]["samples_per_s"]
    out = Path(__file__).resolve().parent / "results" / "chain_speed.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
