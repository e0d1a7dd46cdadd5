"""Plot extraction: streaming connected components of CFAR hits, at the peak, interpolated."""

import math

from amaranth import Array, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..formats import hits_layout, plots_layout
from ..stream.pipeline import delay
from ...spec.checks import check_integer
from ...spec.records import CPI_WIDTH, POSITION_FRAC

__all__ = ["PlotExtractor", "LOG2_FRAC", "LOG2_INDEX_BITS", "DROPPED_WIDTH",
           "log2_fraction_table"]

LOG2_FRAC = 8          # fraction bits of the fixed-point log2 of a power
LOG2_INDEX_BITS = 6    # mantissa bits below the leading one that index the fraction table
DROPPED_WIDTH = 32     # bits of the saturating count of dropped hits


def log2_fraction_table():
    """``log2(1 + (i + 1/2) / 2**LOG2_INDEX_BITS)`` for every index ``i``, rounded (half to
    even) to ``LOG2_FRAC`` fraction bits: the log of the middle of the mantissas that
    share the index. Every entry is below ``2**LOG2_FRAC``."""
    scale = 1 << LOG2_INDEX_BITS
    return tuple(round(math.log2(1 + (i + 0.5) / scale) * (1 << LOG2_FRAC))
                 for i in range(scale))


class PlotExtractor(wiring.Component):
    """Clusters of touching CFAR hits on the range–Doppler map, one plot each.

    The hits of a CPI arrive sparse, in bin-major order: range bin ascending and,
    within one, Doppler bin ascending. Hits that touch — 8-connected in range x
    Doppler, Doppler circular (bin ``M - 1`` touches bin 0) — form one cluster, and
    each cluster becomes one plot at its *peak*: the hit of largest power, ties to
    the earliest hit in stream order (lowest range bin, then lowest Doppler bin).
    Its position is refined below a cell on each axis by the vertex of a parabola
    through the log2 powers of the peak and its two neighbours (the hit's
    ``range_before``/``range_after`` and ``doppler_before``/``doppler_after``).

    Clustering is a one-pass connected-components labelling on the raster of
    range rows. A *label store* holds, per Doppler bin, the range bin and the
    cluster slot (its *label*) of the latest hit in that bin, one RAM word per
    bin, so a range bin may hold any number of hits (up to all ``M``). A hit at
    ``(r, d)`` reads the store at ``d - 1``, ``d`` and ``d + 1`` (mod ``M``): the
    words from range bin ``r - 1`` or ``r`` whose slot is held by an open cluster
    are its neighbours (a neighbour in row ``r - 1`` that a hit of row ``r`` has
    since overwritten is reached through that hit, which touches it). With the
    input in order the neighbours belong to at most two clusters: none starts a
    new cluster in the lowest free slot, one joins its cluster, two merge theirs
    (the lower slot survives). A slot's *forward* register names the cluster its
    label belongs to now; a merge rewrites every forward register naming either
    cluster at once, so a label is resolved by one look-up. Per slot, registers
    hold the cluster's peak (power and cell); the peak hit's threshold and
    neighbour powers are in a cluster RAM word, written when the peak changes.

    A cluster is *closed* at a *boundary* — the first hit of a new range bin, or
    ``cpi_end`` — when it can grow no more: at a hit of range bin ``row + 1``,
    the clusters without a hit in ``row``; at any other boundary, all. The plots
    of the clusters closed at one boundary leave in slot order, the CPI's
    ``cpi_end`` word after its last plot. The slots of a closed cluster (its own
    and those merged into it) are free again from the next boundary on.

    Input out of order breaks only the clustering (clusters may be split or
    joined), never the stream: no word is lost or duplicated, nothing hangs, and
    the model reproduces the result.

    Parameters
    ----------
    range_bits : int
        Bits of ``hit.range_bin``, 1 ... 16 (``plot.range_pos`` has
        ``range_bits + POSITION_FRAC`` bits, at most the 3 bytes of the link).
    doppler_bins : int
        ``M``, Doppler bins per range bin, 2 ... 256 (``plot.doppler_pos`` has
        ``doppler_bits + POSITION_FRAC`` bits, at most the 2 bytes of the link).
    power_width : int
        Bits of the powers and thresholds, 1 ... 48.
    max_clusters : int
        Cluster slots, 1 ... 64: clusters open at once, plus those closed at the
        latest boundary (free again at the next one), plus one slot per merge in
        an open cluster (held until the cluster's slots are freed).

    Members
    -------
    i : In(stream.Signature(hits_layout(...)))
        ``range_bits=range_bits, doppler_bits=doppler_bits, power_bits=power_width``.
        The CFAR's hits of each CPI in bin-major order, then one word with
        ``cpi_end`` set (only its ``hit.cpi`` is read). ``doppler_bin`` must be
        below ``M``; a hit at ``doppler_bin >= M`` is dropped and counted.
    o : Out(stream.Signature(plots_layout(...)))
        ``range_pos_bits=range_pos_bits, doppler_pos_bits=doppler_pos_bits,
        power_bits=power_width``. Per CPI its plots, then a word with ``cpi_end``
        set, ``plot.cpi`` the CPI's and the other fields 0. A plot has ``cpi`` (of
        the word that closed its cluster: a hit of the same CPI or its
        ``cpi_end``), ``power`` and ``threshold`` of the peak hit, and
        ``range_pos = range_bin * 2**F + dr``, ``doppler_pos = (doppler_bin * 2**F
        + dd) mod (M * 2**F)``, ``F = POSITION_FRAC``, ``dr, dd`` the offsets of
        Rounding/overflow.
    overflow : Out(1)
        Sticky: a hit that would start a new cluster found no free slot.
    dropped : Out(DROPPED_WIDTH)
        Hits dropped (no free slot, or ``doppler_bin >= M``), saturating. A dropped
        hit is left out of every cluster as if it were not over threshold.

    Attributes
    ----------
    doppler_bits : int
        Bits of ``hit.doppler_bin``: enough for ``0 .. M - 1``.
    range_pos_bits, doppler_pos_bits : int
        Bits of ``plot.range_pos`` and ``plot.doppler_pos``.
    emission_latency : int
        Enabled cycles from a plot's issue (its slot read) to its output word.

    Bit growth
    ----------
    ``log2(x) = e * 2**LOG2_FRAC + table[i]``, ``e`` the position of the leading
    one of ``x`` and ``i`` the ``LOG2_INDEX_BITS`` bits below it
    (:func:`log2_fraction_table`), so a log has ``bits(power_width - 1) + LOG2_FRAC``
    bits (``x = 0`` has log 0). With ``la, lb, lc`` the logs of the cells -1, 0
    and +1: ``n = lc - la`` and ``d = 2 lb - la - lc``, two bits wider, exact. The
    division ``|n| * 2**(F-1) / d`` yields ``F - 1`` quotient bits, one per stage
    (restoring).

    Rounding/overflow
    -----------------
    The log drops the mantissa bits below the table index (truncation, the table
    entry being the middle of the truncated interval): its error is below
    ``2**-LOG2_INDEX_BITS`` in log2. The offset is ``sign(n) * 2**(F-1)`` (half a
    cell, clamped) where ``d <= 0`` or ``|n| >= d``, else
    ``sign(n) * floor(|n| * 2**(F-1) / d)``: the magnitude truncated toward zero.
    ``range_pos`` saturates at 0 (a peak in range bin 0 with a negative offset);
    ``doppler_pos`` wraps modulo ``M * 2**F``. Clusters beyond ``max_clusters``
    are not formed: their hits are dropped, counted in ``dropped`` (saturating)
    and flagged in ``overflow`` — never a wrong merge. The CPI number is copied.

    Latency/throughput
    ------------------
    One hit per clock, except: the first hit of a range bin waits until the plots
    closed at the previous boundary have all been issued (one per enabled clock),
    and ``cpi_end`` then holds the input for ``M + 1`` clocks while it clears the
    label store. Clustering is four stages: 0, the label-store read (asynchronous,
    registered with the test of the word's range bin against the hit's, the
    decision writing in that clock forwarded) and the comparison of the range bin
    with the previous hit's (both candidates compared, then picked); 1, the
    decision (join, merge or new cluster, close at a boundary, the store write) in
    one clock, so that the next hit sees what this one wrote; 2, the peaks of the
    clusters joined (forwarded from stage 3 when it writes one of them) compared
    with each other and with the hit; 3, the peak update and the cluster-RAM
    write (no decision depends on a peak). The emission pipeline issues a closed
    slot per clock while ``o`` takes words, reads its peak and then the cluster
    RAM, takes the five logs (leading one; table index and table in ROM),
    forms the parabola's numerator and denominator, clamps, divides, adds the
    offsets to the cell and registers the output: ``emission_latency`` enabled
    clocks, all advancing on
    ``~o.valid | o.ready``. Memory: label store ``M`` words of
    ``1 + range_bits + bits(max_clusters - 1)`` bits (three read ports), cluster
    RAM ``max_clusters`` words of ``5 * power_width`` bits, log table
    ``2**LOG2_INDEX_BITS`` words of ``LOG2_FRAC`` bits (five read ports); per
    slot, registers of ``power_width + range_bits + doppler_bits +
    2 bits(max_clusters - 1) + 5`` bits.

    Model
    -----
    ``amaradar.sim.models.detect.plot_extractor.plot_extractor`` (bit-exact),
    ``interpolate_ideal`` (float interpolation).
    """

    def __init__(self, *, range_bits, doppler_bins, power_width, max_clusters):
        check_integer("range_bits", range_bits, 1, 16)
        check_integer("doppler_bins", doppler_bins, 2, 256)
        check_integer("power_width", power_width, 1, 48)
        check_integer("max_clusters", max_clusters, 1, 64)
        self.range_bits = range_bits
        self.doppler_bins = doppler_bins
        self.power_width = power_width
        self.max_clusters = max_clusters
        self.doppler_bits = max(1, (doppler_bins - 1).bit_length())
        self.slot_bits = max(1, (max_clusters - 1).bit_length())
        self.range_pos_bits = range_bits + POSITION_FRAC
        self.doppler_pos_bits = self.doppler_bits + POSITION_FRAC
        self.emission_latency = 8 + POSITION_FRAC - 1
        super().__init__({
            "i": In(stream.Signature(hits_layout(range_bits=range_bits,
                                                 doppler_bits=self.doppler_bits,
                                                 power_bits=power_width))),
            "o": Out(stream.Signature(plots_layout(range_pos_bits=self.range_pos_bits,
                                                   doppler_pos_bits=self.doppler_pos_bits,
                                                   power_bits=power_width))),
            "overflow": Out(1),
            "dropped": Out(DROPPED_WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        self._cluster(m)
        self._emit(m)
        return m

    # ------------------------------------------------------------ clustering

    def _cluster(self, m):
        n_slots, bins, p = self.max_clusters, self.doppler_bins, self.power_width
        slot_shape = unsigned(self.slot_bits)
        cell_layout = data.StructLayout({"valid": 1, "row": self.range_bits, "label": slot_shape})
        record_layout = data.StructLayout({name: p for name in (
            "threshold", "range_before", "range_after", "doppler_before", "doppler_after")})
        peak_layout = data.StructLayout({"power": p, "doppler": self.doppler_bits,
                                         "range": self.range_bits, "at": slot_shape})

        m.submodules.labels = labels = Memory(shape=cell_layout, depth=bins, init=[])
        m.submodules.records = records = Memory(shape=record_layout, depth=n_slots, init=[])
        label_write = labels.write_port()
        label_reads = [labels.read_port(domain="comb") for _ in range(3)]
        record_write = records.write_port()
        self._record_read = records.read_port()

        # Slot state: bit vectors, forward registers, and each slot's peak (power,
        # cell, and the slot whose cluster-RAM word holds the peak hit).
        used, root, extended = Signal(n_slots), Signal(n_slots), Signal(n_slots)
        self._closing = closing = Signal(n_slots)
        self._closing_any = closing_any = Signal()     # closing.any(), registered
        retire = Signal(n_slots)
        fwd = [Signal(slot_shape, name=f"fwd{x}") for x in range(n_slots)]
        self._peaks = peaks = [Signal(peak_layout, name=f"peak{x}") for x in range(n_slots)]
        self._end_pending = end_pending = Signal()
        self._close_cpi = close_cpi = Signal(CPI_WIDTH)
        row, row_valid = Signal(self.range_bits), Signal()
        row_above = Signal(self.range_bits + 1)
        clearing, clear_addr = Signal(), Signal(range(bins))

        # Stage 0: the accepted word reads the label store at d - 1, d, d + 1, and
        # is compared with the range bin that the word before it leaves behind (both
        # candidates compared, then picked); its bins r - 1 and r + 1 are registered.
        word = Signal(self.i.payload.shape())
        word_valid, boundary, adjacent = Signal(), Signal(), Signal()
        word_above = Signal(self.range_bits + 1)
        take, go = Signal(), Signal()
        placed, target = Signal(), Signal(slot_shape)    # stage 1: the hit joins cluster target
        hit, is_end = word.hit, word.cpi_end
        r, d = hit.range_bin, hit.doppler_bin
        m.d.comb += take.eq(self.i.valid & self.i.ready)
        d_in, r_in = self.i.payload.hit.doppler_bin, self.i.payload.hit.range_bin
        if bins & (bins - 1):       # not a power of two: keep addresses inside the store
            d_in = Mux(d_in < bins, d_in, 0)
        # The read ports are asynchronous, registered here with the test that the word
        # is of range bin r or r - 1: the decision writing in the clock a word is taken
        # is forwarded into these registers.
        labels_read = [Signal(slot_shape, name=f"label{j}") for j in range(3)]
        near_rows = [Signal(name=f"near_row{j}") for j in range(3)]
        for port, addr, label, near_row in zip(
                label_reads, (Mux(d_in == 0, bins - 1, d_in - 1), d_in,
                              Mux(d_in == bins - 1, 0, d_in + 1)), labels_read, near_rows):
            m.d.comb += port.addr.eq(addr)
            stored = port.data
            forward = go & placed & (addr == d)
            with m.If(take):
                m.d.sync += [
                    label.eq(Mux(forward, target, stored.label)),
                    near_row.eq(Mux(forward, (r_in == r) | (r_in == word_above),
                                    stored.valid & ((stored.row == r_in)
                                                    | (stored.row + 1 == r_in)))),
                ]
        leaves_row = go & ~is_end
        with m.If(take):
            m.d.sync += [
                word.eq(self.i.payload),
                word_above.eq(r_in + 1),
                boundary.eq(self.i.payload.cpi_end | Mux(leaves_row, r_in != r,
                                                         ~row_valid | (r_in != row))),
                adjacent.eq(Mux(leaves_row, r_in == word_above,
                                row_valid & (r_in == row_above))),
            ]
        with m.If(~word_valid | go):
            m.d.sync += word_valid.eq(take)

        # Stage 1: the decision (labels only; the peaks follow in stage 2).
        busy = self._closing_any | end_pending
        m.d.comb += [
            go.eq(word_valid & ~clearing & ~(boundary & busy)),
            self.i.ready.eq(~clearing & (~word_valid | (go & ~is_end))),
        ]

        # At a boundary: free the slots retired at the previous one, close clusters,
        # retire their slots. A used slot not retired belongs to an open cluster,
        # whose root is fwd (so the slots of the clusters closed now are those of
        # all clusters, or of those not extended in the last row: ``extended`` marks
        # the slots whose cluster took a hit in the current row).
        used0, closed, retire0, open0 = (Signal(n_slots, name=name) for name in (
            "used0", "closed", "retire0", "open0"))
        close_all = is_end | ~adjacent
        with m.If(boundary):
            m.d.comb += [
                used0.eq(used & ~retire),
                closed.eq(Mux(close_all, root, root & ~extended)),
                retire0.eq(Mux(close_all, used0, used0 & ~extended)),
                open0.eq(Mux(close_all, 0, used0 & extended)),
            ]
        with m.Else():
            m.d.comb += [used0.eq(used), retire0.eq(retire), open0.eq(used & ~retire)]

        # Neighbours: words of this row or the previous one, of open clusters.
        fwd_of = Array(fwd)
        oks, roots = [], []
        for j, (label, near_row) in enumerate(zip(labels_read, near_rows)):
            rt, ok = Signal(slot_shape, name=f"nb_root{j}"), Signal(name=f"nb_ok{j}")
            m.d.comb += [
                rt.eq(fwd_of[label]),
                ok.eq(near_row & open0.bit_select(label, 1)),
            ]
            oks.append(ok)
            roots.append(rt)
        # a is the root of the first neighbour, b of the last: merge and keep (the
        # lower) come from the roots compared pairwise beside the neighbour tests.
        near, merge = Signal(), Signal()
        a, b, keep = Signal(slot_shape), Signal(slot_shape), Signal(slot_shape)
        merge_of, keep_of = Const(0, 1), a
        for (i, j), pair in {(0, 2): oks[0] & oks[2], (0, 1): oks[0] & oks[1] & ~oks[2],
                             (1, 2): ~oks[0] & oks[1] & oks[2]}.items():
            merge_of = Mux(pair, roots[i] != roots[j], merge_of)
            keep_of = Mux(pair, Mux(roots[i] < roots[j], roots[i], roots[j]), keep_of)
        m.d.comb += [
            near.eq(Cat(oks).any()),
            a.eq(Mux(oks[0], roots[0], Mux(oks[1], roots[1], roots[2]))),
            b.eq(Mux(oks[2], roots[2], Mux(oks[1], roots[1], roots[0]))),
            merge.eq(merge_of),
            keep.eq(keep_of),
        ]

        # A new cluster takes the lowest free slot (found in both cases, then picked).
        new_slot = Signal(slot_shape)
        lowest = {}
        for case, free in (("plain", ~used), ("boundary", ~(used & ~retire))):
            lowest[case] = Signal(slot_shape, name=f"lowest_free_{case}")
            for x in reversed(range(n_slots)):
                with m.If(free[x]):
                    m.d.comb += lowest[case].eq(x)
        m.d.comb += new_slot.eq(Mux(boundary, lowest["boundary"], lowest["plain"]))

        bad = (d >= bins) if bins & (bins - 1) else Const(0, 1)
        join, new, drop = Signal(), Signal(), Signal()
        m.d.comb += [
            join.eq(~is_end & ~bad & near),
            new.eq(~is_end & ~bad & ~near & ~used0.all()),
            drop.eq(~is_end & (bad | (~near & used0.all()))),
        ]
        m.d.comb += [target.eq(Mux(near, keep, new_slot)), placed.eq(join | new)]
        bits = {name: Cat(v == x for x in range(n_slots))
                for name, v in (("target", target), ("a", a), ("b", b))}
        losing = Mux(join & merge, (bits["a"] | bits["b"]) & ~bits["target"], 0)
        joined = Signal(n_slots)        # the slots of the clusters that a hit joins
        members = [Signal(n_slots, name=f"members{j}") for j in range(3)]
        m.d.comb += [member.eq(Cat(fwd[x] == rt for x in range(n_slots)))
                     for member, rt in zip(members, roots)]
        m.d.comb += joined.eq(Mux(oks[0], members[0], Mux(oks[1], members[1], members[2]))
                              | Mux(oks[2], members[2], Mux(oks[1], members[1], members[0])))

        with m.If(go):
            with m.If(boundary):
                m.d.sync += [closing.eq(closed), closing_any.eq(closed.any()),
                             close_cpi.eq(hit.cpi)]
            with m.If(is_end):
                m.d.sync += [end_pending.eq(1), row_valid.eq(0), clearing.eq(1),
                             clear_addr.eq(0)]
            with m.Else():
                m.d.sync += [row.eq(r), row_above.eq(word_above), row_valid.eq(1)]
            m.d.sync += [
                used.eq(used0 | Mux(new, bits["target"], 0)),
                retire.eq(retire0),
                root.eq((root & ~closed & ~losing) | Mux(new, bits["target"], 0)),
                extended.eq(Mux(boundary, 0, extended) | Mux(join, joined, 0)
                            | Mux(new, bits["target"], 0)),
            ]
            with m.If(drop & ~bad):
                m.d.sync += self.overflow.eq(1)
            for x in range(n_slots):
                with m.If(join & merge & joined[x]):
                    m.d.sync += fwd[x].eq(keep)
                with m.If(new & bits["target"][x]):
                    m.d.sync += fwd[x].eq(x)
        # The count of dropped hits follows a clock after the decision.
        dropping = Signal()
        m.d.sync += dropping.eq(go & drop)
        with m.If(dropping & (self.dropped != (1 << DROPPED_WIDTH) - 1)):
            m.d.sync += self.dropped.eq(self.dropped + 1)
        m.d.comb += [
            label_write.addr.eq(Mux(clearing, clear_addr, d)),
            label_write.en.eq(clearing | (go & placed)),
            label_write.data.eq(Mux(clearing, 0, Cat(Const(1, 1), r, target))),
        ]
        with m.If(clearing):
            m.d.sync += clear_addr.eq(clear_addr + 1)
            with m.If(clear_addr == bins - 1):
                m.d.sync += clearing.eq(0)

        # Stage 2: the peaks of the clusters a hit joined, one clock after its decision
        # (no decision depends on a peak), forwarded from stage 3 when it writes one of
        # them now, compared with each other and with the hit. Stage 3 picks: the peaks
        # of merged clusters compete; the hit wins only with a strictly larger power (it
        # comes last in stream order).
        placed2, new2, merge2 = Signal(), Signal(), Signal()
        a2, b2, keep2 = Signal(slot_shape), Signal(slot_shape), Signal(slot_shape)
        hit2 = Signal.like(hit)
        m.d.sync += placed2.eq(go & placed)
        with m.If(go):
            m.d.sync += [new2.eq(new), merge2.eq(join & merge), a2.eq(a), b2.eq(b),
                         keep2.eq(target), hit2.eq(hit)]
        placed3, new3, merge3, a_better3, hit_over_a3, hit_over_b3 = (
            Signal(name=name) for name in ("placed3", "new3", "merge3", "a_better3",
                                           "hit_over_a3", "hit_over_b3"))
        keep3 = Signal(slot_shape)
        hit3 = Signal.like(hit)
        written = Signal(peak_layout)
        peak_of = Array(Value.cast(pk) for pk in peaks)
        peak_a, peak_b, peak_a3, peak_b3 = (Signal(peak_layout, name=name) for name in (
            "peak_a", "peak_b", "peak_a3", "peak_b3"))
        for peak, slot in ((peak_a, a2), (peak_b, b2)):
            m.d.comb += peak.eq(Mux(placed3 & (keep3 == slot), written, peak_of[slot]))
        m.d.sync += [
            placed3.eq(placed2), new3.eq(new2), merge3.eq(merge2), keep3.eq(keep2),
            hit3.eq(hit2), peak_a3.eq(peak_a), peak_b3.eq(peak_b),
            a_better3.eq((peak_a.power > peak_b.power) | (
                (peak_a.power == peak_b.power) &
                (Cat(peak_a.doppler, peak_a.range) < Cat(peak_b.doppler, peak_b.range)))),
            hit_over_a3.eq(hit2.power > peak_a.power),
            hit_over_b3.eq(hit2.power > peak_b.power),
        ]
        pick_a, hit_wins = Signal(), Signal()
        m.d.comb += [
            pick_a.eq(~merge3 | a_better3),
            hit_wins.eq(new3 | Mux(pick_a, hit_over_a3, hit_over_b3)),
            written.eq(Mux(hit_wins, Cat(hit3.power, hit3.doppler_bin, hit3.range_bin, keep3),
                           Mux(pick_a, peak_a3, peak_b3))),
        ]
        for x, peak in enumerate(peaks):
            with m.If(placed3 & (keep3 == x)):
                m.d.sync += peak.eq(written)
        m.d.comb += [
            record_write.addr.eq(keep3),
            record_write.en.eq(placed3 & hit_wins),
            record_write.data.eq(Cat(hit3.threshold, hit3.range_before, hit3.range_after,
                                     hit3.doppler_before, hit3.doppler_after)),
        ]

        # The plots of a boundary are issued by _emit, which clears their bits; the
        # next boundary waits for that, so the two never write in one clock. A peak
        # is final before it is read: stage 3 of the last hit before a boundary runs
        # in the clock after the boundary's decision, when the first slot is issued,
        # and _emit reads a peak one clock after its issue.
        self._issued = Signal(n_slots)
        self._issued_end = Signal()
        with m.If(self._issued.any()):
            m.d.sync += [closing.eq(closing & ~self._issued),
                         closing_any.eq((closing & (closing - 1)).any())]
        with m.If(self._issued_end):
            m.d.sync += end_pending.eq(0)

    # ------------------------------------------------------------ emission

    def _emit(self, m):
        n_slots, p, half = self.max_clusters, self.power_width, 1 << (POSITION_FRAC - 1)
        closing = self._closing
        en = Signal()
        m.d.comb += en.eq(~self.o.valid | self.o.ready)

        def stage(values, tag):
            return {k: delay(m, en, v, 1, f"{tag}_{k}", reset_less=k != "valid")
                    for k, v in values.items()}

        # Issue: the lowest closing slot, else the pending cpi_end word.
        slot = Signal(range(n_slots))
        for x in reversed(range(n_slots)):
            with m.If(closing[x]):
                m.d.comb += slot.eq(x)
        plot_now = en & self._closing_any
        end_now = en & ~self._closing_any & self._end_pending
        m.d.comb += [
            self._issued.eq(Mux(plot_now, Cat(slot == x for x in range(n_slots)), 0)),
            self._issued_end.eq(end_now),
        ]
        side = stage({"valid": plot_now | end_now, "end": end_now, "cpi": self._close_cpi,
                      "slot": slot}, "issue")

        # Read: the issued slot's peak, and its peak hit's word in the cluster RAM.
        peak = Signal.like(self._peaks[0], name="issue_peak")
        m.d.comb += [
            peak.eq(Array(Value.cast(pk) for pk in self._peaks)[side.pop("slot")]),
            self._record_read.addr.eq(peak.at),
            self._record_read.en.eq(en),
        ]
        side = stage({**side, "power": peak.power, "range": peak.range,
                      "doppler": peak.doppler}, "read")
        record = self._record_read.data
        side["threshold"] = record.threshold

        # Logs, part 1: the leading one; part 2: the table index and the table read.
        m.submodules.log_table = table = Memory(shape=LOG2_FRAC, depth=1 << LOG2_INDEX_BITS,
                                                init=log2_fraction_table())
        e_bits = max(1, (p - 1).bit_length())
        inputs = {"before_r": record.range_before, "after_r": record.range_after,
                  "before_d": record.doppler_before, "after_d": record.doppler_after,
                  "peak": side["power"]}
        leads = {}
        for name, x in inputs.items():
            e = Signal(e_bits, name=f"lead_{name}")
            for k in range(p):
                with m.If(x[k]):
                    m.d.comb += e.eq(k)
            leads[f"x_{name}"], leads[f"e_{name}"] = x, Cat(e, x.any())
        leads = stage(leads, "lead")
        side = stage(side, "lead")
        exps = {}
        for name in inputs:
            x, ez = leads[f"x_{name}"], leads[f"e_{name}"]
            port = table.read_port()
            m.d.comb += [port.addr.eq(((x << LOG2_INDEX_BITS) >> ez[:-1])[:LOG2_INDEX_BITS]),
                         port.en.eq(en)]
            exps[name] = (delay(m, en, ez, 1, f"exp_{name}"), port.data)
        side = stage(side, "table")

        # Logs, part 3, and the parabola's numerator and denominator per axis.
        logs = {name: Mux(ez[-1], Cat(frac, ez[:-1]), 0) for name, (ez, frac) in exps.items()}
        log_bits = e_bits + LOG2_FRAC
        axes = {}
        for axis in ("r", "d"):
            la, lb, lc = logs[f"before_{axis}"], logs["peak"], logs[f"after_{axis}"]
            num = Signal(signed(log_bits + 1), name=f"num_{axis}")
            den = Signal(signed(log_bits + 2), name=f"den_{axis}")
            with m.If(en):
                m.d.sync += [num.eq(lc - la), den.eq(2 * lb - la - lc)]
            axes[axis] = (num, den)
        side = stage(side, "parabola")

        # The clamp: clamped axes divide 0 by 1.
        width = log_bits + 2
        state = {}
        for axis, (num, den) in axes.items():
            mag = Mux(num < 0, -num, num).as_unsigned()
            clamp = (den <= 0) | (mag >= den)
            state[axis] = stage({"rem": Mux(clamp, 0, mag)[:width],
                                 "div": Mux(clamp, 1, den)[:width], "neg": num < 0,
                                 "zero": num == 0, "clamp": clamp}, f"clamp_{axis}")
            state[axis]["quo"] = Const(0, 0)
        side = stage(side, "clamp")

        # Division |n| * 2**(F-1) / d, one quotient bit per stage (restoring); the
        # remainder stays below the divisor.
        for step in range(POSITION_FRAC - 1):
            for axis, st in state.items():
                twice = Cat(Const(0, 1), st["rem"])
                fits = twice >= st["div"]
                st["rem"] = Mux(fits, twice - st["div"], twice)[:width]
                st["quo"] = Cat(fits, st["quo"])
                state[axis] = stage(st, f"div{step}_{axis}")
            side = stage(side, f"div{step}")

        # Offsets and positions, then the output register (saturation, wrap).
        positions = {}
        for axis, st in state.items():
            mag = Mux(st["clamp"], half, st["quo"])
            offset = Mux(st["zero"], 0, Mux(st["neg"], -mag, mag))
            bits = self.range_pos_bits if axis == "r" else self.doppler_pos_bits
            cell = side["range"] if axis == "r" else side["doppler"]
            positions[axis] = delay(m, en, (cell << POSITION_FRAC) + offset, 1,
                                    f"position_{axis}", signed(bits + 1))
        side = stage(side, "position")
        rpos, dpos = positions["r"], positions["d"]
        out = self.o.payload
        with m.If(en):
            m.d.sync += self.o.valid.eq(side["valid"])
            with m.If(side["end"]):
                m.d.sync += [out.eq(0), out.cpi_end.eq(1), out.plot.cpi.eq(side["cpi"])]
            with m.Else():
                m.d.sync += [
                    out.cpi_end.eq(0),
                    out.plot.cpi.eq(side["cpi"]),
                    out.plot.range_pos.eq(Mux(rpos < 0, 0, rpos)),
                    out.plot.doppler_pos.eq(Mux(dpos < 0, dpos + (self.doppler_bins
                                                                  << POSITION_FRAC), dpos)),
                    out.plot.power.eq(side["power"]),
                    out.plot.threshold.eq(side["threshold"]),
                ]
