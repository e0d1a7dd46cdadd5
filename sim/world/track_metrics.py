"""The tracker's world: multi-target scores (OSPA, GOSPA) and synthetic plots of known truth.

OSPA (Schuhmacher, Vo & Vo 2008) and GOSPA (Rahmathullah, García-Fernández &
Svensson 2017) compare a set of true states with a set of estimates: the best
assignment of one set to the other (``scipy.optimize.linear_sum_assignment``)
with the distance of a pair cut off at ``c``, and a penalty for cardinality
errors. OSPA is normalised by the larger set size; GOSPA (``alpha = 2``) is not,
and splits into localisation error, missed targets and false tracks.

:func:`synthetic_plots` makes the tracker's input from a truth: the plots a
range-Doppler chain would report for it, with range and Doppler noise, folded
Doppler, the LFM's range-Doppler coupling, missed detections and false plots.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ...hdl.track.tables import TrackerRadar
from ...spec.records import CPI_WIDTH, PLOT, POSITION_FRAC, numpy_fields

__all__ = ["PLOT_DTYPE", "Gospa", "ospa", "gospa", "ospa_series", "assigned_pairs",
           "synthetic_plots"]

PLOT_DTYPE = np.dtype(numpy_fields(PLOT))
"""The models' dtype of a PLOT record (every field int64)."""


def _points(x):
    """``x`` as an (n, d) float array: a 1-D input is n scalar states."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"a set of states must be 1-D (scalars) or 2-D (n, d), not shape {x.shape}")
    return x


def _check(c, p):
    if not np.isfinite(c) or c <= 0:
        raise ValueError(f"c must be a finite number > 0, not {c!r}")
    if not np.isfinite(p) or p < 1:
        raise ValueError(f"p must be a finite number >= 1, not {p!r}")


def _assignment(x, y, cap, p):
    """Optimal assignment of ``x`` to ``y`` under the cost ``min(|x - y|**p, cap)``:
    ``(rows, cols, cost of each assigned pair, pair distances**p)``, one entry per pair."""
    x, y = _points(x), _points(y)
    if len(x) == 0 or len(y) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0), np.zeros(0)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"states of {x.shape[1]} and {y.shape[1]} dimensions cannot be compared")
    distance_p = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=-1) ** p
    cost = np.minimum(distance_p, cap)
    rows, cols = linear_sum_assignment(cost)
    return rows, cols, cost[rows, cols], distance_p[rows, cols]


def assigned_pairs(x, y, *, c):
    """Index pairs ``(i, j)`` of the optimal assignment of ``x`` to ``y`` (sets as for
    :func:`ospa`, distances cut off at ``c``) whose distance is below ``c``."""
    rows, cols, _, distance = _assignment(x, y, c, 1)
    return [(int(i), int(j)) for i, j, d in zip(rows, cols, distance) if d < c]


def ospa(x, y, *, c, p=1):
    """OSPA distance of two finite sets of states.

    Parameters
    ----------
    x, y : array_like, shape (m,) or (m, d), and (n,) or (n, d)
        The sets (e.g. truth and estimates); 1-D arrays are scalar states.
    c : float
        Cut-off (> 0), in the states' unit: a pair farther apart, or an
        unmatched state, costs ``c``.
    p : float
        Order (>= 1).

    Returns
    -------
    float
        ``(1/n (min over assignments sum min(d, c)**p + c**p (n - m)))**(1/p)`` for
        ``m <= n`` (symmetric); 0 for two empty sets, ``c`` if one only is empty.
    """
    _check(c, p)
    m, n = len(_points(x)), len(_points(y))
    if m == 0 and n == 0:
        return 0.0
    _, _, cost, _ = _assignment(x, y, c ** p, p)
    return float(((cost.sum() + c ** p * abs(m - n)) / max(m, n)) ** (1 / p))


@dataclass(frozen=True)
class Gospa:
    """A GOSPA distance and its parts (``alpha = 2``: ``distance**p = localisation +
    c**p / 2 * (missed + false)``).

    Attributes
    ----------
    distance : float
    localisation : float
        Sum of ``d**p`` over the assigned pairs (those with ``d**p < 2 c**p / alpha``).
    missed : int
        True states left unassigned.
    false : int
        Estimates left unassigned.
    """
    distance: float
    localisation: float
    missed: int
    false: int


def gospa(x, y, *, c, p=1, alpha=2.0):
    """GOSPA distance of a true set ``x`` and an estimated set ``y``.

    Parameters
    ----------
    x, y : array_like, shape (m,) or (m, d), and (n,) or (n, d)
        True states and estimates; 1-D arrays are scalar states.
    c : float
        Cut-off (> 0).
    p : float
        Order (>= 1).
    alpha : float
        In (0, 2]; 2 (the default) is the value that splits the distance into
        localisation, missed and false parts.

    Returns
    -------
    Gospa
        ``distance = (min over partial assignments gamma sum over gamma d**p
        + c**p / alpha (m + n - 2 |gamma|))**(1/p)``: a pair is assigned when
        ``d**p < 2 c**p / alpha``, each other state costs ``c**p / alpha``.
    """
    _check(c, p)
    if not 0 < alpha <= 2:
        raise ValueError(f"alpha must be in (0, 2], not {alpha!r}")
    m, n = len(_points(x)), len(_points(y))
    cap = 2 * c ** p / alpha
    _, _, _, distance_p = _assignment(x, y, cap, p)
    kept = distance_p < cap
    localisation = float(distance_p[kept].sum())
    assigned = int(kept.sum())
    missed, false = m - assigned, n - assigned
    total = localisation + c ** p / alpha * (missed + false)
    return Gospa(float(total ** (1 / p)), localisation, missed, false)


def ospa_series(truths, estimates, *, c, p=1):
    """:func:`ospa` of each pair ``(truths[i], estimates[i])``: an array, one per CPI."""
    if len(truths) != len(estimates):
        raise ValueError(f"{len(truths)} truth sets but {len(estimates)} estimate sets")
    return np.array([ospa(x, y, c=c, p=p) for x, y in zip(truths, estimates)])


def synthetic_plots(radar, range_cells, rate_cells, *, rng, detection_probability=1.0,
                    range_sigma_cells=0.1, doppler_sigma_bins=0.05, false_plots_per_cpi=0.0,
                    false_range_cells=(0.0, 1000.0), coupling=True, range_pos_bits=24,
                    first_cpi=0):
    """The plots a range-Doppler chain reports for targets of known truth, CPI by CPI.

    Parameters
    ----------
    radar : TrackerRadar
    range_cells, rate_cells : array_like of float, shape (targets, cpis)
        True range (range cells, the plots' convention) and range rate (cells
        per CPI, negative closing) of each target at each CPI.
    rng : numpy.random.Generator
    detection_probability : float
        Each target is detected in each CPI independently with this probability.
    range_sigma_cells, doppler_sigma_bins : float
        Standard deviations of the Gaussian range (cells) and Doppler (bins) errors.
    false_plots_per_cpi : float
        Mean of the Poisson number of false plots per CPI, uniform in
        ``false_range_cells`` (cells) and in Doppler.
    coupling : bool
        Shift each target's range by the LFM's range-Doppler coupling:
        ``- radar.coupling_per_doppler_lsb * x`` cells at the (unfolded) Doppler
        ``x`` (LSBs): an up-sweep shows a closing target closer.
    range_pos_bits : int
        ``range_pos`` is rounded half to even and clamped to ``[0, 2**range_pos_bits)``.
    first_cpi : int

    Returns
    -------
    frames : list of ndarray of PLOT_DTYPE
        One per CPI, sorted by ``range_pos`` then ``doppler_pos`` (the order a
        chain scanning range emits them). The Doppler of a target with rate ``v``
        is ``x = v / radar.rate_per_doppler_lsb`` LSBs (closing: positive) plus
        noise, reported as ``round(x + M*128) mod M*256``.
        ``power`` is 1000 and ``threshold`` 100 (not used by the tracker).
    sources : list of ndarray of int64
        For each plot of each frame: the index of its target, -1 for a false plot.
    """
    if not isinstance(radar, TrackerRadar):
        raise TypeError(f"radar must be a TrackerRadar, not {radar!r}")
    range_cells = np.atleast_2d(np.asarray(range_cells, dtype=np.float64))
    rate_cells = np.atleast_2d(np.asarray(rate_cells, dtype=np.float64))
    if range_cells.shape != rate_cells.shape:
        raise ValueError(f"range_cells {range_cells.shape} and rate_cells {rate_cells.shape} differ")
    period = radar.pulses * 256
    scale = 1 << POSITION_FRAC
    frames, sources = [], []
    for i in range(range_cells.shape[1]):
        seen = np.flatnonzero(rng.random(range_cells.shape[0]) < detection_probability)
        doppler = rate_cells[seen, i] / radar.rate_per_doppler_lsb
        shift = -radar.coupling_per_doppler_lsb * doppler if coupling else 0.0
        ranges = range_cells[seen, i] + shift + rng.normal(0.0, range_sigma_cells, seen.size)
        doppler = doppler + rng.normal(0.0, doppler_sigma_bins * 256, seen.size)
        false = rng.poisson(false_plots_per_cpi)
        ranges = np.concatenate([ranges, rng.uniform(*false_range_cells, false)])
        doppler = np.concatenate([doppler, rng.uniform(0, period, false) - period // 2])
        source = np.concatenate([seen, np.full(false, -1)]).astype(np.int64)
        frame = np.zeros(source.size, dtype=PLOT_DTYPE)
        frame["cpi"] = (first_cpi + i) % (1 << CPI_WIDTH)
        frame["range_pos"] = np.clip(np.round(ranges * scale), 0, (1 << range_pos_bits) - 1)
        frame["doppler_pos"] = np.mod(np.round(doppler) + period // 2, period)
        frame["power"], frame["threshold"] = 1000, 100
        order = np.lexsort((frame["doppler_pos"], frame["range_pos"]))
        frames.append(frame[order])
        sources.append(source[order])
    return frames, sources
