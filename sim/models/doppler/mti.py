"""MTI pulse cancellers: bit-exact model of ``hdl.doppler.mti.MtiCanceller`` and their response."""

import numpy as np

from ....hdl.doppler.mti import check_mti_mode
from ..numerics import complex_parts

__all__ = ["mti", "mti_response"]


def mti(x, *, mode="two_pulse"):
    """Bit-exact model of ``MtiCanceller``: cancel along each slow-time line.

    Parameters
    ----------
    x : array_like of complex int, shape (..., M)
        Slow-time lines along the last axis (pulse ``m`` of a range bin at
        ``x[..., m]``), parts integers; complex128 with integer parts or an
        integer array (see :mod:`amaradar.sim.models.compress.fft`).
    mode : {"two_pulse", "three_pulse"}
        ``y[m] = x[m] - x[m-1]``, or ``x[m] - 2 x[m-1] + x[m-2]``.

    Returns
    -------
    y : ndarray of complex128 (integer parts), shape of ``x``
        The filtered lines, exact; ``y[..., m] = 0`` for the transient ``m < 1``
        (two-pulse) or ``m < 2`` (three-pulse), so each line keeps ``M`` samples.
        In input units; the ideal (float) canceller gives the same values.
    """
    taps = check_mti_mode(mode)
    re, im = complex_parts(x, "x")
    if re.ndim < 1:
        raise ValueError("x must have at least one axis (the pulses)")
    order, length = len(taps) - 1, re.shape[-1]
    out = []
    for part in (re, im):
        y = np.zeros_like(part)
        for k, tap in enumerate(taps):
            y[..., order:] += tap * part[..., order - k:length - k]
        out.append(y)
    return out[0] + 1j * out[1]


def mti_response(frequency, *, prf, mode="two_pulse"):
    """Frequency response of the canceller, ``H(f) = sum_k h[k] exp(-2j pi f k / prf)``.

    Parameters
    ----------
    frequency : float or array_like
        Doppler frequency, Hz.
    prf : float
        Pulse repetition frequency, Hz.
    mode : {"two_pulse", "three_pulse"}

    Returns
    -------
    H : complex or ndarray of complex
        ``|H| = 2 |sin(pi f / prf)|`` (two-pulse), ``4 sin(pi f / prf)**2``
        (three-pulse); zero at multiples of the PRF (the blind speeds).
    """
    taps = check_mti_mode(mode)
    f = np.asarray(frequency, dtype=np.float64) / prf
    return sum(tap * np.exp(-2j * np.pi * f * k) for k, tap in enumerate(taps))
