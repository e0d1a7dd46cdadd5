"""SECDED code for block-RAM words: an extended Hamming code.

A word of ``k`` data bits is stored as ``secded_width(k)`` bits: bit 0 is the
parity of the whole code word, bits ``1 ... n`` are the Hamming positions, the
check bits at the powers of two and the data bits, in order, at the others. On
reading, the syndrome (the XOR of the positions of the set bits) names the bit
that flipped: one flipped bit anywhere is corrected, two are detected (the
syndrome is non-zero while the word's parity holds) and not corrected. Three or
more may be miscorrected.

Both directions are combinational: the encoder is one XOR tree per check bit
(``ceil(log2 n) + 1`` of them), the decoder a syndrome, a compare per data bit
and a flip.
"""

from dataclasses import dataclass

from amaranth import Cat, Signal, Value

from ..spec.checks import check_integer

__all__ = ["secded_width", "secded_encode", "secded_decode", "Decoded"]


def _check_bits(bits):
    """Hamming check bits ``r`` for ``bits`` data bits: the least with ``2**r >= bits + r + 1``."""
    r = 0
    while (1 << r) < bits + r + 1:
        r += 1
    return r


def secded_width(bits):
    """Stored bits of a ``bits``-bit word: ``bits``, the Hamming check bits and one parity bit."""
    bits = check_integer("bits", bits, 1)
    return bits + _check_bits(bits) + 1


def _data_positions(bits):
    """The Hamming positions of the data bits: every position that is not a power of two."""
    n = bits + _check_bits(bits)
    return [p for p in range(1, n + 1) if p & (p - 1)]


def secded_encode(value):
    """The code word (``secded_width(len(value))`` bits) of ``value``."""
    value = Value.cast(value)
    bits = len(value)
    r = _check_bits(bits)
    placed = dict(zip(_data_positions(bits), value))
    positions = [None] * (bits + r + 1)
    for p, bit in placed.items():
        positions[p] = bit
    for i in range(r):
        positions[1 << i] = Cat(bit for p, bit in placed.items() if p >> i & 1).xor()
    positions[0] = Cat(positions[1:]).xor()
    return Cat(positions)


@dataclass(frozen=True)
class Decoded:
    """What :func:`secded_decode` gives: ``data`` (corrected when one bit flipped),
    ``corrected`` (one bit was flipped and is put right) and ``uncorrectable`` (two
    were: ``data`` is wrong)."""
    data: Value
    corrected: Value
    uncorrectable: Value


def secded_decode(m, code, bits, name="secded"):
    """Decode a code word ``code`` of ``bits`` data bits (as written by :func:`secded_encode`).

    The syndrome and the word's parity become signals ``{name}_syndrome`` and
    ``{name}_odd`` of module ``m`` (combinational), shared by every data bit.
    """
    code = Value.cast(code)
    if len(code) != secded_width(bits):
        raise ValueError(f"code has {len(code)} bits; a {bits}-bit word is stored in "
                         f"{secded_width(bits)}")
    r = _check_bits(bits)
    n = bits + r
    syndrome = Signal(r, name=f"{name}_syndrome")
    odd = Signal(name=f"{name}_odd")
    m.d.comb += [
        syndrome.eq(Cat(Cat(code[p] for p in range(1, n + 1) if p >> i & 1).xor()
                        for i in range(r))),
        odd.eq(code.xor()),
    ]
    data = Cat(code[p] ^ (odd & (syndrome == p)) for p in _data_positions(bits))
    return Decoded(data=data, corrected=odd, uncorrectable=~odd & syndrome.any())
