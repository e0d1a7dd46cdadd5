"""The FFT's tables and parameter checks, shared by the gateware and its models.

The twiddle ROMs of ``FFT`` and ``IterativeFFT`` and the check of their
parameters are computed here once; ``amaradar.sim.models.compress`` uses the same
functions, so model and gateware hold the same bits.
"""

import numpy as np

from ..numerics import check_rounding
from ...spec.checks import check_integer

__all__ = ["MIN_N", "MAX_N", "bit_reverse", "fft_twiddles", "twiddle_powers", "twiddle_table",
           "check_fft_parameters"]


MIN_N, MAX_N = 8, 4096


def bit_reverse(index, bits):
    """Reverse the low ``bits`` bits of the integer array ``index``."""
    index = np.asarray(index, dtype=np.int64)
    out = np.zeros_like(index)
    for b in range(bits):
        out |= ((index >> b) & 1) << (bits - 1 - b)
    return out


def fft_twiddles(m, *, twiddle_width, inverse=False):
    """Twiddles of a radix-2^2 pair on blocks of ``m`` samples, by position in the block.

    Parameters
    ----------
    m : int
        Block size of the pair (a power of two >= 8).
    twiddle_width : int
        Bits per real and imaginary part (signed, ``twiddle_width - 1`` fraction bits).
    inverse : bool
        Conjugate twiddles (inverse transform).

    Returns
    -------
    re, im : ndarray of int64, shape (m,)
        ``W_m**(n3*(k1 + 2*k2))`` for position ``p = k1*m/2 + k2*m/4 + n3``, rounded half
        to even to integers and clamped to ``±(2**(twiddle_width-1) - 1)``.
    """
    p = np.arange(m)
    quarter = p // (m // 4)
    exponent = (p % (m // 4)) * np.array([0, 2, 1, 3])[quarter]
    return twiddle_powers(exponent, m, twiddle_width=twiddle_width, inverse=inverse)


def twiddle_powers(exponent, m, *, twiddle_width, inverse=False):
    """``W_m**exponent``, ``W_m = exp(-2j*pi/m)`` (conjugated if ``inverse``), as integers.

    Parameters
    ----------
    exponent : array_like of int
    m : int
        A power of two.
    twiddle_width : int
        Bits per real and imaginary part (signed, ``twiddle_width - 1`` fraction bits).
    inverse : bool
        Conjugate twiddles.

    Returns
    -------
    re, im : ndarray of int64, shape of ``exponent``
        Rounded half to even and clamped to ``±(2**(twiddle_width-1) - 1)``. For a
        power of two ``m``, ``W_m**e`` and ``W_(m*2**k)**(e*2**k)`` give the same bits.
    """
    exponent = np.asarray(exponent, dtype=np.int64)
    sign = 1 if inverse else -1
    w = np.exp(sign * 2j * np.pi * exponent / m) * 2.0**(twiddle_width - 1)
    top = (1 << (twiddle_width - 1)) - 1
    return (np.clip(np.round(w.real), -top, top).astype(np.int64),
            np.clip(np.round(w.imag), -top, top).astype(np.int64))


def check_fft_parameters(n, width, twiddle_width, scaling, rounding, guard_bits):
    """Check the parameters shared by the model and the gateware; return ``scaling``
    as a tuple (the default, ``None``, is 1 bit per stage)."""
    if not isinstance(n, int) or isinstance(n, bool) or not (MIN_N <= n <= MAX_N) or n & (n - 1):
        raise ValueError(f"n must be a power of two from {MIN_N} to {MAX_N}, not {n!r}")
    for name, value, low in (("width", width, 2), ("twiddle_width", twiddle_width, 3),
                             ("guard_bits", guard_bits, 0)):
        check_integer(name, value, low, 24)
    check_rounding(rounding)
    stages = n.bit_length() - 1
    if scaling is None:
        return (1,) * stages
    if (not isinstance(scaling, (tuple, list)) or len(scaling) != stages
            or any(s not in (0, 1) or isinstance(s, bool) for s in scaling)):
        raise ValueError(f"scaling must be a sequence of {stages} shifts, each 0 or 1, "
                         f"not {scaling!r}")
    return tuple(int(s) for s in scaling)


def twiddle_table(n, *, twiddle_width, inverse=False):
    """The core's twiddle ROM: ``W_n**k`` for ``k = 0 ... 3n/4 - 1``.

    Parameters
    ----------
    n : int
        Transform size (a power of two).
    twiddle_width : int
        Bits per part (signed, ``twiddle_width - 1`` fraction bits).
    inverse : bool
        Conjugate twiddles.

    Returns
    -------
    re, im : ndarray of int64, shape (3n/4,)
    """
    return twiddle_powers(np.arange(3 * n // 4), n, twiddle_width=twiddle_width, inverse=inverse)
