# amaranth: UnusedElaboratable=no
import random

import pytest
from amaranth.sim import Simulator

from amaradar.hdl.link.uart_tx import UartTx


def _run(divisor, data, p_in_stall, seed):
    """Feed ``data`` with random idle clocks; decode ``tx`` sampling each bit at its middle.

    Returns the decoded bytes and the clocks from each start-bit edge to the next.
    """
    rng = random.Random(seed)
    dut = UartTx(divisor=divisor)
    line = []

    async def source(ctx):
        for byte in data:
            while rng.random() < p_in_stall:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
            ctx.set(dut.i.payload, byte)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def probe(ctx):
        for _ in range((len(data) + 2) * divisor * 10 * (3 if p_in_stall else 1) + 50):
            _, _, tx = await ctx.tick().sample(dut.tx)
            line.append(tx)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source, background=True)
    sim.add_testbench(probe)
    sim.run()

    out, starts, t = [], [], 0
    while t < len(line):
        if line[t] == 1:
            t += 1
            continue
        starts.append(t)
        samples = [line[t + divisor * k + divisor // 2] for k in range(10)]
        assert samples[0] == 0, "start bit not low in its middle"
        assert samples[9] == 1, "stop bit not high in its middle"
        out.append(sum(bit << k for k, bit in enumerate(samples[1:9])))
        t += divisor * 9 + divisor // 2 + 1  # inside the stop bit
    return bytes(out), [b - a for a, b in zip(starts, starts[1:])]


@pytest.mark.parametrize("divisor", [1, 4, 7])
def test_decodes_back_to_the_bytes(divisor):
    rng = random.Random(divisor)
    data = bytes(rng.getrandbits(8) for _ in range(40)) + b"\x00\xff\x55"
    out, _ = _run(divisor, data, p_in_stall=0.5, seed=divisor)
    assert out == data


def test_back_to_back_bytes_take_ten_bits():
    data = bytes(range(0, 256, 9))
    out, gaps = _run(5, data, p_in_stall=0.0, seed=0)
    assert out == data
    assert gaps == [50] * (len(data) - 1)


def test_idle_line_is_high():
    out, _ = _run(3, b"", p_in_stall=0.0, seed=0)
    assert out == b""


@pytest.mark.parametrize("value, error, message", [
    (0, ValueError, "divisor must be >= 1, not 0"),
    (2.5, TypeError, "divisor must be an integer, not 2.5"),
    (True, TypeError, "divisor must be an integer, not True"),
])
def test_bad_divisor(value, error, message):
    with pytest.raises(error) as info:
        UartTx(divisor=value)
    assert str(info.value) == message
