"""Pulse compression by a complex FIR: taps, bit-exact model and ideal float model.

Complex integer arrays
----------------------
numpy has no complex integer type. A *complex int array* here is a numpy complex
array whose real and imaginary parts are integers (``complex128`` holds them
exactly up to 2**53); real integer arrays are accepted too (imaginary part 0).

A range line is filtered on its own, as if preceded by zeros: output sample ``k``
of a line of ``N`` samples is ``sum_{j=0}^{min(k, P-1)} taps[j] * x[k - j]`` and a
line gives ``N`` output samples. With ``taps`` from :func:`matched_filter_taps` the
echo of a pulse that starts at range bin ``r`` peaks at output sample ``r + P - 1``.
"""

import numpy as np

from ..numerics import complex_parts, saturate, shift_right
from ....spec.checks import check_integer

__all__ = ["matched_filter_taps", "safe_output_shift", "matched_filter", "matched_filter_ideal"]


def matched_filter_taps(pulse, *, coef_width, window=None, quantize=True):
    """Taps of the filter matched to ``pulse``: conjugated, time-reversed, scaled.

    Parameters
    ----------
    pulse : array_like of complex, shape (P,)
        Reference pulse (complex ints or complex floats), one value per sample.
    coef_width : int
        Bits per real and imaginary part of a tap (signed). The largest ``|real|``
        or ``|imag|`` part of the result is ``2**(coef_width-1) - 1``.
    window : array_like of float, shape (P,), optional
        Amplitude weighting; ``window[n]`` multiplies ``pulse[n]`` before the
        reversal (symmetric windows read the same either way).
    quantize : bool
        Round half to even to integers (default). ``False`` returns the same scaled
        taps unrounded: the ideal taps that the integer taps approximate.

    Returns
    -------
    taps : ndarray of complex128, shape (P,)
        ``taps[j] = s * conj(pulse[P-1-j] * window[P-1-j])`` for the scale ``s``;
        integer parts when ``quantize``.
    """
    pulse = np.asarray(pulse, dtype=np.complex128)
    if pulse.ndim != 1 or pulse.size == 0:
        raise ValueError(f"pulse must be a non-empty 1-D array, not shape {pulse.shape}")
    if not isinstance(coef_width, int) or isinstance(coef_width, bool) or coef_width < 2:
        raise ValueError(f"coef_width must be an integer >= 2, not {coef_width!r}")
    weighted = pulse
    if window is not None:
        window = np.asarray(window, dtype=np.float64)
        if window.shape != pulse.shape:
            raise ValueError(f"window must have the pulse's shape {pulse.shape}, not {window.shape}")
        weighted = pulse * window
    ideal = np.conj(weighted[::-1])
    peak = max(np.abs(ideal.real).max(), np.abs(ideal.imag).max())
    if peak == 0:
        raise ValueError("pulse (times window) must not be all zero")
    ideal = ideal * (((1 << (coef_width - 1)) - 1) / peak)
    if not quantize:
        return ideal
    return np.round(ideal.real) + 1j * np.round(ideal.imag)


def _extremes(taps, input_width):
    """Largest and smallest real or imaginary accumulator value over all inputs."""
    tr, ti = complex_parts(taps, "taps")
    hi_in, lo_in = (1 << (input_width - 1)) - 1, -(1 << (input_width - 1))
    # Real part: sum_j (hr x_r - hi x_i); imaginary: sum_j (hr x_i + hi x_r). Every
    # term takes its own input value, so both parts reach sum of term maxima.
    tops = [sum(max(int(c) * hi_in, int(c) * lo_in) for c in part) for part in (tr, ti)]
    bottoms = [sum(min(int(c) * hi_in, int(c) * lo_in) for c in part) for part in (tr, ti)]
    return tops[0] + tops[1], bottoms[0] + bottoms[1]


def safe_output_shift(taps, input_width, output_width, *, rounding="half_even"):
    """Smallest ``output_shift`` with which no input of ``input_width`` bits saturates.

    Parameters
    ----------
    taps : array_like of complex int, shape (P,)
    input_width, output_width : int
        Signed bits per real/imaginary part of the input and the output.
    rounding : {"half_even", "truncate"}
        Rounding of the shift (half to even can round the largest sum up).

    Returns
    -------
    shift : int
    """
    top, bottom = _extremes(taps, input_width)
    hi_out, lo_out = (1 << (output_width - 1)) - 1, -(1 << (output_width - 1))
    shift = 0
    while True:
        ends = shift_right(np.array([top, bottom], dtype=np.int64), shift, rounding)
        if ends[0] <= hi_out and ends[1] >= lo_out:
            return shift
        shift += 1


def _convolve_lines(x, taps):
    """Exact causal integer convolution of each line (last axis) with ``taps``."""
    xr, xi = complex_parts(x, "x")
    tr, ti = complex_parts(taps, "taps")
    if tr.ndim != 1 or tr.size == 0:
        raise ValueError(f"taps must be a non-empty 1-D array, not shape {tr.shape}")
    if xr.ndim not in (1, 2):
        raise ValueError(f"x must be a range line or a 2-D array of lines, not {xr.ndim}-D")
    bound = max(int(np.abs(xr).max(initial=0)), int(np.abs(xi).max(initial=0)))
    if bound * int(np.abs(tr).sum() + np.abs(ti).sum()) >= 2**63:
        raise ValueError("x and taps are too large for exact int64 accumulation")
    lines_r, lines_i = np.atleast_2d(xr), np.atleast_2d(xi)
    n = lines_r.shape[1]
    yr = np.empty(lines_r.shape, dtype=np.int64)
    yi = np.empty(lines_r.shape, dtype=np.int64)
    for k, (line_r, line_i) in enumerate(zip(lines_r, lines_i)):
        # np.convolve on int64 is a direct integer sum: exact (no FFT).
        yr[k] = (np.convolve(line_r, tr) - np.convolve(line_i, ti))[:n]
        yi[k] = (np.convolve(line_i, tr) + np.convolve(line_r, ti))[:n]
    return yr.reshape(xr.shape), yi.reshape(xr.shape)


def matched_filter(x, taps, *, output_width, output_shift, rounding="half_even"):
    """Bit-exact model of :class:`amaradar.hdl.compress.matched_filter.MatchedFilter`.

    Parameters
    ----------
    x : array_like of complex int, shape (N,) or (lines, N)
        Range line(s) of ADC samples, in LSB.
    taps : array_like of complex int, shape (P,)
    output_width : int
        Signed bits per part of the output, at most 53.
    output_shift : int
        Bits dropped from the full-precision sum, >= 0.
    rounding : {"half_even", "truncate"}

    Returns
    -------
    y : ndarray of complex128, shape of ``x``
        ``saturate(shift_right(sum_j taps[j] x[k-j], output_shift, rounding))`` per
        part, integer values, in output LSB.
    overflowed : bool
        True if any real or imaginary part saturated (the sticky ``overflow`` flag).
    """
    check_integer("output_width", output_width, 1, 53)
    check_integer("output_shift", output_shift, 0)
    acc_r, acc_i = _convolve_lines(x, taps)
    yr, over_r = saturate(shift_right(acc_r, output_shift, rounding), output_width)
    yi, over_i = saturate(shift_right(acc_i, output_shift, rounding), output_width)
    return yr + 1j * yi, bool(over_r.any() or over_i.any())


def matched_filter_ideal(x, taps, *, output_shift=0):
    """Ideal float model: the same line-wise causal FIR without rounding or saturation.

    Parameters
    ----------
    x : array_like of complex, shape (N,) or (lines, N)
    taps : array_like of complex, shape (P,)
        For instance ``matched_filter_taps(..., quantize=False)``.
    output_shift : int
        The output is divided by ``2**output_shift`` (same scale as the fixed-point model).

    Returns
    -------
    y : ndarray of complex128, shape of ``x``
    """
    x = np.asarray(x, dtype=np.complex128)
    taps = np.asarray(taps, dtype=np.complex128)
    from scipy.signal import oaconvolve  # slow to import; only the ideal model needs it
    full = oaconvolve(np.atleast_2d(x), taps[np.newaxis, :], axes=-1)
    return full[:, :x.shape[-1]].reshape(x.shape) / 2.0**output_shift
