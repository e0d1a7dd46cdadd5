"""CFAR family on the range–Doppler map: bit-exact model of ``hdl.detect.cfar.Cfar``,
ideal float model, and the threshold factors that meet a design false-alarm rate.

Geometry (one CPI, ``x[r, d]``, ``r`` range bin 0 ... L-1, ``d`` Doppler bin 0 ... M-1)
--------------------------------------------------------------------------------------
The window of the cell under test ``(r, d)`` is the rectangle of range offsets
``|dr| <= N + G`` and circular Doppler offsets ``|dd| <= Dd + Gd``; its guard
rectangle is ``|dr| <= G, |dd| <= Gd``; the *reference set* is the rectangle minus
the guard rectangle (``N = reference_cells``, ``G = guard_cells``, ``Dd =
doppler_reference_cells``, ``Gd = doppler_guard_cells``, all per side). With
``Dd = Gd = 0`` it is the 1-D window along range, ``2N`` cells of column ``d``.

The two *halves* are the reference cells before and after the cell under test in
the stream's raster order (range-major): the **leading** half ``dr < 0``, or
``dr = 0`` and ``dd < 0``; the **lagging** half ``dr > 0``, or ``dr = 0`` and
``dd > 0``. They mirror each other through the cell under test and hold
``n / 2`` cells each (``n`` = :func:`reference_count`); in 1-D they are the ``N``
cells nearer range 0 and the ``N`` cells beyond.

Statistic ``S``: CA the sum of the ``n`` reference cells; GO the larger of the two
half sums; SO the smaller; OS the ``k``-th smallest reference cell (``k = os_k``,
1-based). A cell is detected, exactly in integers, iff
``x[r, d] * 2**F > scale * S`` (``F = CFAR_SCALE_FRAC``); its threshold is
``(scale * S) >> F``. The ``scale`` word therefore is ``alpha / n`` (CA),
``alpha / (n/2)`` (GO, SO: alpha on the larger / smaller half *mean*) or ``T``
(OS) in UQ4.16: see :func:`cfar_scale_word`.

Only rows with the whole range window inside the CPI are tested,
``N + G <= r <= L - 1 - N - G``; Doppler wraps, so every column is tested.
"""

from collections import namedtuple

import numpy as np
from scipy import integrate, optimize, stats

from ....hdl.detect.cfar import CFAR_TYPES
from ....hdl.formats import CFAR_SCALE_FRAC, CFAR_SCALE_WIDTH
from ....spec.checks import check_integer
from ....spec.records import CPI_WIDTH, HIT, numpy_fields

__all__ = ["CFAR_TYPES", "HIT_DTYPE", "OUTPUT_DTYPE", "reference_count", "window_cells",
           "check_config", "cfar_thresholds", "cfar_map", "cfar_stream", "cfar_ideal",
           "statistic_cells", "cfar_pfa", "cfar_alpha", "cfar_scale_word", "cfar_applied_alpha",
           "taps_acf", "doppler_acf", "window_covariance", "CorrelatedPfa",
           "cfar_pfa_correlated", "cfar_alpha_correlated"]

HIT_DTYPE = np.dtype(numpy_fields(HIT))
"""A hit: the fields of ``spec.records.HIT``."""

OUTPUT_DTYPE = np.dtype(numpy_fields(HIT) + [("cpi_end", np.int64)])
"""A word of the ``Cfar`` output stream: a hit, or with ``cpi_end = 1`` the end of a CPI
(then only ``cpi`` is set, the other fields are 0)."""


# ---------------------------------------------------------------- geometry

def reference_count(reference_cells, guard_cells, doppler_reference_cells=0, doppler_guard_cells=0):
    """Number ``n`` of reference cells of a window (the rectangle minus the guard rectangle).

    ``(2(N+G)+1) * (2(Dd+Gd)+1) - (2G+1) * (2Gd+1)``; ``2N`` in 1-D. Even: each half
    holds ``n / 2``.
    """
    n, g, dn, dg = reference_cells, guard_cells, doppler_reference_cells, doppler_guard_cells
    return (2 * (n + g) + 1) * (2 * (dn + dg) + 1) - (2 * g + 1) * (2 * dg + 1)


def window_cells(reference_cells, guard_cells, doppler_reference_cells=0, doppler_guard_cells=0):
    """The reference cells as ``(leading, lagging)``, each an int array of ``(dr, dd)``
    offsets from the cell under test, in raster order (see the module docstring)."""
    n, g, dn, dg = reference_cells, guard_cells, doppler_reference_cells, doppler_guard_cells
    leading, lagging = [], []
    for dr in range(-n - g, n + g + 1):
        for dd in range(-dn - dg, dn + dg + 1):
            if abs(dr) <= g and abs(dd) <= dg:
                continue
            (leading if (dr, dd) < (0, 0) else lagging).append((dr, dd))
    return np.array(leading, dtype=np.int64).reshape(-1, 2), \
        np.array(lagging, dtype=np.int64).reshape(-1, 2)


def check_config(*, cfar_type, reference_cells, guard_cells, os_k=None, doppler_reference_cells=0,
                 doppler_guard_cells=0, doppler_cells=None):
    """Check one detector configuration; return ``os_k`` (an int for OS, else None).

    Raises ``TypeError``/``ValueError`` naming the parameter, its value and what is
    allowed. ``doppler_cells`` (M), when given, bounds the Doppler window
    ``2(Dd + Gd) + 1 <= M``.
    """
    if cfar_type not in CFAR_TYPES:
        raise ValueError(f"cfar_type must be one of {', '.join(CFAR_TYPES)}, not {cfar_type!r}")
    check_integer("reference_cells", reference_cells, 1)
    check_integer("guard_cells", guard_cells, 0)
    check_integer("doppler_reference_cells", doppler_reference_cells, 0)
    check_integer("doppler_guard_cells", doppler_guard_cells, 0)
    if doppler_cells is not None:
        span = 2 * (doppler_reference_cells + doppler_guard_cells) + 1
        if span > doppler_cells:
            raise ValueError(f"Doppler window 2*(doppler_reference_cells + "
                             f"doppler_guard_cells) + 1 = {span} must be at most "
                             f"doppler_cells = {doppler_cells}")
    if cfar_type != "os":
        return None
    n = reference_count(reference_cells, guard_cells, doppler_reference_cells, doppler_guard_cells)
    if os_k is None:
        raise TypeError("os_k must be given for cfar_type 'os'")
    return check_integer("os_k", os_k, 1, n)


# ---------------------------------------------------------------- statistic (integer or float)

def _circular_sum(v, lo, hi):
    """``sum(v[..., (d + j) % M] for j in lo ... hi)`` for every ``d`` (0 where lo > hi)."""
    if lo > hi:
        return np.zeros_like(v)
    m = v.shape[-1]
    tiled = np.concatenate([v, v, v], axis=-1)
    csum = np.zeros(tiled.shape[:-1] + (3 * m + 1,), dtype=v.dtype)
    np.cumsum(tiled, axis=-1, out=csum[..., 1:])
    d = np.arange(m)
    return csum[..., m + d + hi + 1] - csum[..., m + d + lo]


def _halves(x, rows, n, g, dn, dg):
    """Leading and lagging half sums of the tested ``rows`` of ``x`` (maps x L x M)."""
    q = np.zeros((x.shape[0], x.shape[1] + 1, x.shape[2]), dtype=x.dtype)
    np.cumsum(x, axis=1, out=q[:, 1:])
    # Column sums along range: the N lead rows and N trail rows beyond the guards
    lead = q[:, rows - g] - q[:, rows - g - n]
    trail = q[:, rows + g + n + 1] - q[:, rows + g + 1]
    if dn == 0 and dg == 0:
        return lead, trail
    # every row before (a) / after (b) the cell under test, and its own row (c)
    a = q[:, rows] - q[:, rows - n - g]
    b = q[:, rows + n + g + 1] - q[:, rows + 1]
    c = x[:, rows]
    leading = (_circular_sum(lead, -dg, dg) + _circular_sum(a + c, -dg - dn, -dg - 1)
               + _circular_sum(a, dg + 1, dg + dn))
    lagging = (_circular_sum(trail, -dg, dg) + _circular_sum(b, -dg - dn, -dg - 1)
               + _circular_sum(b + c, dg + 1, dg + dn))
    return leading, lagging


def _order_statistic(x, rows, k, cells, chunk=1 << 22):
    """The ``k``-th smallest (1-based) of the reference ``cells`` of each tested cell."""
    out = np.empty((x.shape[0], len(rows), x.shape[2]), dtype=x.dtype)
    per_map = max(1, chunk // max(1, len(rows) * x.shape[2] * len(cells)))
    for start in range(0, x.shape[0], per_map):
        part = x[start:start + per_map]
        values = np.stack([np.roll(part[:, rows + dr, :], -dd, axis=2) for dr, dd in cells],
                          axis=-1)
        out[start:start + per_map] = np.partition(values, k - 1, axis=-1)[..., k - 1]
    return out


def _statistic(x, cfar_type, n, g, dn, dg, k):
    """``(rows, S)``: the tested rows and their statistic, maps x rows x M."""
    rows = np.arange(n + g, x.shape[1] - n - g)
    if len(rows) == 0:
        return rows, np.zeros((x.shape[0], 0, x.shape[2]), dtype=x.dtype)
    if cfar_type == "os":
        leading, lagging = window_cells(n, g, dn, dg)
        return rows, _order_statistic(x, rows, k, np.concatenate([leading, lagging]))
    leading, lagging = _halves(x, rows, n, g, dn, dg)
    if cfar_type == "ca":
        return rows, leading + lagging
    return rows, (np.maximum if cfar_type == "go" else np.minimum)(leading, lagging)


def _as_maps(power, dtype):
    x = np.asarray(power, dtype=dtype)
    if x.ndim not in (2, 3):
        raise ValueError(f"power must be a map (range x Doppler) or maps x range x Doppler, "
                         f"not shape {x.shape}")
    return x.reshape((-1,) + x.shape[-2:])


# ---------------------------------------------------------------- bit-exact model

def cfar_thresholds(power, *, cfar_type, reference_cells, guard_cells, scale, os_k=None,
                    doppler_reference_cells=0, doppler_guard_cells=0):
    """Detections and thresholds of every cell, exactly as ``Cfar`` computes them.

    Parameters
    ----------
    power : array_like of int, shape (L, M) or (maps, L, M)
        Unsigned power (linear, detector LSB²), range-major: ``power[r, d]``.
    cfar_type : {"ca", "go", "so", "os"}
    reference_cells, guard_cells : int
        ``N >= 1`` and ``G >= 0`` per side along range.
    scale : int
        Threshold scale word, UQ4.16 in ``[0, 2**CFAR_SCALE_WIDTH)``
        (:func:`cfar_scale_word`).
    os_k : int, optional
        OS rank, 1 ... n (needed for ``"os"``).
    doppler_reference_cells, doppler_guard_cells : int, optional
        ``Dd`` and ``Gd`` per side along Doppler (circular); 0 and 0: 1-D.

    Returns
    -------
    hit : ndarray of bool, shape of ``power``
        ``power * 2**F > scale * S`` at the tested rows, False elsewhere.
    threshold : ndarray of int64, shape of ``power``
        ``(scale * S) >> F`` (truncated, not saturated) at the tested rows, 0 elsewhere.
    """
    m = np.shape(power)[-1] if np.ndim(power) >= 2 else None
    k = check_config(cfar_type=cfar_type, reference_cells=reference_cells, guard_cells=guard_cells,
                     os_k=os_k, doppler_reference_cells=doppler_reference_cells,
                     doppler_guard_cells=doppler_guard_cells, doppler_cells=m)
    if not isinstance(scale, (int, np.integer)) or not 0 <= scale < 1 << CFAR_SCALE_WIDTH:
        raise ValueError(f"scale must be an integer in [0, 2**{CFAR_SCALE_WIDTH}), not {scale!r}")
    x = _as_maps(power, np.int64)
    if x.size and x.min() < 0:
        raise ValueError("power must be non-negative")
    n_ref = reference_count(reference_cells, guard_cells, doppler_reference_cells,
                            doppler_guard_cells)
    peak = int(x.max()) if x.size else 0
    if peak.bit_length() + CFAR_SCALE_FRAC > 62 or \
            (n_ref * peak).bit_length() + CFAR_SCALE_WIDTH > 62:
        raise ValueError(f"power up to {peak} overflows the int64 model")
    rows, stat = _statistic(x, cfar_type, reference_cells, guard_cells, doppler_reference_cells,
                            doppler_guard_cells, k)
    hit = np.zeros(x.shape, dtype=bool)
    threshold = np.zeros(x.shape, dtype=np.int64)
    product = int(scale) * stat
    hit[:, rows] = (x[:, rows] << CFAR_SCALE_FRAC) > product
    threshold[:, rows] = product >> CFAR_SCALE_FRAC
    return hit.reshape(np.shape(power)), threshold.reshape(np.shape(power))


def cfar_map(power, *, cfar_type, reference_cells, guard_cells, scale, os_k=None,
             doppler_reference_cells=0, doppler_guard_cells=0, cpi=0):
    """Bit-exact model of ``Cfar`` on one CPI: its hits, in stream order.

    Parameters are those of :func:`cfar_thresholds` (``power`` one L x M map) and
    ``cpi``, the CPI counter (reported modulo ``2**CPI_WIDTH``).

    Returns
    -------
    hits : ndarray of HIT_DTYPE
        Ordered by range bin, then Doppler bin: ``power``, ``threshold``
        (``(scale * S) >> F``; below ``power``, so the gateware's saturation to
        ``power_width`` bits never engages on a hit), the powers at range ± 1 in
        the same column (inside the window, so always present) and at Doppler
        ± 1 (mod M) in the same row.
    """
    x = np.asarray(power, dtype=np.int64)
    if x.ndim != 2:
        raise ValueError(f"power must be one map (range x Doppler), not shape {x.shape}")
    hit, threshold = cfar_thresholds(
        x, cfar_type=cfar_type, reference_cells=reference_cells, guard_cells=guard_cells,
        scale=scale, os_k=os_k, doppler_reference_cells=doppler_reference_cells,
        doppler_guard_cells=doppler_guard_cells)
    r, d = np.nonzero(hit)
    m = x.shape[1]
    out = np.zeros(len(r), dtype=HIT_DTYPE)
    out["cpi"] = cpi % (1 << CPI_WIDTH)
    out["range_bin"], out["doppler_bin"] = r, d
    out["power"], out["threshold"] = x[r, d], threshold[r, d]
    out["range_before"], out["range_after"] = x[r - 1, d], x[r + 1, d]
    out["doppler_before"], out["doppler_after"] = x[r, (d - 1) % m], x[r, (d + 1) % m]
    return out


def cfar_stream(maps, configs, *, range_cells=None, first_cpi=0):
    """The output stream of ``Cfar`` for a run of CPIs: each CPI's hits, then its end word.

    Parameters
    ----------
    maps : sequence of (L_c, M) int arrays
        One power map per CPI (CPIs may differ in their number of rows).
    configs : dict or sequence of dict
        Keyword arguments of :func:`cfar_map` (``cfar_type``, ``reference_cells``,
        ``guard_cells``, ``scale``, ...) for every CPI, or one dict per CPI (the
        gateware samples its configuration ports at each CPI's start).
    range_cells : int, optional
        The gateware's ``range_cells``: a CPI with more rows is cut to this many
        (the rows beyond are consumed and ignored).
    first_cpi : int, optional
        CPI counter of the first map.

    Returns
    -------
    words : ndarray of OUTPUT_DTYPE
    """
    if isinstance(configs, dict):
        configs = [configs] * len(maps)
    if len(configs) != len(maps):
        raise ValueError(f"configs must be one dict or one per map ({len(maps)}), "
                         f"not {len(configs)}")
    parts = []
    for c, (power, config) in enumerate(zip(maps, configs)):
        power = np.asarray(power, dtype=np.int64)
        if range_cells is not None:
            power = power[:range_cells]
        hits = cfar_map(power, cpi=first_cpi + c, **config)
        words = np.zeros(len(hits) + 1, dtype=OUTPUT_DTYPE)
        for name in HIT_DTYPE.names:
            words[name][:-1] = hits[name]
        words["cpi"][-1] = (first_cpi + c) % (1 << CPI_WIDTH)
        words["cpi_end"][-1] = 1
        parts.append(words)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=OUTPUT_DTYPE)


# ---------------------------------------------------------------- ideal model

def statistic_cells(cfar_type, n):
    """The cells the scale word divides a factor by: ``n`` (CA: the sum of ``n``
    cells against their mean), ``n / 2`` (GO, SO: a half sum against its mean), 1 (OS)."""
    if cfar_type not in CFAR_TYPES:
        raise ValueError(f"cfar_type must be one of {', '.join(CFAR_TYPES)}, not {cfar_type!r}")
    return {"ca": n, "go": n // 2, "so": n // 2, "os": 1}[cfar_type]


def cfar_ideal(power, *, cfar_type, alpha, reference_cells, guard_cells, os_k=None,
               doppler_reference_cells=0, doppler_guard_cells=0):
    """Ideal float CFAR: ``power > alpha * statistic`` on real numbers.

    The statistic is the *mean* of the reference cells (CA), the larger (GO) or
    smaller (SO) of the two half means, or the ``os_k``-th smallest cell (OS), over
    the window of :func:`cfar_thresholds`; ``alpha`` is the factor of
    :func:`cfar_alpha`.

    Returns
    -------
    hit : ndarray of bool, shape of ``power``
    threshold : ndarray of float, shape of ``power`` (0 at the untested rows)
    """
    k = check_config(cfar_type=cfar_type, reference_cells=reference_cells, guard_cells=guard_cells,
                     os_k=os_k, doppler_reference_cells=doppler_reference_cells,
                     doppler_guard_cells=doppler_guard_cells, doppler_cells=np.shape(power)[-1])
    x = _as_maps(power, float)
    n = reference_count(reference_cells, guard_cells, doppler_reference_cells, doppler_guard_cells)
    rows, stat = _statistic(x, cfar_type, reference_cells, guard_cells, doppler_reference_cells,
                            doppler_guard_cells, k)
    threshold = np.zeros(x.shape)
    threshold[:, rows] = alpha * stat / statistic_cells(cfar_type, n)
    hit = np.zeros(x.shape, dtype=bool)
    hit[:, rows] = x[:, rows] > threshold[:, rows]
    return hit.reshape(np.shape(power)), threshold.reshape(np.shape(power))


# ---------------------------------------------------------------- factors, independent cells

def _check_pfa(pfa):
    if not 0 < pfa < 1:
        raise ValueError(f"pfa must be in (0, 1), not {pfa!r}")


def _go_so_pfa(cfar_type, alpha, half):
    """``E[exp(-alpha Z)]``, ``Z`` the larger (GO) or smaller (SO) of two independent
    half means of ``half`` unit-mean exponential cells, by adaptive quadrature."""
    law = stats.gamma(half, scale=1.0 / half)
    if cfar_type == "go":
        def density(z):
            return 2.0 * law.cdf(z) * law.pdf(z)
    else:
        def density(z):
            return 2.0 * law.sf(z) * law.pdf(z)
    # the integrand ~ z**(2h-1) exp(-(alpha + 2h) z) near its peak: split there
    peak = (2 * half - 1) / (alpha + 2 * half)
    edges = [0.0, peak / 2, peak, 2 * peak, 4 * peak, 1.0 + 40.0 / np.sqrt(half)]
    edges = sorted(set(edges))
    total = 0.0
    for lo, hi in zip(edges, edges[1:]):
        value, _ = integrate.quad(lambda z: np.exp(-alpha * z) * density(z), lo, hi,
                                  epsabs=0.0, epsrel=1e-11, limit=200)
        total += value
    tail, _ = integrate.quad(lambda z: np.exp(-alpha * z) * density(z), edges[-1], np.inf,
                             epsabs=0.0, epsrel=1e-9, limit=200)
    return total + tail


def cfar_pfa(cfar_type, alpha, n, *, os_k=None):
    """False-alarm probability in independent exponential (square-law) noise.

    Parameters
    ----------
    cfar_type : {"ca", "go", "so", "os"}
    alpha : float
        Factor on the statistic's mean (CA: mean of ``n``; GO/SO: larger/smaller
        half mean; OS: ``T`` on the ``os_k``-th smallest cell).
    n : int
        Reference cells (:func:`reference_count`), even for GO/SO.
    os_k : int, optional
        OS rank, 1 ... n.

    Returns
    -------
    pfa : float
        CA ``(1 + alpha/n)**-n``; GO/SO ``E[exp(-alpha Z)]`` over the law of the
        larger/smaller half mean ``Z`` by numerical integration; OS Rohling's
        ``prod_{i<k} (n-i) / (n-i+T)``. A 2-D window has the same law (the cells
        are independent).
    """
    check_integer("n", n, 2 if cfar_type in ("go", "so") else 1)
    statistic_cells(cfar_type, n)
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, not {alpha!r}")
    if cfar_type == "ca":
        return float((1.0 + alpha / n) ** (-n))
    if cfar_type == "os":
        check_integer("os_k", os_k, 1, n)
        i = np.arange(os_k)
        return float(np.exp(np.sum(np.log(n - i) - np.log(n - i + alpha))))
    if n % 2:
        raise ValueError(f"n must be even for {cfar_type!r}, not {n}")
    return _go_so_pfa(cfar_type, float(alpha), n // 2)


def cfar_alpha(cfar_type, pfa, n, *, os_k=None):
    """The factor of :func:`cfar_pfa` that meets ``pfa`` (CA in closed form
    ``n (pfa**(-1/n) - 1)``, the others by root finding on ``log alpha``)."""
    _check_pfa(pfa)
    check_integer("n", n, 1)
    if cfar_type == "ca":
        return n * (pfa ** (-1.0 / n) - 1.0)
    cfar_pfa(cfar_type, 1.0, n, os_k=os_k)        # checks the arguments

    def excess(log_alpha):
        return np.log(cfar_pfa(cfar_type, np.exp(log_alpha), n, os_k=os_k)) - np.log(pfa)
    low, high = np.log(1e-6), np.log(1e6)
    if excess(high) > 0:
        raise ValueError(f"pfa={pfa!r} is out of reach of {cfar_type!r} with n={n}, os_k={os_k}")
    return float(np.exp(optimize.brentq(excess, low, high, xtol=1e-14, rtol=1e-13)))


def cfar_scale_word(cfar_type, alpha, n):
    """The ``Cfar.scale`` word for factor ``alpha``: ``alpha / statistic_cells * 2**F``
    rounded half to even (ties to even, as ``np.round``).

    Raises ``ValueError`` if it does not fit ``CFAR_SCALE_WIDTH`` unsigned bits.
    """
    word = int(np.round(alpha / statistic_cells(cfar_type, n) * 2.0 ** CFAR_SCALE_FRAC))
    if not 0 <= word < 1 << CFAR_SCALE_WIDTH:
        raise ValueError(f"alpha={alpha!r} for {cfar_type!r} with n={n} needs scale word {word}, "
                         f"outside the CFAR_SCALE_WIDTH={CFAR_SCALE_WIDTH} bits")
    return word


def cfar_applied_alpha(cfar_type, scale, n):
    """The factor that the integer ``scale`` word really applies (inverse of
    :func:`cfar_scale_word` without its rounding)."""
    return scale * statistic_cells(cfar_type, n) / 2.0 ** CFAR_SCALE_FRAC


# ---------------------------------------------------------------- factors, correlated cells

def taps_acf(taps, lags):
    """Normalised autocorrelation of white noise through a filter, lags 0 ... lags-1.

    ``acf[j] = sum_i h[i+j] conj(h[i]) / sum_i |h[i]|**2``: the correlation of the
    filtered noise at ``j`` range cells (e.g. a matched filter's taps).
    """
    h = np.asarray(taps, dtype=np.complex128)
    full = np.correlate(h, h, "full")[len(h) - 1:]
    full = np.concatenate([full, np.zeros(max(0, lags - len(full)))])[:lags]
    return full / full[0].real


def doppler_acf(window, doppler_cells=None):
    """Correlation between Doppler bins of a windowed DFT of white slow-time noise.

    ``acf[j] = sum_m w[m]**2 exp(-2j pi m j / M) / sum_m w[m]**2`` for ``j = 0 ... M-1``
    (circular in ``j``), ``M = len(window)`` unless ``doppler_cells`` is given.
    """
    w2 = np.abs(np.asarray(window, dtype=np.complex128)) ** 2
    m = len(w2) if doppler_cells is None else doppler_cells
    spectrum = np.fft.fft(w2, m)
    return spectrum / w2.sum()


def _lag(acf, j, circular):
    if acf is None:
        return 1.0 if j == 0 else 0.0
    if circular:
        return acf[j % len(acf)]
    if abs(j) >= len(acf):
        return 0.0
    return acf[j] if j >= 0 else np.conj(acf[-j])


def window_covariance(cells, range_acf=None, doppler_acf=None):
    """Covariance ``E[z_i conj(z_j)]`` of complex noise at window ``cells``.

    ``cells`` is an array of ``(dr, dd)`` offsets; the noise is separable: range
    correlation ``range_acf`` (lags 0 ..., :func:`taps_acf`; None: white) times the
    circular Doppler correlation ``doppler_acf`` (:func:`doppler_acf`; None: white).
    """
    cells = np.asarray(cells)
    cov = np.empty((len(cells), len(cells)), dtype=np.complex128)
    for i, (ri, di) in enumerate(cells):
        for j, (rj, dj) in enumerate(cells):
            cov[i, j] = _lag(range_acf, int(ri - rj), False) * _lag(doppler_acf, int(di - dj), True)
    return cov


CorrelatedPfa = namedtuple("CorrelatedPfa", "value rel_error method")
CorrelatedPfa.__doc__ = """A factor or a Pfa on correlated cells: ``value``, its
Monte-Carlo relative standard error on the Pfa (0 when exact) and ``method``
("exact" or "monte-carlo")."""


def _exact_ca_pfa(cov, alpha, n):
    """CA-CFAR Pfa, exact: a false alarm is ``z^H Q z > 0`` with ``Q = diag(1, -alpha/n, ...)``
    over (cell under test, reference cells); of the eigenvalues of ``A^H Q A``
    (``cov = A A^H``) one is positive and ``Pfa = prod_{lam<0} lam_+ / (lam_+ - lam)``."""
    q = np.full(len(cov), -alpha / n)
    q[0] = 1.0
    d, v = np.linalg.eigh(cov)
    root = v * np.sqrt(np.clip(d, 0, None))
    lam = np.linalg.eigvalsh(root.conj().T @ (q[:, None] * root))
    positive = lam.max()
    negative = lam[lam < -1e-12 * positive]
    return float(np.prod(positive / (positive - negative)))


class _MonteCarlo:
    """Seeded importance-sampled Monte-Carlo of ``P(|z_0|**2 > alpha * stat(|z_R|**2))``.

    The reference cells ``z_R`` are drawn from ``CN(0, gamma * C_RR)`` (``gamma < 1``
    draws them small, where false alarms happen) and weighted by the likelihood
    ratio; given them, the cell under test is ``CN(mu, sigma**2)`` and the chance
    that it exceeds the threshold is exact (non-central chi-square, 2 degrees of
    freedom). The Pfa is the weighted mean; its standard error is the sample
    standard deviation over ``sqrt(trials)``.
    """

    def __init__(self, cov, cfar_type, n_lead, k, gamma, trials, seed):
        c_rr = cov[1:, 1:]
        lam, vec = np.linalg.eigh(c_rr)
        keep = lam > 1e-10 * lam.max()
        lam, vec = lam[keep], vec[:, keep]
        root = vec * np.sqrt(lam)                       # C_RR = root root^H
        gain = (cov[0, 1:] @ vec) / np.sqrt(lam)       # mu = gain . w
        self.sigma2 = float(cov[0, 0].real - np.sum(np.abs(gain) ** 2))
        rng = np.random.default_rng(seed)
        rank = len(lam)
        w = np.sqrt(gamma / 2) * (rng.standard_normal((trials, rank))
                                  + 1j * rng.standard_normal((trials, rank)))
        energy = np.sum(np.abs(w) ** 2, axis=1)
        self.weight = np.exp(rank * np.log(gamma) - (1.0 - 1.0 / gamma) * energy)
        power = np.abs(w @ root.T) ** 2
        if cfar_type == "ca":
            self.stat = power.mean(axis=1)
        elif cfar_type == "os":
            self.stat = np.partition(power, k - 1, axis=1)[:, k - 1]
        else:
            lead = power[:, :n_lead].mean(axis=1)
            lag = power[:, n_lead:].mean(axis=1)
            self.stat = np.maximum(lead, lag) if cfar_type == "go" else np.minimum(lead, lag)
        self.mu2 = np.abs(w @ gain) ** 2
        self.central = bool(np.max(np.abs(gain)) < 1e-9)

    def terms(self, alpha):
        t = alpha * self.stat / self.sigma2
        if self.central:
            p = np.exp(-t)
        else:
            p = stats.ncx2.sf(2.0 * t, 2, 2.0 * self.mu2 / self.sigma2)
        return self.weight * p

    def pfa(self, alpha):
        terms = self.terms(alpha)
        value = float(terms.mean())
        return value, float(terms.std(ddof=1) / np.sqrt(len(terms)) / value)


def _pilot_gamma(cov, cfar_type, n_lead, k, pfa, alpha, trials, seed):
    """The tilt ``gamma = pfa**(c/n)``, ``c`` in 0 ... 1.5, whose pilot run (a fifth of
    the trials, its own seed) shows the smallest error at ``alpha``."""
    n = len(cov) - 1
    errors = {}
    for c in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5):
        gamma = pfa ** (c / n)
        value, error = _MonteCarlo(cov, cfar_type, n_lead, k, gamma, max(5000, trials // 5),
                                   (seed, 1)).pfa(alpha)
        errors[gamma] = error if value > 0 and np.isfinite(error) else np.inf
    return min(errors, key=errors.get)


def _correlated_setup(cfar_type, reference_cells, guard_cells, doppler_reference_cells,
                      doppler_guard_cells, os_k, range_acf, doppler_acf):
    k = check_config(cfar_type=cfar_type, reference_cells=reference_cells, guard_cells=guard_cells,
                     os_k=os_k, doppler_reference_cells=doppler_reference_cells,
                     doppler_guard_cells=doppler_guard_cells)
    leading, lagging = window_cells(reference_cells, guard_cells, doppler_reference_cells,
                                    doppler_guard_cells)
    cells = np.concatenate([np.zeros((1, 2), dtype=np.int64), leading, lagging])
    return k, len(leading), window_covariance(cells, range_acf, doppler_acf)


def cfar_pfa_correlated(cfar_type, alpha, *, reference_cells, guard_cells, os_k=None,
                        doppler_reference_cells=0, doppler_guard_cells=0, range_acf=None,
                        doppler_acf=None, method="auto", trials=200_000, seed=0):
    """False-alarm probability of a factor ``alpha`` on correlated Gaussian noise.

    Parameters
    ----------
    cfar_type, alpha, reference_cells, guard_cells, os_k : see :func:`cfar_pfa`
        and :func:`cfar_thresholds`; also ``doppler_reference_cells`` and
        ``doppler_guard_cells``.
    range_acf, doppler_acf : ndarray of complex, optional
        Noise correlation along range (:func:`taps_acf`) and Doppler
        (:func:`doppler_acf`); None is white.
    method : {"auto", "exact", "mc"}
        "exact" (CA only): the eigenvalue formula of the quadratic form; "mc": the
        seeded Monte-Carlo of ``_MonteCarlo`` with ``trials`` draws from ``seed``;
        "auto": exact for CA, else Monte-Carlo.

    Returns
    -------
    CorrelatedPfa
        ``value`` the Pfa, ``rel_error`` its relative standard error (0 if exact).
    """
    k, n_lead, cov = _correlated_setup(cfar_type, reference_cells, guard_cells,
                                       doppler_reference_cells, doppler_guard_cells, os_k,
                                       range_acf, doppler_acf)
    n = len(cov) - 1
    if method not in ("auto", "exact", "mc"):
        raise ValueError(f"method must be one of auto, exact, mc, not {method!r}")
    if method == "exact" or (method == "auto" and cfar_type == "ca"):
        if cfar_type != "ca":
            raise ValueError(f"method 'exact' is for cfar_type 'ca' only, not {cfar_type!r}")
        return CorrelatedPfa(_exact_ca_pfa(cov, alpha, n), 0.0, "exact")
    white = cfar_pfa(cfar_type, alpha, n, os_k=k)
    gamma = _pilot_gamma(cov, cfar_type, n_lead, k, white, alpha, trials, seed)
    mc = _MonteCarlo(cov, cfar_type, n_lead, k, gamma, trials, seed)
    return CorrelatedPfa(*mc.pfa(alpha), "monte-carlo")


def cfar_alpha_correlated(cfar_type, pfa, *, reference_cells, guard_cells, os_k=None,
                          doppler_reference_cells=0, doppler_guard_cells=0, range_acf=None,
                          doppler_acf=None, method="auto", trials=200_000, seed=0):
    """The factor that meets ``pfa`` on correlated noise (see :func:`cfar_pfa_correlated`).

    CA is solved exactly (bisection on the exact Pfa); GO, SO and OS on one seeded
    Monte-Carlo sample (the same draws for every trial factor, so the estimate is
    monotone in ``alpha``), whose relative standard error *on the Pfa* at the
    solution is returned: the factor meets ``pfa * (1 +- rel_error)`` at one sigma.
    The importance-sampling tilt is chosen by a pilot run. The error is largest
    where false alarms come from events a uniform tilt does not favour: SO at very
    low Pfa (one half small), or a cell under test correlated with reference cells
    (a 2-D window beside a windowed Doppler FFT's correlated neighbour bins).

    Returns
    -------
    CorrelatedPfa
        ``value`` the factor ``alpha`` (as :func:`cfar_alpha` defines it per type).
    """
    _check_pfa(pfa)
    k, n_lead, cov = _correlated_setup(cfar_type, reference_cells, guard_cells,
                                       doppler_reference_cells, doppler_guard_cells, os_k,
                                       range_acf, doppler_acf)
    n = len(cov) - 1
    white = cfar_alpha(cfar_type, pfa, n, os_k=k)
    if method not in ("auto", "exact", "mc"):
        raise ValueError(f"method must be one of auto, exact, mc, not {method!r}")
    if method == "exact" or (method == "auto" and cfar_type == "ca"):
        if cfar_type != "ca":
            raise ValueError(f"method 'exact' is for cfar_type 'ca' only, not {cfar_type!r}")

        def excess(log_alpha):
            return np.log(_exact_ca_pfa(cov, np.exp(log_alpha), n)) - np.log(pfa)
        error, kind = 0.0, "exact"
    else:
        gamma = _pilot_gamma(cov, cfar_type, n_lead, k, pfa, white, trials, seed)
        mc = _MonteCarlo(cov, cfar_type, n_lead, k, gamma, trials, seed)

        def excess(log_alpha):
            return np.log(max(mc.terms(np.exp(log_alpha)).mean(), 1e-300)) - np.log(pfa)
        kind = "monte-carlo"
    low, high = np.log(white) - 4.0, np.log(white) + 6.0
    log_alpha = optimize.brentq(excess, low, high, xtol=1e-12, rtol=1e-12)
    if kind != "exact":
        error = mc.pfa(np.exp(log_alpha))[1]
    return CorrelatedPfa(float(np.exp(log_alpha)), error, kind)
