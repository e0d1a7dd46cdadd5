import random

import pytest
from amaranth.sim import Simulator

from amaradar.hdl.crc16 import Crc16
from amaradar.link import crc16


def test_check_value():
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF


def test_continuation_equals_whole():
    data = bytes(random.Random(1).getrandbits(8) for _ in range(100))
    assert crc16(data[40:], crc16(data[:40])) == crc16(data)


def _bitwise_crc(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def test_table_equals_bitwise_definition():
    rng = random.Random(2)
    for n in (1, 2, 7, 64):
        data = bytes(rng.getrandbits(8) for _ in range(n))
        assert crc16(data) == _bitwise_crc(data)


@pytest.mark.parametrize("seed", [0, 1])
def test_gateware_bit_exact(seed):
    """Random bytes with random idle clocks and restarts (clear, with or without a byte)."""
    rng = random.Random(seed)
    dut = Crc16()
    checked = []

    async def bench(ctx):
        expect = 0xFFFF
        for _ in range(400):
            en, clear = rng.random() < 0.7, rng.random() < 0.1
            byte = rng.getrandbits(8)
            ctx.set(dut.data, byte)
            ctx.set(dut.en, en)
            ctx.set(dut.clear, clear)
            await ctx.tick()
            start = 0xFFFF if clear else expect
            expect = crc16(bytes([byte]), start) if en else start
            assert ctx.get(dut.crc) == expect
            checked.append(en)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert sum(checked) > 200
