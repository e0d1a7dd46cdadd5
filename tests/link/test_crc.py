"""The link's CRC: the spec's parameters, its software model, and the gateware's
``amaranth.lib.crc`` processor built from the same parameters."""

import random

import pytest
from amaranth.lib import crc as crc_lib
from amaranth.sim import Simulator

from amaradar.spec.link import CRC, crc16

ALGORITHM = crc_lib.Algorithm(**CRC)
PARAMETERS = ALGORITHM(data_width=8)


def test_check_value():
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF
    assert PARAMETERS.compute(b"123456789") == 0x29B1


def test_parameters_are_the_catalogued_ccitt_false():
    """CRC-16/CCITT-FALSE is catalogued as CRC-16/IBM-3740."""
    assert vars(ALGORITHM) == vars(crc_lib.catalog.CRC16_IBM_3740)


def test_continuation_equals_whole():
    data = bytes(random.Random(1).getrandbits(8) for _ in range(100))
    assert crc16(data[40:], crc16(data[:40])) == crc16(data)


def test_software_model_equals_amaranth_model():
    rng = random.Random(2)
    for n in (1, 2, 7, 64, 300):
        data = bytes(rng.getrandbits(8) for _ in range(n))
        assert crc16(data) == PARAMETERS.compute(data)


@pytest.mark.parametrize("seed", [0, 1])
def test_gateware_bit_exact(seed):
    """Random bytes with random idle clocks and restarts (start, with or without a byte)."""
    rng = random.Random(seed)
    dut = PARAMETERS.create()
    checked = []

    async def bench(ctx):
        expect = CRC["initial_crc"]
        for _ in range(400):
            valid, start = rng.random() < 0.7, rng.random() < 0.1
            byte = rng.getrandbits(8)
            ctx.set(dut.data, byte)
            ctx.set(dut.valid, valid)
            ctx.set(dut.start, start)
            await ctx.tick()
            begin = CRC["initial_crc"] if start else expect
            expect = crc16(bytes([byte]), begin) if valid else begin
            assert ctx.get(dut.crc) == expect
            checked.append(valid)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert sum(checked) > 200
