# amaranth: UnusedElaboratable=no
"""The SECDED code: every single flipped bit of a stored word is corrected and
flagged, two flipped bits are flagged uncorrectable, an untouched word reads back
as written; in the Amaranth simulator, on the gateware the tracker uses."""

import itertools
import random

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from amaradar.hdl.secded import secded_decode, secded_encode, secded_width


def _codec(bits):
    """Write ``data``, flip the bits of ``flips`` in the stored word, read it back."""
    m = Module()
    data = Signal(bits)
    flips = Signal(secded_width(bits))
    stored = Signal(secded_width(bits))
    m.d.comb += stored.eq(secded_encode(data) ^ flips)
    decoded = secded_decode(m, stored, bits)
    return m, data, flips, decoded


def _run(bits, cases):
    """``[(data, flip_mask)] -> [(read data, corrected, uncorrectable)]``."""
    m, data, flips, decoded = _codec(bits)
    got = []

    async def bench(ctx):
        for value, mask in cases:
            ctx.set(data, value)
            ctx.set(flips, mask)
            got.append((ctx.get(decoded.data), ctx.get(decoded.corrected),
                        ctx.get(decoded.uncorrectable)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 11, 12, 26, 27, 57, 64, 65, 120, 130])
def test_every_single_flip_is_corrected_and_two_are_detected(bits):
    rng = random.Random(bits)
    width = secded_width(bits)
    values = [0, (1 << bits) - 1] + [rng.getrandbits(bits) for _ in range(3)]
    cases = [(v, 0) for v in values]
    cases += [(v, 1 << b) for v in values for b in range(width)]
    pairs = list(itertools.combinations(range(width), 2))
    doubles = pairs if len(pairs) <= 300 else rng.sample(pairs, 300)
    cases += [(rng.choice(values), 1 << a | 1 << b) for a, b in doubles]
    got = _run(bits, cases)
    for (value, mask), (read, corrected, uncorrectable) in zip(cases, got):
        flipped = bin(mask).count("1")
        if flipped < 2:
            assert (read, corrected, uncorrectable) == (value, flipped, 0), (value, mask)
        else:
            assert (corrected, uncorrectable) == (0, 1), (value, mask)


def test_width_is_hamming_plus_parity():
    # 2**r >= k + r + 1 check bits, one overall parity bit
    assert [secded_width(k) for k in (1, 4, 11, 26, 57, 64, 120)] == [4, 8, 16, 32, 64, 72, 128]


def test_bad_widths_are_refused_in_one_line():
    with pytest.raises(ValueError, match="bits must be >= 1, not 0"):
        secded_width(0)
    with pytest.raises(ValueError, match="code has 7 bits; a 4-bit word is stored in 8"):
        secded_decode(Module(), Signal(7), 4)
