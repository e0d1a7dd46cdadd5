"""numpy twins of :mod:`amaradar.hdl.numerics`: the same bits, on int64 arrays."""

import numpy as np

from ..hdl.numerics import ROUNDING_MODES, check_rounding

__all__ = ["ROUNDING_MODES", "check_rounding", "shift_right", "saturate", "complex_parts"]

_EXACT = 2**53  # complex128 holds integers exactly below this magnitude


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


def complex_parts(x, name):
    """Split a complex-integer array (numpy has no complex int dtype: complex128 with
    integer parts, or an integer array) into int64 real and imaginary parts.

    ``name`` names ``x`` in the error raised for non-integer or too-large parts.
    """
    x = np.asarray(x)
    if x.dtype.kind in "iu":
        return x.astype(np.int64), np.zeros(x.shape, dtype=np.int64)
    if x.dtype.kind not in "fc":
        raise TypeError(f"{name} must be a numeric array, not dtype {x.dtype}")
    re, im = np.real(x), np.imag(x)
    if not (np.all(re == np.round(re)) and np.all(im == np.round(im))):
        raise ValueError(f"{name} must have integer real and imaginary parts")
    if np.any(np.abs(re) >= _EXACT) or np.any(np.abs(im) >= _EXACT):
        raise ValueError(f"{name} parts must be below 2**53 in magnitude")
    return re.astype(np.int64), im.astype(np.int64)
