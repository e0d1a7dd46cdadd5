"""The fixed-point plan of the fast-convolution compressor, shared by gateware and model.

``FastConvolution`` is elaborated with these numbers and
``amaradar.sim.models.compress.fast_convolution`` computes with them (the
model's module docstring derives each shift).
"""

from dataclasses import dataclass

import numpy as np

from ...spec.checks import check_integer
from ..numerics import complex_parts
from .fft_tables import check_fft_parameters

__all__ = ["FastConvolutionPlan", "fast_convolution_spectrum", "fast_convolution_plan"]


@dataclass(frozen=True)
class FastConvolutionPlan:
    """Every number the gateware is elaborated with (see the model's module docstring).

    Attributes
    ----------
    n : int
        FFT size.
    taps : int
        ``P``, the number of taps.
    step : int
        ``S = n - P + 1``: new input samples (and output samples) per segment.
    spectrum : ndarray of complex128, shape (n,)
        ``H``, integer parts in ``signed(coef_width)``, natural bin order.
    spectrum_shift : int
        ``H = round(DFT_n(taps) / 2**spectrum_shift)``.
    input_shift : int
        ``fft_width - input_width``.
    product_shift : int
        ``coef_width - 2``.
    forward_scaling, inverse_scaling : tuple of int
        Scaling schedules of the two FFTs.
    final_shift : int
        Bits dropped at the output.
    """
    n: int
    taps: int
    step: int
    spectrum: np.ndarray
    spectrum_shift: int
    input_shift: int
    product_shift: int
    forward_scaling: tuple
    inverse_scaling: tuple
    final_shift: int


def fast_convolution_spectrum(taps, *, n, coef_width):
    """The stored reference spectrum: ``DFT_n(taps)`` scaled by a power of two.

    Parameters
    ----------
    taps : array_like of complex int, shape (P,)
        The matched filter's taps (conjugated, time-reversed, windowed pulse, see
        :func:`amaradar.sim.models.compress.matched_filter.matched_filter_taps`).
    n : int
        FFT size, ``>= 2P``.
    coef_width : int
        Signed bits per part of a spectrum word.

    Returns
    -------
    spectrum : ndarray of complex128, shape (n,)
        ``round_half_even(DFT_n(taps) / 2**shift)``, parts in
        ``±(2**(coef_width-1) - 1)``.
    shift : int
        The smallest ``shift >= 0`` for which every part fits.
    """
    tr, ti = complex_parts(taps, "taps")
    if tr.ndim != 1 or not 2 <= tr.size <= n // 2:
        raise ValueError(f"taps must be a 1-D sequence of 2 to n/2 = {n // 2} values, "
                         f"not shape {tr.shape}")
    check_integer("coef_width", coef_width, 2, 24)
    exact = np.fft.fft(tr + 1j * ti, n)
    top = (1 << (coef_width - 1)) - 1
    shift = 0
    while True:
        scaled = exact / 2.0**shift
        spectrum = np.round(scaled.real) + 1j * np.round(scaled.imag)
        if max(np.abs(spectrum.real).max(), np.abs(spectrum.imag).max()) <= top:
            return spectrum, shift
        shift += 1


def fast_convolution_plan(taps, *, n, input_width, output_width, output_shift, coef_width=16,
                          fft_width=18):
    """Check the parameters and derive the fixed-point plan (the model's module docstring).

    Parameters
    ----------
    taps : array_like of complex int, shape (P,)
    n : int
        FFT size, a power of two from 8 to 4096, ``>= 2P``.
    input_width, output_width : int
        Signed bits per part of the input and the output samples.
    output_shift : int
        The output is ``conv(x, taps) / 2**output_shift`` like the matched filter's.
    coef_width : int
        Bits per part of the stored spectrum.
    fft_width : int
        Bits per part of the FFTs' data words, ``>= input_width``.

    Returns
    -------
    FastConvolutionPlan
    """
    check_integer("fft_width", fft_width, 2, 24)
    check_fft_parameters(n, fft_width, 18, None, "half_even", 2)
    check_integer("input_width", input_width, 2, fft_width)
    check_integer("output_width", output_width, 2, 53)
    spectrum, spectrum_shift = fast_convolution_spectrum(taps, n=n, coef_width=coef_width)
    stages = n.bit_length() - 1
    check_integer("output_shift", output_shift, 0)
    rest = fft_width - input_width - spectrum_shift - coef_width + 2 + output_shift
    if rest < 0:
        raise ValueError(f"output_shift must be at least {output_shift - rest} for these taps, "
                         f"n and widths, not {output_shift!r}")
    inverse = min(rest, stages)
    return FastConvolutionPlan(
        n=n, taps=int(np.size(taps)), step=n - np.size(taps) + 1,
        spectrum=spectrum, spectrum_shift=spectrum_shift, input_shift=fft_width - input_width,
        product_shift=coef_width - 2, forward_scaling=(1,) * stages,
        inverse_scaling=(0,) * (stages - inverse) + (1,) * inverse, final_shift=rest - inverse)
