"""Plot extraction: bit-exact model of ``hdl.detect.plot_extractor.PlotExtractor``, and the
ideal interpolation.

A *hit* is a cell of one CPI's range–Doppler map over its CFAR threshold
(``amaradar.spec.records.HIT``); a *plot* (``PLOT``) is one cluster of touching
hits, reported at its peak cell with range and Doppler refined below a cell.
Positions are in cells with ``POSITION_FRAC`` fraction bits ("1/256 cell").
"""

import numpy as np

from ....hdl.detect.plot_extractor import (DROPPED_WIDTH, LOG2_FRAC, LOG2_INDEX_BITS,
                                           log2_fraction_table)
from ....spec.checks import check_integer
from ....spec.records import CPI_WIDTH, HIT, PLOT, POSITION_FRAC, field_names, numpy_fields

__all__ = ["HIT_WORD_DTYPE", "PLOT_WORD_DTYPE", "hit_words", "map_hits", "log2_fixed",
           "parabola_offset", "interpolate_ideal", "plot_extractor"]

HIT_WORD_DTYPE = np.dtype(numpy_fields(HIT) + [("cpi_end", "int64")])
"""A word of the extractor's input stream: the fields of ``HIT`` and ``cpi_end``."""

PLOT_WORD_DTYPE = np.dtype(numpy_fields(PLOT) + [("cpi_end", "int64")])
"""A word of the extractor's output stream: the fields of ``PLOT`` and ``cpi_end``."""

_HALF = 1 << (POSITION_FRAC - 1)            # half a cell in position units
_TABLE = np.array(log2_fraction_table(), dtype=np.int64)


def hit_words(cpis):
    """The input stream of a run of CPIs.

    Parameters
    ----------
    cpis : sequence of (int, ndarray)
        ``(cpi, hits)``: the CPI number and its hits (fields of ``HIT``; a
        structured array such as :func:`map_hits` returns, in stream order).

    Returns
    -------
    words : ndarray of HIT_WORD_DTYPE
        Each CPI's hits with ``cpi`` set and ``cpi_end = 0``, then one word with
        ``cpi_end = 1`` and only ``cpi`` set.
    """
    parts = []
    for cpi, hits in cpis:
        part = np.zeros(len(hits) + 1, dtype=HIT_WORD_DTYPE)
        for name in field_names(HIT):
            if name != "cpi":
                part[name][:-1] = hits[name]
        part["cpi"] = cpi % (1 << CPI_WIDTH)
        part["cpi_end"][-1] = 1
        parts.append(part)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=HIT_WORD_DTYPE)


def map_hits(power, detected, threshold=None, *, cpi=0):
    """The hits of a range–Doppler power map, in stream (bin-major) order.

    Parameters
    ----------
    power : array_like of int, shape (L, M)
        Power of each cell (range bin x Doppler bin), unsigned LSB².
    detected : array_like of bool, shape (L, M)
        The cells over threshold.
    threshold : array_like of int, shape (L, M), optional
        The threshold of each cell (default 0).
    cpi : int
        CPI number of the hits.

    Returns
    -------
    hits : ndarray of HIT fields (int64)
        Range bin ascending, then Doppler bin; ``range_before``/``range_after``
        are 0 beyond the first and last range bin; the Doppler neighbours wrap.
    """
    power = np.asarray(power, dtype=np.int64)
    detected = np.asarray(detected, dtype=bool)
    if power.ndim != 2 or detected.shape != power.shape:
        raise ValueError(f"power and detected must be 2-D of one shape, not "
                         f"{power.shape} and {detected.shape}")
    threshold = np.zeros_like(power) if threshold is None else np.asarray(threshold, np.int64)
    padded = np.pad(power, ((1, 1), (0, 0)))
    rows, cols = np.nonzero(detected)
    hits = np.zeros(len(rows), dtype=numpy_fields(HIT))
    hits["cpi"] = cpi % (1 << CPI_WIDTH)
    hits["range_bin"], hits["doppler_bin"] = rows, cols
    hits["power"], hits["threshold"] = power[rows, cols], threshold[rows, cols]
    hits["range_before"], hits["range_after"] = padded[rows, cols], padded[rows + 2, cols]
    m = power.shape[1]
    hits["doppler_before"] = power[rows, (cols - 1) % m]
    hits["doppler_after"] = power[rows, (cols + 1) % m]
    return hits


def log2_fixed(x):
    """The gateware's base-2 logarithm: ``LOG2_FRAC`` fraction bits, by leading one and table.

    Parameters
    ----------
    x : array_like of int
        Unsigned powers (< 2**62).

    Returns
    -------
    log : ndarray of int64
        ``e * 2**LOG2_FRAC + table[i]`` with ``e = floor(log2 x)`` (the position of
        the leading one) and ``i`` the ``LOG2_INDEX_BITS`` bits below it (truncated;
        zeros below the last bit when ``e < LOG2_INDEX_BITS``); ``table[i]`` is
        ``log2(1 + (i + 1/2) / 2**LOG2_INDEX_BITS)`` rounded to ``LOG2_FRAC``
        fraction bits (the middle of the mantissas that share ``i``). ``x = 0``
        gives 0, as ``x = 1`` almost does.
    """
    x = np.asarray(x, dtype=np.int64)
    if x.size and (x.min() < 0 or x.max() >= 1 << 62):
        raise ValueError("x must be in [0, 2**62)")
    e = np.zeros_like(x)
    for k in range(1, 62):
        e += (x >> k) > 0
    t = LOG2_INDEX_BITS
    index = np.where(e >= t, x >> np.maximum(e - t, 0), x << np.maximum(t - e, 0)) & ((1 << t) - 1)
    return np.where(x > 0, (e << LOG2_FRAC) + _TABLE[index], 0)


def parabola_offset(before, peak, after):
    """Bit-exact sub-cell offset of a peak from its two neighbours' powers.

    The vertex of the parabola through ``(-1, la)``, ``(0, lb)``, ``(1, lc)``,
    ``l = log2_fixed(power)``, is at ``p = n / (2 d)`` cells with ``n = lc - la``
    and ``d = 2 lb - la - lc``.

    Parameters
    ----------
    before, peak, after : array_like of int
        Powers at the cells -1, 0, +1.

    Returns
    -------
    offset : ndarray of int64
        In ``1/2**POSITION_FRAC`` cell, within ``[-h, h]``, ``h = 2**(POSITION_FRAC-1)``
        (half a cell): ``sign(n) * h`` where ``d <= 0`` (no maximum in between) or
        ``|n| >= d`` (the vertex half a cell away or more), else
        ``sign(n) * floor(|n| * h / d)``: the magnitude truncated (toward zero).
    """
    la, lb, lc = (log2_fixed(v) for v in (before, peak, after))
    n = lc - la
    d = 2 * lb - la - lc
    clamp = (d <= 0) | (np.abs(n) >= d)
    quotient = (np.abs(n) * _HALF) // np.where(clamp, 1, d)
    return np.sign(n) * np.where(clamp, _HALF, quotient)


def interpolate_ideal(before, peak, after):
    """Ideal float twin of :func:`parabola_offset`: natural logs, exact division.

    Returns
    -------
    offset : ndarray of float
        In cells, within [-0.5, 0.5], under the same rules (no maximum or a
        vertex beyond half a cell: +-0.5 toward the larger neighbour). Zero
        powers count as 1 (log 0), as in the gateware.
    """
    la, lb, lc = (np.log(np.maximum(np.asarray(v, dtype=float), 1.0))
                  for v in (before, peak, after))
    n = lc - la
    d = 2 * lb - la - lc
    clamp = (d <= 0) | (np.abs(n) >= d)
    return np.where(clamp, 0.5 * np.sign(n), n / (2 * np.where(clamp, 1.0, d)))


class _Table:
    """The gateware's cluster state, slot by slot (see ``PlotExtractor``)."""

    def __init__(self, doppler_bins, max_clusters):
        n = max_clusters
        self.m = doppler_bins
        self.used, self.root, self.extended, self.retire = ([False] * n for _ in range(4))
        self.fwd, self.peak_at = list(range(n)), list(range(n))
        self.peak = [(0, 0, 0)] * n        # (power, range_bin, doppler_bin) of the peak
        self.ram = [None] * n              # the peak hit of the cluster whose slot owns it
        self.cells = [None] * doppler_bins  # (range_bin, label) of the latest hit per bin
        self.row = None                    # range bin of the hits being taken
        self.dropped = 0
        self.overflow = False

    def boundary(self, word, closes_all, out):
        """Free the slots retired at the previous boundary, close clusters, emit plots."""
        n = len(self.used)
        self.used = [u and not r for u, r in zip(self.used, self.retire)]
        closed = [self.root[x] and (closes_all or not self.extended[x]) for x in range(n)]
        for c in range(n):
            if closed[c]:
                out.append((int(word["cpi"]), self.peak[c], self.ram[self.peak_at[c]]))
        self.retire = [self.used[x] and closed[self.fwd[x]] for x in range(n)]
        self.root = [r and not c for r, c in zip(self.root, closed)]
        self.extended = [False] * n

    def take(self, word):
        """Cluster one hit."""
        r, d, power = int(word["range_bin"]), int(word["doppler_bin"]), int(word["power"])
        if d >= self.m:
            self.dropped += 1
            return
        roots = []
        for cell in (self.cells[(d - 1) % self.m], self.cells[d], self.cells[(d + 1) % self.m]):
            # a label counts if its slot is held by an open cluster (used, not retired)
            if cell is not None and cell[0] in (r, r - 1) and self.used[cell[1]] \
                    and not self.retire[cell[1]]:
                roots.append(self.fwd[cell[1]])
        hit_peak = (power, r, d)
        if roots:
            a, b = roots[0], roots[-1]
            keep, lose = min(a, b), max(a, b)
            best = a
            if a != b:
                pa, pb = self.peak[a], self.peak[b]
                best = a if pa[0] > pb[0] or (pa[0] == pb[0] and pa[1:] < pb[1:]) else b
                self.fwd = [keep if f == lose else f for f in self.fwd]
                self.root[lose] = False
            if power > self.peak[best][0]:
                self.peak[keep], self.peak_at[keep] = hit_peak, keep
                self.ram[keep] = word.item()
            else:
                self.peak[keep], self.peak_at[keep] = self.peak[best], self.peak_at[best]
            slot = keep
        elif not all(self.used):
            slot = self.used.index(False)
            self.used[slot] = self.root[slot] = True
            self.fwd[slot] = self.peak_at[slot] = slot
            self.peak[slot], self.ram[slot] = hit_peak, word.item()
        else:
            self.dropped += 1
            self.overflow = True
            return
        self.extended[slot] = True
        self.cells[d] = (r, slot)


def plot_extractor(words, *, doppler_bins, max_clusters):
    """Bit-exact model of ``PlotExtractor``: the plots of a stream of hits.

    Parameters
    ----------
    words : ndarray of HIT_WORD_DTYPE
        The input stream (see :func:`hit_words`): each CPI's hits in bin-major
        order (range bin ascending, then Doppler bin), then a ``cpi_end`` word.
    doppler_bins : int
        ``M``, Doppler bins per range bin (bin ``M - 1`` touches bin 0).
    max_clusters : int
        Cluster slots of the gateware.

    Returns
    -------
    plots : ndarray of PLOT_WORD_DTYPE
        The output stream: per CPI its plots, then a word with ``cpi_end = 1``
        and only ``cpi`` set. A plot is a cluster of 8-connected hits (Doppler
        circular), at its peak: largest power, ties to the earliest hit in stream
        order. ``range_pos = max(0, range_bin * 2**F + parabola_offset(range_before,
        power, range_after))``, ``doppler_pos = (doppler_bin * 2**F +
        parabola_offset(doppler_before, power, doppler_after)) mod (M * 2**F)``,
        ``F = POSITION_FRAC``. Order: the plots of the clusters that close at one
        boundary (a hit in a new range bin, or ``cpi_end``), by slot number.
    status : dict
        ``dropped``: hits not clustered (no free slot, or ``doppler_bin >= M``),
        saturated at ``2**DROPPED_WIDTH - 1``; ``overflow``: a hit found no free slot.

    Notes
    -----
    The slot rules, which set the order of plots and which hits an overflow
    drops: a new cluster takes the lowest free slot; in a merge the lower slot
    survives; the slots of a cluster closed at one boundary are free again from
    the next boundary on; a label in the store counts only while its slot is
    held by an open cluster. The model runs the gateware's state machine, so it
    also equals the gateware on input out of order (where clusters may be wrong).
    """
    check_integer("doppler_bins", doppler_bins, 2)
    check_integer("max_clusters", max_clusters, 1)
    words = np.asarray(words, dtype=HIT_WORD_DTYPE)
    table = _Table(doppler_bins, max_clusters)
    found = []                         # (cpi, (power, range, doppler), peak word) or (cpi,)
    for word in words:
        if word["cpi_end"]:
            table.boundary(word, True, found)
            found.append((int(word["cpi"]),))
            table.cells = [None] * doppler_bins
            table.row = None
            continue
        r = int(word["range_bin"])
        if r != table.row:
            table.boundary(word, table.row is None or r != table.row + 1, found)
            table.row = r
        table.take(word)
    return _plots(found, doppler_bins), {
        "dropped": min(table.dropped, (1 << DROPPED_WIDTH) - 1), "overflow": table.overflow}


def _plots(found, doppler_bins):
    """The output words of the closed clusters (interpolation vectorised)."""
    out = np.zeros(len(found), dtype=PLOT_WORD_DTYPE)
    out["cpi"] = [f[0] for f in found]
    ends = np.array([len(f) == 1 for f in found], dtype=bool)
    out["cpi_end"] = ends
    plots = [f for f in found if len(f) == 3]
    if plots:
        peak = np.array([p[1] for p in plots], dtype=np.int64)
        ram = np.array([p[2] for p in plots], dtype=HIT_WORD_DTYPE)
        dr = parabola_offset(ram["range_before"], ram["power"], ram["range_after"])
        dd = parabola_offset(ram["doppler_before"], ram["power"], ram["doppler_after"])
        keep = ~ends
        out["range_pos"][keep] = np.maximum(0, (peak[:, 1] << POSITION_FRAC) + dr)
        out["doppler_pos"][keep] = ((peak[:, 2] << POSITION_FRAC) + dd) % \
            (doppler_bins << POSITION_FRAC)
        out["power"][keep] = peak[:, 0]
        out["threshold"][keep] = ram["threshold"]
    return out

