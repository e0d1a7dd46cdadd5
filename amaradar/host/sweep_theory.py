"""Theory for the sweep figures: Pd of a CFAR for a Swerling 0 or Swerling 1 target.

A Swerling 0 (constant amplitude) target of SNR ``s`` in the cell under test,
square-law detected in complex Gaussian noise of unit power, exceeds a threshold
``t`` with probability ``Q1(sqrt(2 s), sqrt(2 t))`` (Marcum Q,
``scipy.stats.ncx2.sf(2 t, 2, 2 s)``). A CFAR sets ``t = alpha Z`` from its
statistic ``Z`` over ``n`` independent unit-mean exponential reference cells,
so ``Pd = E[Q1(sqrt(2 s), sqrt(2 alpha Z))]``, integrated numerically over the law
of ``Z``: CA the mean of ``n`` (Gamma(n, 1/n)); GO/SO the larger/smaller of two
half means (Gamma(n/2, 2/n) each); OS the ``k``-th smallest of ``n`` (Rohling).
At ``s = 0`` this is the CFAR's Pfa
(:func:`amaradar.sim.models.detect.cfar.cfar_pfa`).

A Swerling 1 target (Rayleigh amplitude, the same over a look) makes the tested
cell exponential with mean ``1 + s``, so it exceeds ``t`` with probability
``exp(-t / (1 + s))``; averaged over ``Z`` that is, in closed form,
``(1 + alpha / (n (1 + s)))**-n`` for CA and Rohling's
``prod_{i<k} (n - i) / (n - i + alpha / (1 + s))`` for OS, which the tests check
the numerical integral against.

A sweep's Swerling 1 points all see the same Rayleigh amplitudes (run ``r`` draws
them from its noise seed), so their errors against that law share one sample.
:func:`swerling1_pd_given` is the Pd expected for the amplitudes actually drawn:
the mean over them of the Swerling 0 Pd at ``s |a|**2``; it leaves only the
noise's error.
"""

import math

import numpy as np
from scipy import integrate, stats

__all__ = ["swerling0_pd", "swerling1_pd", "swerling1_pd_given", "cfar_pd",
           "integration_gain_db"]

_TAIL = 1e-15
_POINTS = 8001
_LEVELS = 512             # amplitude powers at which swerling1_pd_given evaluates Pd
_LOWEST_POWER = 1e-6      # below it a draw counts as this (Pd there is the Pfa's)


def _statistic_law(cfar_type, n, os_k):
    """``(pdf, upper)``: the density of the statistic ``Z`` (vectorised) and where its
    upper tail falls below ``1e-15``."""
    if cfar_type == "ca":
        law = stats.gamma(n, scale=1 / n)
        return law.pdf, law.isf(_TAIL)
    if cfar_type in ("go", "so"):
        law = stats.gamma(n // 2, scale=2 / n)
        other = law.cdf if cfar_type == "go" else law.sf
        return (lambda z: 2 * law.pdf(z) * other(z)), law.isf(_TAIL / 2)
    if cfar_type == "os":
        # exp(-Z) is the (n - k + 1)-th smallest of n uniforms: Beta(n - k + 1, k)
        law = stats.beta(n - os_k + 1, os_k)
        return (lambda z: law.pdf(np.exp(-z)) * np.exp(-z)), -math.log(law.ppf(_TAIL))
    raise ValueError(f"cfar_type must be one of ca, go, so, os, not {cfar_type!r}")


def swerling0_pd(snr, cfar_type, alpha, n, *, os_k=None):
    """Pd of a Swerling 0 target of linear SNR ``snr`` (at the cell under test).

    Parameters
    ----------
    snr : float
        Signal power over noise power in the tested cell (linear, >= 0).
    cfar_type : {"ca", "go", "so", "os"}
    alpha : float
        The factor on the statistic, as in :func:`~amaradar.sim.models.detect.cfar.cfar_pfa`.
    n : int
        Reference cells.
    os_k : int, optional
        OS rank.

    Notes
    -----
    Simpson's rule on :data:`_POINTS` points from 0 to the statistic's tail.
    """
    return _average(lambda t: stats.ncx2.sf(2 * t, 2, 2 * snr), cfar_type, alpha, n, os_k)


def swerling1_pd(snr, cfar_type, alpha, n, *, os_k=None):
    """Pd of a Swerling 1 target of mean linear SNR ``snr``; the parameters as for
    :func:`swerling0_pd`."""
    return _average(lambda t: np.exp(-t / (1 + snr)), cfar_type, alpha, n, os_k)


def swerling1_pd_given(snr, powers, cfar_type, alpha, n, *, os_k=None):
    """Pd of a target of mean linear SNR ``snr`` whose look ``i`` had the amplitude
    power ``powers[i]`` (unit mean over the law): the mean of :func:`swerling0_pd`
    at ``snr * powers[i]``; the other parameters as for :func:`swerling0_pd`.

    Pd is evaluated at :data:`_LEVELS` powers spaced evenly in ``log`` between the
    smallest and the largest and interpolated in ``log`` power (its curvature there
    keeps the error under 1e-4)."""
    powers = np.maximum(np.asarray(powers, dtype=np.float64), _LOWEST_POWER)
    if powers.size == 0:
        raise ValueError("powers must hold at least one look")
    levels = np.geomspace(powers.min(), max(powers.max(), powers.min() * (1 + 1e-9)), _LEVELS)
    pd = [swerling0_pd(snr * level, cfar_type, alpha, n, os_k=os_k) for level in levels]
    return float(np.mean(np.interp(np.log(powers), np.log(levels), pd)))


def cfar_pd(snr, cfar_type, alpha, n, *, os_k=None, swerling=0):
    """:func:`swerling0_pd` or :func:`swerling1_pd` by ``swerling`` (0 or 1)."""
    pd = {0: swerling0_pd, 1: swerling1_pd}.get(swerling)
    if pd is None:
        raise ValueError(f"swerling must be 0 or 1, not {swerling!r}")
    return pd(snr, cfar_type, alpha, n, os_k=os_k)


def _average(exceeds, cfar_type, alpha, n, os_k):
    """``E[exceeds(alpha Z)]`` over the law of the CFAR statistic ``Z`` (Simpson's rule
    on :data:`_POINTS` points from 0 to its tail)."""
    pdf, upper = _statistic_law(cfar_type, n, os_k)
    z = np.linspace(0.0, upper, _POINTS)
    return float(integrate.simpson(exceeds(alpha * z) * pdf(z), x=z))


def integration_gain_db(pulse, taps, doppler_window=None):
    """SNR gain on white noise of the matched filter (``taps``, on the echo ``pulse``
    scaled to unit mean power: ``max |pulse * taps|**2 / sum |taps|**2``) and of the slow-time window
    (``|sum w|**2 / sum w**2``, for a target at the centre of a Doppler bin), in dB."""
    taps = np.asarray(taps, dtype=np.complex128)
    pulse = np.asarray(pulse, dtype=np.complex128)
    pulse = pulse / np.sqrt(np.mean(np.abs(pulse) ** 2))
    peak = np.max(np.abs(np.convolve(pulse, taps)) ** 2)
    gain = 10 * math.log10(peak / np.sum(np.abs(taps) ** 2))
    if doppler_window is not None:
        w = np.asarray(doppler_window, dtype=np.float64)
        gain += 10 * math.log10(w.sum() ** 2 / np.sum(w ** 2))
    return gain
