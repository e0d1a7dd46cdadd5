"""Physical constants, in SI units."""

__all__ = ["SPEED_OF_LIGHT"]

SPEED_OF_LIGHT = 299_792_458.0   # m/s
