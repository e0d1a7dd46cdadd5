"""Square-law detector: ``|x|**2 = i**2 + q**2`` of complex integer samples."""

import numpy as np

from ..numerics import saturate, shift_right
from ....spec.checks import check_integer

__all__ = ["power", "power_ideal"]


def power(x, *, sample_width, shift=0, rounding="half_even", output_width=None):
    """Bit-exact model of :class:`amaradar.hdl.detect.power_detector.PowerDetector`.

    Parameters
    ----------
    x : array_like of complex int
        Samples (a range line or lines x samples), real and imaginary parts integers
        in ``signed(sample_width)``, in LSB.
    sample_width : int
        Bits per part, 1 ... 31 (the exact power then fits int64).
    shift : int
        Bits dropped from the exact power, 0 ... ``2 * sample_width - 1``.
    rounding : {"half_even", "truncate"}
    output_width : int, optional
        Unsigned output bits; default ``2 * sample_width - shift`` (never saturates).

    Returns
    -------
    p : ndarray of int64, shape of ``x``
        ``saturate(shift_right(i**2 + q**2, shift, rounding), output_width)`` in
        LSB**2 / 2**shift.
    overflowed : bool
        True if any sample saturated (the sticky ``overflow`` flag).
    """
    check_integer("sample_width", sample_width, 1, 31)
    check_integer("shift", shift, 0, 2 * sample_width - 1)
    if output_width is None:
        output_width = 2 * sample_width - shift
    x = np.asarray(x)
    re = np.real(x).astype(np.int64)
    im = np.imag(x).astype(np.int64) if np.iscomplexobj(x) else np.zeros_like(re)
    if not (np.array_equal(re, np.real(x)) and np.array_equal(im, np.imag(x))):
        raise ValueError("x must have integer real and imaginary parts")
    lo, hi = -(1 << (sample_width - 1)), (1 << (sample_width - 1)) - 1
    if re.size and (min(re.min(), im.min()) < lo or max(re.max(), im.max()) > hi):
        raise ValueError(f"x parts must fit sample_width={sample_width} signed bits ({lo} ... {hi})")
    p, over = saturate(shift_right(re * re + im * im, shift, rounding), output_width,
                       signed_out=False)
    return p, bool(over.any())


def power_ideal(x):
    """Ideal float model: ``|x|**2`` of complex samples, no rounding or saturation.

    Parameters
    ----------
    x : array_like of complex

    Returns
    -------
    p : ndarray of float64, shape of ``x``
    """
    x = np.asarray(x, dtype=np.complex128)
    return x.real**2 + x.imag**2
