"""Doppler filter bank: bit-exact model of ``hdl.doppler.doppler_filter.DopplerFilter``,
its ideal float model, the window words and the bin <-> frequency map.

Fixed point (the gateware does exactly this)
--------------------------------------------
Sample ``m`` of a slow-time line (both parts) is multiplied exactly by the ROM
word ``c[m] = (-1)**m * window[m]``; the product drops ``shift = coef_width - 1 -
(output_width - width)`` bits rounding half to even (or is shifted left by
``-shift``) and saturates to ``signed(output_width)``. The line then goes
through :func:`amaradar.sim.models.compress.fft.fft` with ``n = M``,
``width = output_width``, rounding half to even. The factor ``(-1)**m`` moves
zero Doppler from bin 0 to bin ``M/2``: the natural-order FFT output is the
``fftshift`` of the spectrum.
"""

import numpy as np

from ....hdl.doppler.doppler_filter import doppler_parameters
from ....hdl.formats import COEF_WIDTH
from ..compress.fft import fft, fft_frames
from ..compress.windows import quantize_window, window as window_weights
from ..numerics import saturate, shift_right

__all__ = ["doppler_window", "doppler_filter", "doppler_filter_ideal", "doppler_bin",
           "doppler_frequencies"]


def doppler_window(name, pulses, *, coef_width=COEF_WIDTH, periodic=True, **kwargs):
    """The ``window`` words of ``DopplerFilter`` for a named window.

    Parameters
    ----------
    name : str
        A window of :func:`amaradar.sim.models.compress.windows.window`
        (``"rectangular"``, ``"hamming"``, ...); ``kwargs`` go to it (Taylor).
    pulses : int
        ``M``.
    coef_width : int
        The filter's ``coef_width``: words of ``coef_width - 1`` unsigned bits.
    periodic : bool
        ``True`` (default): the DFT-even window, the first ``M`` of ``M + 1``
        symmetric weights, whose nulls fall on DFT bins (Hamming: SNR loss exactly
        1.344 dB for every ``M``). ``False``: the symmetric ``M``-point window.

    Returns
    -------
    ndarray of int64, shape (pulses,)
        ``round_half_even(w[m] * (2**(coef_width-1) - 1))``
        (:func:`amaradar.sim.models.compress.windows.quantize_window`).
    """
    weights = window_weights(name, pulses + 1, **kwargs)[:pulses] if periodic else \
        window_weights(name, pulses, **kwargs)
    return quantize_window(weights, coef_width - 1)


def doppler_filter(x, *, pulses, width, window, coef_width=COEF_WIDTH, output_width=None,
                   twiddle_width=COEF_WIDTH, scaling=None, guard_bits=2):
    """Bit-exact model of ``DopplerFilter``: the Doppler bins of slow-time lines.

    Parameters
    ----------
    x : array_like of complex int, shape (pulses,) or (range_bins, pulses)
        Slow-time lines (pulse ``m`` of a range bin at ``x[..., m]``), each part
        in ``signed(width)``.
    pulses, width, window, coef_width, output_width, twiddle_width, scaling, guard_bits
        As for the gateware (``window``: ``M`` unsigned words, see
        :func:`doppler_window`).

    Returns
    -------
    X : ndarray of complex128 (integer parts), shape of ``x``
        ``X[..., d]`` is Doppler bin ``d``, centred at ``(d - M/2) * PRF / M``
        (:func:`doppler_frequencies`), parts in ``signed(output_width)``;
        ``X ≈ doppler_filter_ideal(x, window=window / (2**(coef_width-1) - 1), ...)``
        up to the round-off of the module docstring.
    overflowed : bool or ndarray of bool, shape (range_bins,)
        Whether any saturation happened in the line (the gateware's sticky
        ``overflow`` is the OR over the lines it has processed).
    """
    coefficients, scaling, output_width, shift = doppler_parameters(
        pulses=pulses, width=width, window=window, coef_width=coef_width,
        output_width=output_width, twiddle_width=twiddle_width, scaling=scaling,
        guard_bits=guard_bits)
    re, im, one_d = fft_frames(x, pulses, width)
    c = np.array(coefficients, dtype=np.int64)
    parts, flags = [], []
    for part in (re, im):
        product = part * c
        scaled = shift_right(product, shift, "half_even") if shift >= 0 else product << -shift
        value, flag = saturate(scaled, output_width)
        parts.append(value)
        flags.append(flag.any(axis=1))
    spectrum, fft_flags = fft(parts[0] + 1j * parts[1], n=pulses, width=output_width,
                              twiddle_width=twiddle_width, scaling=scaling,
                              rounding="half_even", guard_bits=guard_bits)
    overflowed = flags[0] | flags[1] | fft_flags
    if one_d:
        return spectrum[0], bool(overflowed[0])
    return spectrum, overflowed


def doppler_filter_ideal(x, *, window, width, output_width=None, scaling=None):
    """Float model: ``fftshift`` of the windowed DFT, in the units of :func:`doppler_filter`.

    Parameters
    ----------
    x : array_like of complex, shape (..., M)
        Slow-time lines.
    window : array_like of float, shape (M,)
        Weights (1 for the largest word): ``doppler_window(...) / (2**(coef_width-1) - 1)``
        to measure the arithmetic alone, the unquantised weights to include the
        window's quantisation.
    width, output_width, scaling
        As for :func:`doppler_filter` (they set the gain).

    Returns
    -------
    X : ndarray of complex128, shape of ``x``
        ``2**(output_width - width - sum(scaling)) * fftshift(fft(x * window))``
        along the last axis: ``X[..., d]`` at ``(d - M/2) * PRF / M``. Written with
        ``np.fft.fftshift``, not with the ``(-1)**m`` of the gateware, so that the
        two are checked against each other.
    """
    x = np.asarray(x, dtype=np.complex128)
    pulses = x.shape[-1]
    output_width = width if output_width is None else output_width
    total = pulses.bit_length() - 1 if scaling is None else sum(scaling)
    gain = 2.0 ** (output_width - width - total)
    spectrum = np.fft.fft(x * np.asarray(window, dtype=np.float64), axis=-1)
    return gain * np.fft.fftshift(spectrum, axes=-1)


def doppler_bin(frequency, *, prf, pulses):
    """The Doppler bin where a tone at ``frequency`` (Hz) peaks: ``M/2 + round(f M / PRF)``,
    folded into ``0 ... M-1`` (frequencies alias modulo the PRF). Returns an int or an
    int64 array."""
    bins = pulses // 2 + np.round(np.asarray(frequency, dtype=np.float64) * pulses / prf)
    bins = np.mod(bins, pulses).astype(np.int64)
    return int(bins) if bins.ndim == 0 else bins


def doppler_frequencies(pulses, *, prf):
    """Centre frequency (Hz) of each Doppler bin ``d = 0 ... M-1``: ``(d - M/2) * PRF / M``."""
    return (np.arange(pulses) - pulses // 2) * (prf / pulses)
