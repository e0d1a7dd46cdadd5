"""Bit-dropping operators shared by the gateware blocks.

Each operator returns Amaranth expressions; the numpy twin of each lives in
``amaradar.sim.models.numerics`` under the same name and is bit-identical.
:func:`complex_parts` checks the complex integer arrays that tables are made of.
"""

import numpy as np
from amaranth import Mux, Shape, Value

__all__ = ["ROUNDING_MODES", "check_rounding", "shift_right", "saturate", "complex_parts"]

ROUNDING_MODES = ("truncate", "half_even")
_EXACT = 2**53  # complex128 holds integers exactly below this magnitude


def check_rounding(rounding):
    """Raise ``ValueError`` unless ``rounding`` is one of :data:`ROUNDING_MODES`."""
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, not {rounding!r}")


def shift_right(value, shift, rounding):
    """``value / 2**shift`` rounded by ``rounding``; keeps the sign of ``value``.

    ``truncate`` rounds towards minus infinity (drops the low bits);
    ``half_even`` rounds to nearest, ties to the even result. The result is one bit
    wider than ``value >> shift`` so that rounding up never wraps.
    """
    check_rounding(rounding)
    value = Value.cast(value)
    if shift == 0:
        return value
    floor = value >> shift
    if rounding == "truncate":
        return floor
    rest = value[:shift]
    half = 1 << (shift - 1)
    round_up = (rest > half) | ((rest == half) & floor[0])
    shape = Shape(floor.shape().width + 1, floor.shape().signed)
    return (floor.as_signed() if shape.signed else floor) + round_up.as_unsigned()


def saturate(value, width, *, signed_out=True):
    """Clamp ``value`` into ``width`` bits; returns ``(clamped, overflowed)``."""
    value = Value.cast(value)
    if signed_out:
        hi, lo = (1 << (width - 1)) - 1, -(1 << (width - 1))
    else:
        hi, lo = (1 << width) - 1, 0
    over = value > hi
    under = value < lo
    clamped = Mux(over, hi, Mux(under, lo, value))[:width]
    return (clamped.as_signed() if signed_out else clamped), over | under


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
