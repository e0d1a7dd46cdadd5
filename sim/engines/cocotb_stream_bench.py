"""cocotb side of ``streams.cocotb_stream``: reads a JSON spec, writes the outputs.

Drives on the falling edge and samples the settled values after ``ReadOnly`` in
the same half cycle (what the next rising edge captures), the same on every
simulator. Stream ports are Amaranth's flattened names
(``i__payload``, ``i__valid``, ``i__ready``, ``o__...``).

With a ``reset`` in the spec (``after_fed``, ``cycles``, ``settle_cycles``): once
``after_fed`` input words have been taken, ``rst`` is held high for ``cycles``
clocks with ``i.valid`` low, the words ``o`` gave so far are dropped, and the
inputs are fed again from the first, as an upstream reset with the DUT would;
after the last expected word the bench runs ``settle_cycles`` more clocks, ready
at random, and a word ``o`` gives then is an error (one too many).
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


@cocotb.test()
async def stream_bench(dut):
    with open(os.environ["AMARADAR_SPEC"]) as f:
        spec = json.load(f)
    result_path = os.environ["AMARADAR_RESULT"]
    rng = random.Random(spec["seed"])
    inputs = None if spec["inputs"] is None else [int(w, 16) for w in spec["inputs"]]
    outputs, error = [], None
    reset = spec.get("reset")

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for name, value in spec["ports"].items():
        getattr(dut, name).value = value
    if inputs is not None:
        dut.i__valid.value = 0
    dut.o__ready.value = 0
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    next_in, in_valid, pending, settle = 0, False, None, None
    for _cycle in range(spec["max_cycles"]):
        if reset is not None and next_in == reset["after_fed"]:
            dut.i__valid.value = 0
            dut.rst.value = 1
            for _ in range(reset["cycles"]):
                await RisingEdge(dut.clk)
                await FallingEdge(dut.clk)
            dut.rst.value = 0
            next_in, in_valid, pending, outputs, reset = 0, False, None, [], None
            continue
        # Falling edge: choose this cycle's source and sink behaviour.
        if inputs is not None:
            if not in_valid and next_in < len(inputs) and rng.random() >= spec["p_in_stall"]:
                dut.i__payload.value = inputs[next_in]
                in_valid = True
            dut.i__valid.value = int(in_valid)
        ready = rng.random() >= spec["p_out_stall"]
        dut.o__ready.value = int(ready)
        await ReadOnly()  # settled values that the coming rising edge captures
        if inputs is not None and in_valid and int(dut.i__ready.value):
            next_in += 1
            in_valid = False
        valid = int(dut.o__valid.value)
        payload = int(dut.o__payload.value) if valid else None
        if pending is not None and payload != pending:
            error = f"o dropped or changed a waiting sample after {len(outputs)} words"
            break
        wanted = len(outputs) < spec["count"]
        if valid and ready and wanted:
            outputs.append(payload)
            pending = None
        elif valid and wanted:
            pending = payload
        elif valid and ready and settle is not None:
            error = f"o gave a word too many after the {spec['count']} expected"
            break
        if len(outputs) == spec["count"] and (inputs is None or next_in == len(inputs)) \
                and reset is None:
            settle = spec.get("settle_cycles", 0) if settle is None else settle - 1
            if settle <= 0:
                break
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
    else:
        error = f"timeout: {len(outputs)} of {spec['count']} output words in {spec['max_cycles']} cycles"

    with open(result_path, "w") as f:
        json.dump({"outputs": [hex(w) for w in outputs], "error": error}, f)
