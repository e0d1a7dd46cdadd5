# amaranth: UnusedElaboratable=no
"""FrameArbiter: frames of two byte streams leave whole, each stream's in order, under stalls."""

import random

import pytest
from amaranth.sim import Simulator

from amaradar.hdl.link.frame_arbiter import FrameArbiter
from amaradar.spec.link import Decoder, Plot, Track, encode


def _frames(rng, kind, count):
    if kind is Plot:
        return [Plot(k, rng.randrange(1 << 20), rng.randrange(1 << 12), rng.randrange(1 << 40),
                     rng.randrange(1 << 40)) for k in range(count)]
    return [Track(k, rng.randrange(1 << 20), rng.randrange(3), rng.randrange(1 << 20),
                  rng.randrange(-1 << 22, 1 << 22), rng.randrange(2), rng.randrange(32),
                  rng.randrange(8), rng.randrange(64)) for k in range(count)]


def _run(messages, *, p_gap, p_out_stall, seed):
    """Each input sends its messages' frames (valid held through a frame, random gaps of
    at least a clock between frames); returns the output bytes and the clocks on which
    the output was valid and an input other than the one sending had valid high."""
    dut = FrameArbiter(count=len(messages))
    rng = random.Random(seed)
    out, waited = [], [0]
    total = sum(len(encode(msg)) for msgs in messages for msg in msgs)

    def source(k):
        async def process(ctx):
            for msg in messages[k]:
                ctx.set(dut.i[k].valid, 0)
                await ctx.tick()
                while rng.random() < p_gap:
                    await ctx.tick()
                for byte in encode(msg):
                    ctx.set(dut.i[k].payload, byte)
                    ctx.set(dut.i[k].valid, 1)
                    await ctx.tick().until(dut.i[k].ready)
            ctx.set(dut.i[k].valid, 0)
        return process

    async def sink(ctx):
        for _ in range(20 * total):
            ready = rng.random() >= p_out_stall
            ctx.set(dut.o.ready, ready)
            _, _, valid, byte, *others = await ctx.tick().sample(
                dut.o.valid, dut.o.payload, *(port.valid for port in dut.i))
            if valid and sum(others) > 1:
                waited[0] += 1
            if valid and ready:
                out.append(byte)
                if len(out) == total:
                    return
        raise AssertionError(f"timeout: {len(out)} of {total} bytes")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for k in range(len(messages)):
        sim.add_testbench(source(k), background=True)
    sim.add_testbench(sink)
    sim.run()
    return bytes(out), waited[0]


@pytest.mark.parametrize("p_gap, p_out_stall", [(0.0, 0.0), (0.5, 0.3), (0.9, 0.7)])
def test_frames_leave_whole_and_in_order(p_gap, p_out_stall):
    rng = random.Random(int(10 * p_gap))
    plots, tracks = _frames(rng, Plot, 12), _frames(rng, Track, 15)
    out, waited = _run([plots, tracks], p_gap=p_gap, p_out_stall=p_out_stall, seed=4)
    decoder = Decoder()
    messages = decoder.feed(out)
    assert decoder.resync_bytes == 0 and decoder.crc_errors == 0
    assert [m for m in messages if isinstance(m, Plot)] == plots
    assert [m for m in messages if isinstance(m, Track)] == tracks
    assert waited > 0          # the two inputs did contend for the output


def test_first_input_goes_first():
    """With both inputs waiting from the start, input 0 sends all its frames first
    (it has its next frame ready one clock after each frame's end)."""
    rng = random.Random(2)
    plots, tracks = _frames(rng, Plot, 3), _frames(rng, Track, 3)
    out, _ = _run([plots, tracks], p_gap=0.0, p_out_stall=0.0, seed=1)
    assert Decoder().feed(out) == [*plots, *tracks]


def test_count_is_checked():
    with pytest.raises(ValueError, match=r"^count must be >= 2, not 1$"):
        FrameArbiter(count=1)
