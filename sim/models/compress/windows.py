"""Amplitude windows for the models, and their quantisation to ROM words.

Hamming and Hann from numpy's textbook formulas, the others from
:mod:`scipy.signal.windows` (imported only for them: importing ``scipy.signal``
takes over a second); every window is exactly symmetric (the filter-design
convention, ``sym=True``, with scipy's last-ulp asymmetry averaged away) and peaks
at 1.
"""

import numpy as np
from ....spec.checks import check_integer

__all__ = ["WINDOWS", "window", "quantize_window"]

WINDOWS = ("rectangular", "hamming", "hann", "blackman_harris", "taylor")


def window(name, length, *, nbar=5, sll=35.0):
    """Window ``name`` of ``length`` samples.

    Parameters
    ----------
    name : {"rectangular", "hamming", "hann", "blackman_harris", "taylor"}
        ``blackman_harris`` is the 4-term minimum Blackman-Harris (-92 dB).
    length : int
        Samples, >= 1.
    nbar : int
        Taylor only: number of nearly constant sidelobes next to the main lobe.
    sll : float
        Taylor only: design sidelobe level in dB below the main lobe (positive).

    Returns
    -------
    ndarray of float64, shape (length,)
        Weights, largest 1 (Taylor is normalised to a peak of 1 as well).
    """
    if name not in WINDOWS:
        raise ValueError(f"name must be one of {WINDOWS}, not {name!r}")
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise ValueError(f"length must be an integer >= 1, not {length!r}")
    if name == "rectangular":
        return np.ones(length)
    if name == "hamming":
        return np.hamming(length)
    if name == "hann":
        return np.hanning(length)
    from scipy.signal import windows as scipy_windows
    if name == "blackman_harris":
        weights = scipy_windows.blackmanharris(length)
    else:
        if not isinstance(nbar, int) or isinstance(nbar, bool) or nbar < 1:
            raise ValueError(f"nbar must be an integer >= 1, not {nbar!r}")
        if not sll > 0:
            raise ValueError(f"sll must be a positive number of dB, not {sll!r}")
        weights = scipy_windows.taylor(length, nbar=nbar, sll=sll, norm=True)
    # scipy's weights are symmetric to an ulp or so; make them exactly so.
    return (weights + weights[::-1]) / 2


def quantize_window(weights, width):
    """Weights as unsigned ROM words of ``width`` bits, rounded half to even.

    The scale is ``2**width - 1`` for the largest weight 1 (so 1 is exactly the
    largest word): ``word = round_half_even(w * (2**width - 1))``.

    Parameters
    ----------
    weights : array_like of float, values in [0, 1]
    width : int
        Bits per word, 2 ... 32.

    Returns
    -------
    ndarray of int64
    """
    check_integer("width", width, 2, 32)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.size and (weights.min() < 0 or weights.max() > 1):
        raise ValueError("weights must lie in [0, 1]")
    return np.round(weights * ((1 << width) - 1)).astype(np.int64)
