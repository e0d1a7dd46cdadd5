"""Pulse compression by fast convolution (overlap-save): bit-exact model and float model.

The same filter as :mod:`amaradar.sim.models.compress.matched_filter` — output sample ``k`` of a
range line is ``sum_{j=0}^{min(k, P-1)} taps[j] * x[k-j]``, each line filtered as
if preceded by zeros, one output sample per input sample — computed per block
with ``n``-point FFTs instead of ``P`` multiply-accumulates per sample.

Segmenting (overlap-save)
-------------------------
``P`` taps, FFT size ``n >= 2P``, step ``S = n - P + 1``. Segment ``s`` of a line
of ``L`` samples is the ``n`` samples ``x[s*S - (P-1)], ..., x[s*S + S - 1]`` where
positions before 0 (the line's history, cleared) and from ``L`` on (padding) are
zero; a line has ``ceil(L / S)`` segments. The circular convolution of a segment
with the zero-padded taps equals the linear one at positions ``P-1 ... n-1``:
those give output samples ``s*S ... s*S + S - 1`` (only up to ``L - 1`` in the
last segment); positions ``0 ... P-2`` hold the wrapped-around part and are
dropped.

Fixed point (the gateware does exactly this)
--------------------------------------------
Per segment, with ``f = fft_width``:

1. ``x << (f - input_width)`` (exact) into a forward :func:`amaradar.sim.models.compress.fft.fft`
   of width ``f``, scaling 1 bit per stage (``1/n``, cannot overflow in a butterfly).
2. Complex product with the stored spectrum ``H`` (``coef_width`` bits per part,
   see :func:`fast_convolution_spectrum`): exact, then ``coef_width - 2`` bits
   dropped with ``rounding`` and saturated to ``f`` bits. ``|H| <= 2**(coef_width-1)``
   per part, so this is a gain of up to 2 (about 1.4 on average over the band):
   after the forward ``1/n`` a spread echo's spectrum is far below full scale
   (an LFM of ``P`` samples at full scale peaks at ``sqrt(P*fs/B)/n`` of it), and
   the extra bit halves the product's round-off against the input noise; a
   continuous tone above half scale saturates here.
3. Inverse :func:`amaradar.sim.models.compress.fft.fft` of width ``f`` keeping every bit in its
   first stages and dropping 1 bit in each of its last ``sum(inverse_scaling)``.
4. The kept positions drop ``final_shift`` bits with ``rounding`` and saturate to
   ``output_width``.

``H = round_half_even(DFT_n(taps) / 2**spectrum_shift)``: a power-of-two scale
makes the whole gain a power of two, so the output has the matched filter's scale
``conv(x, taps) / 2**output_shift`` (up to round-off) and the same ``output_shift``
(for instance :func:`amaradar.sim.models.compress.matched_filter.safe_output_shift`) serves both.
The shifts of steps 3 and 4 are what remains of the total
``f - input_width + log2(n) - spectrum_shift + output_shift`` after steps 1 and 2;
step 3 takes as much of it as it can, in its last stages: a shift early in the
inverse transform rounds the noise while it is still a few LSB and costs SNR
(0.7 dB at n = 4096 with 5 shifts first, 0.03 dB with them last), and the
worst-case bound of the intermediate words (``2**s * max|Y|`` after ``s``
unscaled stages) is never above that of the output.
"""

import numpy as np

from ....hdl.compress.fast_convolution_plan import fast_convolution_plan
from .fft import fft
from ..numerics import check_rounding, complex_parts, saturate, shift_right

__all__ = ["fast_convolution", "fast_convolution_ideal"]










def _segments(line, taps, step, n):
    """The overlap-save segments of one line, shape (ceil(L/step), n)."""
    count = -(-len(line) // step)
    padded = np.zeros(taps - 1 + count * step, dtype=line.dtype)
    padded[taps - 1:taps - 1 + len(line)] = line
    index = np.arange(count)[:, np.newaxis] * step + np.arange(n)[np.newaxis, :]
    return padded[index]


def _kept(blocks, taps, length):
    """The valid positions ``P-1 ... n-1`` of each block, concatenated, cut to ``length``."""
    return blocks[:, taps - 1:].ravel()[:length]


def fast_convolution(x, taps, *, n, input_width, output_width, output_shift, coef_width=16,
                     fft_width=18, twiddle_width=18, rounding="half_even"):
    """Bit-exact model of :class:`amaradar.hdl.compress.fast_convolution.FastConvolution`.

    Parameters
    ----------
    x : array_like of complex int, shape (L,) or (lines, L), or a list of 1-D lines
        Range line(s) of input samples, parts in ``signed(input_width)``, in LSB.
    taps : array_like of complex int, shape (P,)
    n, input_width, output_width, output_shift, coef_width, fft_width :
        See :func:`fast_convolution_plan`.
    twiddle_width : int
        Bits per part of the FFTs' twiddles.
    rounding : {"half_even", "truncate"}
        Rounding of every dropped bit.

    Returns
    -------
    y : ndarray of complex128 (integer parts), shape of ``x`` (a list for a list)
        ``≈ conv(x, taps) / 2**output_shift`` per line, in output LSB; the error is
        the round-off of the steps in the module docstring.
    overflowed : bool
        Whether anything saturated (the core's sticky ``overflow``).
    """
    check_rounding(rounding)
    plan = fast_convolution_plan(taps, n=n, input_width=input_width, output_width=output_width,
                                 output_shift=output_shift, coef_width=coef_width,
                                 fft_width=fft_width)
    lines = x if isinstance(x, list) else np.atleast_2d(np.asarray(x))
    out, over = [], False
    common = dict(n=n, width=fft_width, twiddle_width=twiddle_width, rounding=rounding)
    h_re, h_im = complex_parts(plan.spectrum, "spectrum")
    for line in lines:
        re, im = complex_parts(line, "x")
        lo, hi = -(1 << (input_width - 1)), (1 << (input_width - 1)) - 1
        if re.size and (min(re.min(), im.min()) < lo or max(re.max(), im.max()) > hi):
            raise ValueError(f"x parts must fit signed({input_width}): {lo} ... {hi}")
        blocks = _segments((re + 1j * im) * 2.0**plan.input_shift, plan.taps, plan.step, n)
        spectra, o1 = fft(blocks, scaling=plan.forward_scaling, **common)
        s_re, s_im = spectra.real.astype(np.int64), spectra.imag.astype(np.int64)
        y_re, o2 = saturate(shift_right(s_re * h_re - s_im * h_im, plan.product_shift, rounding),
                            fft_width)
        y_im, o3 = saturate(shift_right(s_re * h_im + s_im * h_re, plan.product_shift, rounding),
                            fft_width)
        blocks, o4 = fft(y_re + 1j * y_im, inverse=True, scaling=plan.inverse_scaling, **common)
        kept = _kept(blocks, plan.taps, len(re))
        parts = [saturate(shift_right(part.astype(np.int64), plan.final_shift, rounding),
                          output_width) for part in (kept.real, kept.imag)]
        out.append(parts[0][0] + 1j * parts[1][0])
        over |= bool(np.any(o1) or o2.any() or o3.any() or np.any(o4)
                     or parts[0][1].any() or parts[1][1].any())
    if isinstance(x, list):
        return out, over
    return np.reshape(np.array(out), np.shape(x)), over


def fast_convolution_ideal(x, taps, *, n, output_shift=0):
    """Float model: the same overlap-save with ``np.fft`` and no rounding.

    Parameters
    ----------
    x : array_like of complex, shape (L,) or (lines, L)
    taps : array_like of complex, shape (P,)
        For instance ``matched_filter_taps(..., quantize=False)``.
    n : int
        FFT size, ``>= 2P``.
    output_shift : int
        The output is divided by ``2**output_shift``.

    Returns
    -------
    y : ndarray of complex128, shape of ``x``
        Equal to ``np.convolve(line, taps)[:L] / 2**output_shift`` per line up to
        float round-off.
    """
    taps = np.asarray(taps, dtype=np.complex128)
    x = np.asarray(x, dtype=np.complex128)
    spectrum = np.fft.fft(taps, n)
    step = n - len(taps) + 1
    out = [_kept(np.fft.ifft(np.fft.fft(_segments(line, len(taps), step, n), axis=-1) * spectrum,
                             axis=-1), len(taps), len(line))
           for line in np.atleast_2d(x)]
    return np.reshape(np.array(out), x.shape) / 2.0**output_shift
