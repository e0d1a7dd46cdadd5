"""Drive a streaming Component with random stalls, in Amaranth sim and in cocotb.

Both runners feed ``inputs`` (payload words as ints, see ``formats.pack``) into the
``i`` stream, hold ``o.ready`` low at random, collect ``count`` payload words from
``o`` and check the stream rules on the way: once ``o.valid`` is high it stays high
with the same payload until the transfer. The caller compares the words with the
model, so a lost, duplicated or reordered sample fails that comparison.
"""

import fcntl
import hashlib
import json
import os
import random

from amaranth import Value
from amaranth.back import verilog
from amaranth.sim import Simulator

from .tools import cache_dir, verilator_env

__all__ = ["simulate_stream", "trace_unstalled", "cocotb_stream", "StreamProtocolError"]

# Compiled testbenches are cached per user by the hash of their Verilog, so that
# checkouts share them; each run writes its spec and result next to the build.
BUILD_ROOT = cache_dir("cocotb")
# A testbench runs a few thousand cycles under cocotb, whose Python dominates:
# compile the model unoptimised, in about half the time.
MAKE_OPTIONS = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"


class StreamProtocolError(AssertionError):
    pass


def _port(dut, dotted):
    obj = dut
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def simulate_stream(dut, inputs, count, *, p_in_stall=0.3, p_out_stall=0.3, seed=0,
                    ports=None, max_cycles=None, vcd=None):
    """Run ``dut`` in the Amaranth simulator; return ``count`` output payload words.

    Parameters
    ----------
    dut : wiring.Component with ``o`` (and, unless ``inputs`` is None, ``i``) streams.
    inputs : list of int or None
    count : int
        Output words to collect.
    p_in_stall, p_out_stall : float
        Probability that the source idles / the sink is not ready, per cycle.
    ports : dict, optional
        ``{"name": value}`` of plain input ports set before the first clock.
    max_cycles : int, optional
        Give up after this many cycles (default: generous, from the word counts).
    """
    rng = random.Random(seed)
    ports = ports or {}
    n_in = 0 if inputs is None else len(inputs)
    max_cycles = max_cycles or 200 + 20 * (n_in + count)
    out = []
    fed = []  # becomes [True] once the source has handed over every input word
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def source(ctx):
        for name, value in ports.items():
            ctx.set(_port(dut, name), value)
        if inputs is None:
            fed.append(True)
            return
        for word in inputs:
            while rng.random() < p_in_stall:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
            ctx.set(Value.cast(dut.i.payload), word)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        fed.append(True)

    async def sink(ctx):
        pending = None
        for _ in range(max_cycles):
            ready = rng.random() >= p_out_stall
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, Value.cast(dut.o.payload))
            if pending is not None and (not valid or payload != pending):
                raise StreamProtocolError(
                    f"o dropped or changed a waiting sample after {len(out)} words")
            if valid and ready and len(out) < count:
                out.append(payload)
                pending = None
            elif valid and len(out) < count:
                pending = payload
            if len(out) == count and fed:
                return
        raise AssertionError(f"timeout: {len(out)} of {count} output words in {max_cycles} cycles")

    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return out


def _build_dir(name, source, make_options):
    digest = hashlib.sha256(f"{source}\0{make_options}".encode()).hexdigest()[:16]
    return BUILD_ROOT / f"{name}-{digest}"


def trace_unstalled(dut, words, cycles):
    """Feed ``words`` back to back as ``i.ready`` allows, with ``o.ready`` high, for
    ``cycles`` clocks; return per cycle ``(i.ready, o.valid, overflow)`` as an edge
    samples them (the word accepted at edge 0 is transferred out at edge ``latency``)."""
    trace = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        k = 0
        for _ in range(cycles):
            if k < len(words):
                ctx.set(Value.cast(dut.i.payload), words[k])
            ctx.set(dut.i.valid, k < len(words))
            _, _, ready, valid, over = await ctx.tick().sample(dut.i.ready, dut.o.valid,
                                                               dut.overflow)
            trace.append((ready, valid, over))
            k += bool(ready and k < len(words))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return trace


def cocotb_stream(dut, name, inputs, count, *, p_in_stall=0.3, p_out_stall=0.3, seed=0,
                  ports=None, max_cycles=None, optimise=False, platform=None, cells="",
                  reset_after=None, reset_cycles=3, settle_cycles=0):
    """The same as :func:`simulate_stream`, on the Verilog of ``dut`` in cocotb + Verilator.

    ``name`` names the build (a different configuration is a different Verilog file
    and build directory, cached by its text under ``~/.cache/amaradar/cocotb``).
    ``optimise`` compiles the model with Verilator's default C++ optimisation
    (slower to build, faster to run: for benchmarks). ``dut`` is elaborated for
    ``platform``; ``cells`` is Verilog of the vendor cells it instantiates.
    ``reset_after``: reset the DUT for ``reset_cycles`` clocks once that many input
    words were taken, then feed ``inputs`` again from the first; the ``count`` words
    returned are those after the reset, and none may follow them within
    ``settle_cycles`` clocks (``cocotb_stream_bench``).
    """
    from cocotb_tools.runner import get_runner
    source = verilog.convert(dut, name=name, emit_src=False, platform=platform) + cells
    make_options = "" if optimise else MAKE_OPTIONS
    build_dir = _build_dir(name, source, make_options)
    build_dir.mkdir(parents=True, exist_ok=True)
    n_in = 0 if inputs is None else len(inputs)
    spec = {
        "inputs": None if inputs is None else [hex(w) for w in inputs],
        "count": count,
        "p_in_stall": p_in_stall,
        "p_out_stall": p_out_stall,
        "seed": seed,
        "ports": {k.replace(".", "__"): int(v) for k, v in (ports or {}).items()},
        "max_cycles": max_cycles or 200 + 20 * (n_in + count),
        "settle_cycles": settle_cycles,
    }
    if reset_after is not None:
        spec["reset"] = {"after_fed": reset_after, "cycles": reset_cycles}
        spec["max_cycles"] += 20 * reset_after
    run_id = hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:12]
    spec_path = build_dir / f"spec-{run_id}.json"
    result_path = build_dir / f"result-{run_id}.json"
    spec_path.write_text(json.dumps(spec))
    env = dict(verilator_env())
    env["MAKEFLAGS"] = f"{env['MAKEFLAGS']} {make_options}"
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        with open(build_dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            (build_dir / f"{name}.v").write_text(source)
            runner = get_runner("verilator")
            runner.build(sources=[build_dir / f"{name}.v"], hdl_toplevel=name,
                         build_dir=build_dir, build_args=["-Wno-fatal"], always=False)
        runner.test(hdl_toplevel=name, test_module=f"{__package__}.cocotb_stream_bench", build_dir=build_dir,
                    test_dir=build_dir, results_xml=str(build_dir / f"results-{run_id}.xml"),
                    extra_env={"AMARADAR_SPEC": str(spec_path), "AMARADAR_RESULT": str(result_path)})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    result = json.loads(result_path.read_text())
    if result["error"]:
        raise AssertionError(result["error"])
    return [int(w, 16) for w in result["outputs"]]
