"""numpy twins of :mod:`amaradar.hdl.numerics`: the same bits, on int64 arrays."""

import numpy as np

from ...hdl.numerics import ROUNDING_MODES, check_rounding, complex_parts

__all__ = ["ROUNDING_MODES", "check_rounding", "shift_right", "saturate", "complex_parts"]



def shift_right(value, shift, rounding):
    """``value / 2**shift`` rounded toward minus infinity or half to even.

    Parameters
    ----------
    value : array_like of int
    shift : int
        Bits to drop, >= 0.
    rounding : {"truncate", "half_even"}
    """
    check_rounding(rounding)
    value = np.asarray(value, dtype=np.int64)
    if shift == 0:
        return value.copy()
    floor = value >> shift
    if rounding == "truncate":
        return floor
    rest = value & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    round_up = (rest > half) | ((rest == half) & (floor & 1 == 1))
    return floor + round_up


def saturate(value, width, *, signed_out=True):
    """Clamp into ``width`` bits. Returns ``(clamped, overflowed)`` arrays."""
    value = np.asarray(value, dtype=np.int64)
    if signed_out:
        hi, lo = (1 << (width - 1)) - 1, -(1 << (width - 1))
    else:
        hi, lo = (1 << width) - 1, 0
    return np.clip(value, lo, hi), (value > hi) | (value < lo)


