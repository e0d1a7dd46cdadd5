"""The link's CRC: the spec's parameters, its software model, and the gateware's
``amaranth.lib.crc`` processor built from the same parameters."""

import random

import numpy as np
import pytest
from amaranth.lib import crc as crc_lib
from amaranth.sim import Simulator

from amaradar.spec.link import (CRC, CRC_BYTES, HEADER_BYTES, SYNC, TYPE_DETECTION, TYPE_PLOT,
                                TYPE_STATUS, TYPE_TRACK, crc32, frame_bytes)

ALGORITHM = crc_lib.Algorithm(**CRC)
PARAMETERS = ALGORITHM(data_width=8)
TYPES = (TYPE_DETECTION, TYPE_STATUS, TYPE_TRACK, TYPE_PLOT)


def test_check_value():
    assert crc32(b"123456789") == 0xCBF43926
    assert crc32(b"") == 0
    assert PARAMETERS.compute(b"123456789") == 0xCBF43926
    assert CRC_BYTES == 4


def test_parameters_are_the_catalogued_iso_hdlc():
    assert vars(ALGORITHM) == vars(crc_lib.catalog.CRC32_ISO_HDLC)


def test_continuation_equals_whole():
    data = bytes(random.Random(1).getrandbits(8) for _ in range(100))
    assert crc32(data[40:], crc32(data[:40])) == crc32(data)


def test_software_model_equals_amaranth_model():
    rng = random.Random(2)
    for n in (1, 2, 7, 64, 300):
        data = bytes(rng.getrandbits(8) for _ in range(n))
        assert crc32(data) == PARAMETERS.compute(data)


def _syndromes(body_bytes):
    """What flipping each bit of a frame's body, then each bit of its CRC, does to the
    check (the CRC is affine in the body: the change does not depend on the body)."""
    zero = crc32(bytes(body_bytes))
    out = []
    for bit in range(8 * body_bytes):
        flipped = bytearray(body_bytes)
        flipped[bit // 8] ^= 1 << (bit % 8)
        out.append(crc32(bytes(flipped)) ^ zero)
    return np.array(out + [1 << b for b in range(8 * CRC_BYTES)], dtype=np.uint64)


def _undetected_up_to_5_bits(syndromes):
    """Whether some error of 1 to 5 flipped bits leaves the check unchanged: the
    syndromes of 1 and 2 bits, of 2 and 2, of 3 and 2 flipped bits meet."""
    if not syndromes.all() or len(np.unique(syndromes)) < len(syndromes):
        return True
    i, j = np.triu_indices(len(syndromes), 1)
    pairs = np.sort(syndromes[i] ^ syndromes[j])
    if (np.diff(pairs) == 0).any() or np.isin(syndromes, pairs).any():
        return True
    return any(np.isin(pairs ^ s, pairs, assume_unique=True).any() for s in syndromes)


def test_every_error_of_up_to_5_bits_fails_the_crc():
    """Hamming distance 6 on the longest body (the status frame's): no 1 to 5 flipped
    bits of body and CRC pass; a body 2 bytes longer would have one that passes."""
    longest = max(frame_bytes(kind) - len(SYNC) - CRC_BYTES for kind in TYPES)
    assert longest == frame_bytes(TYPE_STATUS) - len(SYNC) - CRC_BYTES == 32
    assert not _undetected_up_to_5_bits(_syndromes(longest))
    assert _undetected_up_to_5_bits(_syndromes(longest + 2))


@pytest.mark.parametrize("seed", [0, 1])
def test_gateware_bit_exact(seed):
    """Random bytes with random idle clocks and restarts (start, with or without a byte)."""
    rng = random.Random(seed)
    dut = PARAMETERS.create()
    checked = []

    async def bench(ctx):
        expect = 0
        for _ in range(400):
            valid, start = rng.random() < 0.7, rng.random() < 0.1
            byte = rng.getrandbits(8)
            ctx.set(dut.data, byte)
            ctx.set(dut.valid, valid)
            ctx.set(dut.start, start)
            await ctx.tick()
            begin = 0 if start else expect
            expect = crc32(bytes([byte]), begin) if valid else begin
            assert ctx.get(dut.crc) == expect
            checked.append(valid)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert sum(checked) > 200


def test_gateware_crc_of_random_frames():
    """The bodies (type, length, payload) of 40 random frames of every type, each after
    a start and its bytes between random idle clocks: the gateware's CRC is the host's."""
    rng = random.Random(3)
    bodies = []
    for _ in range(40):
        kind = rng.choice(TYPES)
        length = frame_bytes(kind) - HEADER_BYTES - CRC_BYTES
        bodies.append(bytes([kind, length]) + rng.randbytes(length))
    dut = PARAMETERS.create()
    got = []

    async def bench(ctx):
        for body in bodies:
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            for byte in body:
                while rng.random() < 0.4:
                    ctx.set(dut.valid, 0)
                    await ctx.tick()
                ctx.set(dut.data, byte)
                ctx.set(dut.valid, 1)
                await ctx.tick()
            ctx.set(dut.valid, 0)
            got.append(ctx.get(dut.crc))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got == [crc32(body) for body in bodies]
    assert len(set(got)) == len(bodies)
