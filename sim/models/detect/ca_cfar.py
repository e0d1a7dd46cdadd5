"""Cell-averaging CFAR along range: bit-exact model of ``hdl.ca_cfar.CaCfar``, ideal model, design helpers."""

import numpy as np

from ....hdl.formats import CFAR_SCALE_FRAC, CFAR_SCALE_WIDTH
from ....spec.records import CPI_WIDTH, PULSE_WIDTH
from ....spec.checks import check_integer

__all__ = ["DETECTION_DTYPE", "ca_cfar", "ca_cfar_thresholds", "ca_cfar_ideal", "ca_cfar_alpha",
           "ca_cfar_pfa", "ca_cfar_pfa_correlated", "ca_cfar_alpha_correlated", "cfar_scale"]

DETECTION_DTYPE = np.dtype([("cpi", np.int64), ("pulse", np.int64), ("range_bin", np.int64),
                            ("power", np.int64), ("threshold", np.int64)])
"""Fields of a detection record, the columns of ``formats.detection_layout``."""


def ca_cfar_alpha(n, pfa):
    """CA-CFAR threshold multiplier for exponential (square-law) noise.

    Parameters
    ----------
    n : int
        Reference cells averaged (``2 * reference_cells``).
    pfa : float
        Design probability of false alarm, in (0, 1).

    Returns
    -------
    alpha : float
        ``n * (pfa**(-1/n) - 1)``: threshold = ``alpha * mean(reference cells)``.
    """
    check_integer("n", n, 1)
    if not 0 < pfa < 1:
        raise ValueError(f"pfa must be in (0, 1), not {pfa!r}")
    return n * (pfa ** (-1.0 / n) - 1.0)


def ca_cfar_pfa(n, alpha):
    """Exact false-alarm probability of CA-CFAR with multiplier ``alpha``.

    Parameters
    ----------
    n : int
        Reference cells averaged.
    alpha : float or ndarray
        Threshold = ``alpha * mean``; for the gateware, ``alpha = scale * n / 2**F``.

    Returns
    -------
    pfa : float or ndarray
        ``(1 + alpha / n)**(-n)`` for independent exponential cells.
    """
    check_integer("n", n, 1)
    return (1.0 + np.asarray(alpha, dtype=float) / n) ** (-n)


def cfar_scale(reference_cells, pfa, *, alpha=None):
    """The ``CaCfar.scale`` word for a design false-alarm probability.

    Parameters
    ----------
    reference_cells : int
        ``R``, reference cells per side (``n = 2R`` are averaged).
    pfa : float
        Design probability of false alarm, in (0, 1).
    alpha : float, optional
        Use this multiplier instead of :func:`ca_cfar_alpha` (e.g. one from
        :func:`ca_cfar_alpha_correlated`); ``pfa`` then only names the design.

    Returns
    -------
    scale : int
        ``alpha / n * 2**CFAR_SCALE_FRAC`` rounded half to even, ``alpha`` from
        :func:`ca_cfar_alpha`. The true Pfa of this word is
        ``ca_cfar_pfa(n, scale * n / 2**CFAR_SCALE_FRAC)``.

    Raises
    ------
    ValueError
        If the word does not fit ``CFAR_SCALE_WIDTH`` unsigned bits.
    """
    check_integer("reference_cells", reference_cells, 1)
    n = 2 * reference_cells
    alpha = ca_cfar_alpha(n, pfa) if alpha is None else alpha
    word = int(np.round(alpha / n * 2.0 ** CFAR_SCALE_FRAC))
    if word >= 1 << CFAR_SCALE_WIDTH:
        raise ValueError(f"pfa={pfa!r} with reference_cells={reference_cells} needs scale "
                         f"word {word}, more than CFAR_SCALE_WIDTH={CFAR_SCALE_WIDTH} bits hold")
    return word


def ca_cfar(power, *, reference_cells, guard_cells, scale, cpi=0, first_pulse=0,
            line_length=None, peaks=False):
    """Bit-exact model of ``CaCfar``: the detections of a run of range lines.

    Parameters
    ----------
    power : array_like of int, or sequence of 1-D array_like
        Unsigned power samples (linear, in the detector's LSB): one range line
        (1-D), lines x cells (2-D), or a list of lines of different lengths.
    reference_cells : int
        ``R`` per side, ``>= 1``.
    guard_cells : int
        ``G`` per side, ``>= 0``.
    scale : int
        Threshold scale word ``alpha / (2R) * 2**CFAR_SCALE_FRAC``, in
        ``[0, 2**CFAR_SCALE_WIDTH)``.
    cpi : int, optional
        CPI counter of these lines; reported modulo ``2**CPI_WIDTH``.
    first_pulse : int, optional
        Pulse index of the first line; line ``m`` is pulse ``first_pulse + m``,
        saturated at ``2**PULSE_WIDTH - 1`` as the gateware does.
    line_length : int, optional
        The gateware's ``line_length``: a longer line is cut to this many samples.
    peaks : bool, optional
        Keep only detected cells that are local maxima, ``power[k] >= power[k-1]``
        and ``power[k] > power[k+1]`` (the gateware's ``peaks``).

    Returns
    -------
    detections : ndarray of DETECTION_DTYPE
        In stream order (line, then range bin). Cell ``k`` of a line of ``L``
        cells is tested iff ``R + G <= k <= L - 1 - R - G`` and detected iff
        ``power[k] * 2**F > scale * S[k]``, ``S`` the sum of the ``2R`` reference
        cells; ``threshold = (scale * S[k]) >> F``.
    """
    check_integer("reference_cells", reference_cells, 1)
    if guard_cells < 0:
        raise ValueError(f"guard_cells must be >= 0, not {guard_cells}")
    if not 0 <= scale < 1 << CFAR_SCALE_WIDTH:
        raise ValueError(f"scale must be in [0, 2**{CFAR_SCALE_WIDTH}), not {scale!r}")
    if isinstance(power, np.ndarray) and power.ndim == 2:
        lines = [power]
    elif isinstance(power, (list, tuple)) and power and np.ndim(power[0]) == 1:
        lines = [np.asarray(line)[None, :] for line in power]
    else:
        lines = [np.atleast_2d(np.asarray(power))]
    parts, row0 = [], 0
    for block in lines:
        block = np.asarray(block, dtype=np.int64)
        if block.ndim != 2:
            raise ValueError(f"power must be a line, lines x cells or a list of lines, "
                             f"not shape {block.shape}")
        if line_length is not None:
            block = block[:, :line_length]
        rows, bins, thresholds = _detect(block, reference_cells, guard_cells, scale, peaks)
        part = np.empty(len(rows), dtype=DETECTION_DTYPE)
        part["cpi"] = cpi % (1 << CPI_WIDTH)
        part["pulse"] = np.minimum(first_pulse + row0 + rows, (1 << PULSE_WIDTH) - 1)
        part["range_bin"] = bins
        part["power"] = block[rows, bins]
        part["threshold"] = thresholds
        parts.append(part)
        row0 += block.shape[0]
    return np.concatenate(parts)


def _detect(x, r, g, scale, peaks=False):
    """Rows, cells and thresholds of the detections in the 2-D int64 array ``x``."""
    if x.size and x.min() < 0:
        raise ValueError("power must be non-negative")
    peak = int(x.max()) if x.size else 0
    if peak.bit_length() + CFAR_SCALE_FRAC > 62 or \
            (2 * r * peak).bit_length() + CFAR_SCALE_WIDTH > 62:
        raise ValueError(f"power up to {peak} overflows the int64 model")
    first = r + g
    total = _window_sums(x, r, g)
    if total.shape[1] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    product = scale * total
    tested = x[:, first:first + total.shape[1]]
    hit = (tested << CFAR_SCALE_FRAC) > product
    if peaks:
        hit &= (tested >= x[:, first - 1:first - 1 + tested.shape[1]]) & \
               (tested > x[:, first + 1:first + 1 + tested.shape[1]])
    rows, col = np.nonzero(hit)
    return rows, col + first, product[rows, col] >> CFAR_SCALE_FRAC


def _window_sums(x, r, g):
    """``S[k]`` of the tested cells ``k = r+g ... L-1-r-g`` of each row of ``x``."""
    n_lines, length = x.shape
    k = np.arange(r + g, max(length - r - g, r + g))
    # Differences of the prefix sums are exact even where the prefix sums
    # themselves wrap modulo 2**64 (two's complement), as each S fits.
    csum = np.zeros((n_lines, length + 1), dtype=x.dtype)
    np.cumsum(x, axis=1, out=csum[:, 1:])
    return (csum[:, k - g] - csum[:, k - g - r]) + (csum[:, k + g + r + 1] - csum[:, k + g + 1])


def ca_cfar_thresholds(power, *, reference_cells, guard_cells, scale):
    """The threshold of every cell of one range line, as the gateware computes it.

    Returns an int64 array like ``power`` with ``(scale * S[k]) >> F`` at the tested
    cells (not saturated) and 0 at the ``R + G`` untested cells at each end: what a
    plot of the threshold along range shows. Detections are the cells where
    ``power * 2**F > scale * S``.
    """
    x = np.atleast_2d(np.asarray(power, dtype=np.int64))
    r, g = reference_cells, guard_cells
    total = _window_sums(x, r, g)
    out = np.zeros_like(x)
    out[:, r + g:r + g + total.shape[1]] = (scale * total) >> CFAR_SCALE_FRAC
    return out.reshape(np.shape(power))


def ca_cfar_ideal(power, *, reference_cells, guard_cells, alpha):
    """Ideal float CA-CFAR: ``power[k] > alpha * mean(reference cells)``.

    Parameters
    ----------
    power : array_like of float
        Power samples (linear), one line (1-D) or lines x cells (2-D).
    reference_cells, guard_cells : int
        ``R`` and ``G`` per side, as in :func:`ca_cfar`.
    alpha : float
        Threshold multiplier (e.g. :func:`ca_cfar_alpha`).

    Returns
    -------
    mask : ndarray of bool, same shape as ``power``
        Detections; ``False`` in the ``R + G`` untested cells at each end.
    """
    x = np.asarray(power, dtype=float)
    r, g = reference_cells, guard_cells
    x2 = np.atleast_2d(x)
    mask = np.zeros(x2.shape, dtype=bool)
    total = _window_sums(x2, r, g)
    k = np.arange(r + g, r + g + total.shape[1])
    mask[:, k] = x2[:, k] > alpha * total / (2 * r)
    return mask.reshape(x.shape)


def ca_cfar_pfa_correlated(covariance, alpha, *, reference_cells, guard_cells):
    """Exact CA-CFAR Pfa for complex Gaussian noise cells of any covariance.

    Parameters
    ----------
    covariance : ndarray, shape (W, W), W = 2(R + G) + 1
        Covariance of the noise in one window (cell under test in the middle),
        e.g. the autocorrelation of a matched filter's taps.
    alpha : float
        Threshold = ``alpha * mean`` of the ``2R`` reference cells.

    Returns
    -------
    pfa : float
        A false alarm is ``z^H Q z > 0``, ``Q = diag(1 at the cell under test,
        -alpha/2R at the reference cells, 0 at the guards)``. With ``C = A A^H``,
        ``z^H Q z`` is distributed as ``sum(lam_j |u_j|^2)`` with white ``u`` and
        ``lam`` the eigenvalues of ``A^H Q A``, of which one is positive
        (Sylvester's inertia): ``Pfa = prod over lam_j < 0 of lam_p / (lam_p - lam_j)``.
        For white noise it equals :func:`ca_cfar_pfa`.
    """
    r, g = reference_cells, guard_cells
    window = 2 * (r + g) + 1
    covariance = np.asarray(covariance)
    if covariance.shape != (window, window):
        raise ValueError(f"covariance must be {window} x {window} for reference_cells={r}, "
                         f"guard_cells={g}, not {covariance.shape}")
    q = np.zeros(window)
    q[:r] = q[-r:] = -alpha / (2 * r)
    q[r + g] = 1.0
    d, v = np.linalg.eigh(covariance)
    root = v * np.sqrt(np.clip(d, 0, None))          # C = root root^H, C may be singular
    lam = np.linalg.eigvalsh(root.conj().T @ (q[:, None] * root))
    positive = lam.max()
    negative = lam[lam < -1e-12 * positive]
    return float(np.prod(positive / (positive - negative)))


def ca_cfar_alpha_correlated(taps, pfa, *, reference_cells, guard_cells):
    """The multiplier that gives ``pfa`` on white noise filtered by ``taps``.

    A matched filter sampled faster than its bandwidth correlates neighbouring
    noise cells, so the reference cells hold fewer independent samples than
    ``2R`` and :func:`ca_cfar_alpha` underestimates the threshold. This solves
    :func:`ca_cfar_pfa_correlated` with the taps' normalised autocorrelation as
    the covariance for the ``alpha`` that meets ``pfa`` exactly.
    """
    taps = np.asarray(taps, dtype=np.complex128)
    window = 2 * (reference_cells + guard_cells) + 1
    acf = np.correlate(taps, taps, "full")[len(taps) - 1:]
    acf = np.concatenate([acf, np.zeros(max(0, window - len(acf)))])[:window] / acf[0]
    covariance = np.array([[acf[j - i] if j >= i else np.conj(acf[i - j]) for j in range(window)]
                           for i in range(window)])

    def too_low(log_alpha):  # the Pfa falls as alpha grows
        return ca_cfar_pfa_correlated(covariance, np.exp(log_alpha), reference_cells=reference_cells,
                                      guard_cells=guard_cells) > pfa
    white = np.log(ca_cfar_alpha(2 * reference_cells, pfa))
    low, high = white - 5, white + 10
    while high - low > 1e-12:                     # bisection on log(alpha)
        middle = (low + high) / 2
        low, high = (middle, high) if too_low(middle) else (low, middle)
    return float(np.exp((low + high) / 2))