"""Bit-dropping operators shared by the gateware blocks.

Each function returns Amaranth expressions; the numpy twin of each lives in
``amaradar.sim.numerics`` under the same name and is bit-identical.
"""

from amaranth import Mux, Shape, Value

__all__ = ["ROUNDING_MODES", "check_rounding", "shift_right", "saturate"]

ROUNDING_MODES = ("truncate", "half_even")


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
