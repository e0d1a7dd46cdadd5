"""Multi-target tracker: alpha-beta tracks in block RAM, updated once per CPI from its plots."""

from dataclasses import dataclass

from amaranth import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..formats import plots_layout, record_layout
from ..numerics import shift_right
from ..secded import secded_decode, secded_encode, secded_width
from ..stream.pipeline import multiply, product_latency
from .tables import (DIST_FRAC, GAIN_FRAC, STATE_FRAC, STATUS_COASTING, STATUS_CONFIRMED,
                     STATUS_TENTATIVE, TENTATIVE_OFFSET, TrackerConfig, tracker_tables)
from ...spec.checks import check_integer
from ...spec.records import CPI_WIDTH, POSITION_FRAC, TRACK

__all__ = ["Tracker", "track_layout", "tracks_layout", "COUNTER_WIDTH"]

#: Bits of the saturating drop counters ``plots_dropped`` and ``initiations_dropped``.
COUNTER_WIDTH = 32


def track_layout(tables):
    """A track report: the record ``amaradar.spec.records.TRACK``.

    ``cpi`` (``CPI_WIDTH``), ``track_id`` (``id_bits``), ``status`` (2), ``range_pos``
    (``range_pos_bits``, 1/256 cell), ``range_rate`` (signed ``rate_bits``, 2**-16 cell
    per CPI), ``unfolded`` (1), ``age`` and ``misses`` (``tables.widths``), ``plot``
    (``max_plots.bit_length()``: 1 + the index of the plot that updated or started the
    track, 0 if none).
    """
    cfg, w = tables.config, tables.widths
    return record_layout(TRACK, id_bits=cfg.id_bits, range_pos_bits=cfg.range_pos_bits,
                         rate_bits=tables.rate_bits, age_bits=w["age"], misses_bits=w["misses"],
                         plot_bits=cfg.max_plots.bit_length())


def tracks_layout(tables):
    """A word of the tracker's output: a report (:func:`track_layout`) or, with
    ``cpi_end`` set, the marker that ends a CPI's reports (then only ``track.cpi`` is
    meaningful)."""
    return data.StructLayout({"track": track_layout(tables), "cpi_end": unsigned(1)})


@dataclass(frozen=True)
class _CodedPorts:
    """A SECDED-coded RAM as the tracker uses it: ``write_en``, ``write_addr`` and
    ``written`` (the word, in its layout) to write; ``read`` (the read port: address
    and enable) and ``read_word`` (decoded, registered) to read; ``used``, raised in
    the cycles ``read_word`` is used (the ECC flags then take its state)."""
    write_en: Signal
    write_addr: Signal
    written: Signal
    read: object
    read_word: Signal
    used: Signal


def _signed_range(bound):
    """A shape holding ``-bound ... bound``."""
    return signed(int(bound).bit_length() + 1)


def _scaled_bound(bound, constant):
    """Largest ``|x * word| >> shift`` (rounded up) for ``|x| <= bound``."""
    word, shift = constant
    return ((bound * abs(word)) >> shift) + 1


class Tracker(wiring.Component):
    """Multi-target alpha-beta tracker in range and range rate, bit-exact to its model.

    Each CPI's plots are buffered, then a sequential machine runs the model's
    seven steps on the track file, one slot or one (track, plot) pair at a time:
    predict, gate every pair, associate (greedy global nearest neighbour), update,
    book-keep (M-of-N, coasting, deletion), initiate and report. The algorithm, its
    numbers and their rounding are those of
    :class:`amaradar.sim.models.track.tracker.TrackerModel` (read its Notes); the
    constants come from :func:`amaradar.hdl.track.tables.tracker_tables`.

    Parameters
    ----------
    config : TrackerConfig
        Elaboration parameters: track slots ``T = max_tracks``, plots per CPI
        ``P = max_plots``, ``range_pos_bits``, the radar and the table parameters.
    power_bits : int
        Bits of the plots' ``power`` and ``threshold`` fields (not used, >= 1).

    Members
    -------
    i : In(stream.Signature(plots_layout(range_pos_bits=, doppler_pos_bits=period_bits, power_bits=)))
        Plots, one per word, in the order the model numbers them; a word with
        ``cpi_end`` set closes a CPI (with no plot) and gives its number in
        ``plot.cpi``. The first ``P`` plots of a CPI are kept, later ones are
        counted and flagged. ``i.ready`` is low while a CPI is processed.
    o : Out(stream.Signature(tracks_layout(tables)))
        Per CPI one report per live track, by slot, then a ``cpi_end`` word; the
        reports' ``cpi`` is the number of the CPI's ``cpi_end`` input word.
    confirm_m, confirm_n : In(window_max.bit_length())
        M-of-N confirmation, ``1 <= M <= N <= window_max`` (other values: the
        book-keeping is undefined). Read while a CPI is processed; change them
        between CPIs.
    delete_k : In(misses_max.bit_length())
        Deletion after ``K`` misses, ``1 <= K <= misses_max``.
    unfold, correct_coupling : In(1)
        The model's run-time switches.
    plot_overflow, track_overflow, id_exhausted, range_saturated, rate_saturated : Out(1)
        Sticky flags, ``TRACKER_FLAGS`` of the model.
    ecc_corrected, ecc_uncorrectable : Out(1)
        Sticky: a word read from the plot buffer or the track file and used had one
        flipped bit, put right (the reports are unchanged), or two, not put right
        (the reports may be wrong until the word is rewritten). Gateware only: the
        model has no RAM.
    plots_dropped, initiations_dropped : Out(COUNTER_WIDTH)
        The model's counters, saturating at ``2**COUNTER_WIDTH - 1``.
    tracks_started : Out(id_bits + 1)
        Ids given out (the next id).

    Attributes
    ----------
    tables : TrackerTables
    shared_latency, gate_latency : int
        Stages of the shared multiplier and of the pair pipeline (plot read to list write).
    track_bits : int
        Bits of a track-file word (:attr:`track_word`).

    Architecture
    ------------
    Per CPI, after its ``cpi_end`` word: (1) *predict and gate*, slot by slot: a live
    track is read, its predicted range written back, its gate row read from the
    table ROM and its predicted Doppler ``xp`` formed on the shared multiplier;
    then its pairs with every plot enter the pair pipeline, one per clock (unfold
    the plot's Doppler next to ``xp`` or compare it with the last plot's, coupling
    product, innovation, gate test, the two distance products, key), which appends
    each gated pair ``(key, slot, plot)`` to the pair list and marks plots gated by
    a confirmed or coasting track. (2) *Associate*: passes over the list, each
    finding the least key among the pairs whose track and plot are still free
    (ties: the earlier entry, i.e. lower slot, then lower plot: the list is in
    that order) and taking it, while it rewrites the list without the pairs no
    longer free; it ends with a pass that finds nothing. (3) *Update and
    book-keep*, slot by slot: an associated track runs a fixed sequence of eight
    products on the shared multiplier (``xp``, coupling, Doppler rate, alpha and
    beta gains, and the unfolding's ``xp``, rate and coupling), a missed one only
    its counters. (4) *Initiate*: the lowest qualifying plot into the lowest free
    slot, one per step (registered priority encoders over the flag registers). (5) *Report*
    the slots in order, one per clock under ``o.ready``.

    Multipliers (:func:`amaradar.hdl.stream.pipeline.multiply`, so DSP blocks):
    the shared one, the widest operand times a signed ``SCALE_BITS + 1``-bit word;
    the pair pipeline's unfolded Doppler times the coupling word (none without a
    sweep), ``|e|`` times the gate mantissa and ``|dx|`` times the Doppler gate's
    reciprocal.

    Bit growth
    ----------
    Registers have the widths of ``tables.widths`` or, where the product of a
    scaled constant feeds them, the width that the largest operand and the
    constant's word give (worked out at elaboration from the tables' bounds:
    ``|v| <= rate_limit``, ``|x| <= M*128``, ranges in ``[0, range_max]``), so every
    value the model computes in int64 is held exactly. The shared multiplier takes
    the widest operand (innovation, rate or unfolded Doppler) times a signed word
    of ``SCALE_BITS + 1`` bits; the gate distance multiplies ``|e|`` cut to the
    gate's bits (exact whenever the pair is gated; the key of a pair that is not
    gated is never used) by the gate's ``SCALE_BITS``-bit mantissa.

    Rounding/overflow
    -----------------
    As the model: products of scaled constants and gains shift right rounding half
    to even; the period index rounds half to even; distances truncate; the
    report's ``range_pos`` rounds half to even. Range and rate saturate at
    ``[0, range_max]`` and ``±rate_limit`` with sticky flags; the drop counters
    saturate. Ids are never reused: after ``2**id_bits`` initiations
    ``id_exhausted`` is raised and new tracks are dropped.

    Latency/throughput
    ------------------
    Plots are taken one per clock. A CPI then takes, from the acceptance of its
    ``cpi_end`` word to the transfer of the output ``cpi_end`` word with ``o.ready``
    high (:meth:`cpi_cycles`; ``L = shared_latency``, ``D = gate_latency``)::

        T + 1 + T_live * (L + 6 + (P' + D if P' else 1))     predict and gate
        + sum over passes k = 0 ... A of (G_k + 4)           associate
        + T + 1 + 6 * T_live + A * (8 * L + 36)              update and book-keep
        + 2 + 2 * Q + 3 * I                                  initiate
        + T + 5                                              report

    cycles, where ``T_live`` tracks were live at the start, ``P'`` plots were kept,
    ``G_0 = G`` pairs were gated, ``A`` were associated, pass ``k >= 1`` reads the
    ``G_k`` pairs whose track and plot are both outside the first ``k - 1`` taken
    (each pass drops the pairs of taken tracks and plots from the list), and ``Q``
    plots asked for a new track, ``I`` of them getting one. The worst case
    (:meth:`worst_case_cycles`: every slot live, ``P`` plots, every pair gated,
    ``A = min(T, P)``) grows as ``min(T, P) * T * P / 3`` in the association; the
    gating is one pair per clock. The input is not taken meanwhile: the plots of
    the next CPI wait upstream.

    Memory: plots ``P x (range_pos_bits + period_bits)``, track file ``T x``
    (:attr:`track_bits`), each word stored as its SECDED code word
    (:mod:`amaradar.hdl.secded`: one flipped bit is put right on every read; each
    live track is rewritten every CPI, which scrubs it, and a plot is read only in
    the CPI that wrote it);
    gated-pair list ``T*P x (key + slot + plot bits)``, associations ``T x plot
    bits`` (both rebuilt every CPI, not coded), gate and gain table ``(age_max + 1)
    x 2**ceil(log2 miss_columns)`` words (ROM); live, taken and blocked flags in
    registers.

    Model
    -----
    ``amaradar.sim.models.track.tracker.TrackerModel`` (bit-exact, one ``step`` per
    CPI with ``cpi`` the marker's number); ``IdealTracker`` (float).
    """

    def __init__(self, config, *, power_bits):
        if not isinstance(config, TrackerConfig):
            raise TypeError(f"config must be a TrackerConfig, not {config!r}")
        self.power_bits = check_integer("power_bits", power_bits, 1)
        self.config = config
        self.tables = t = tracker_tables(config)
        w = t.widths
        self.window_bits = config.window_max.bit_length()
        self.delete_bits = config.misses_max.bit_length()
        self.slot_bits = max(1, (config.max_tracks - 1).bit_length())
        self.index_bits = max(1, (config.max_plots - 1).bit_length())
        self.plot_bits = config.max_plots.bit_length()
        self.key_bits = w["key"]
        self._bounds()
        self.track_word = data.StructLayout({
            "track_id": unsigned(config.id_bits), "status": unsigned(2),
            "r": unsigned(w["range"]), "v": signed(t.rate_bits), "xl": signed(t.period_bits),
            "age": unsigned(w["age"]), "misses": unsigned(w["misses"]),
            "window": unsigned(self.window_bits), "hits": unsigned(self.window_bits),
            "unfolded": unsigned(1), "plot": unsigned(self.plot_bits)})
        self.track_bits = self.track_word.size
        self.shared_latency = self._shared_latency
        self.gate_latency = self._gate_latency
        super().__init__({
            "i": In(stream.Signature(plots_layout(range_pos_bits=config.range_pos_bits,
                                                  doppler_pos_bits=t.period_bits,
                                                  power_bits=power_bits))),
            "o": Out(stream.Signature(tracks_layout(t))),
            "confirm_m": In(self.window_bits, init=min(3, config.window_max)),
            "confirm_n": In(self.window_bits, init=min(5, config.window_max)),
            "delete_k": In(self.delete_bits, init=min(3, config.misses_max)),
            "unfold": In(1, init=1),
            "correct_coupling": In(1, init=1),
            "plot_overflow": Out(1), "track_overflow": Out(1), "id_exhausted": Out(1),
            "range_saturated": Out(1), "rate_saturated": Out(1),
            "ecc_corrected": Out(1), "ecc_uncorrectable": Out(1),
            "plots_dropped": Out(COUNTER_WIDTH), "initiations_dropped": Out(COUNTER_WIDTH),
            "tracks_started": Out(config.id_bits + 1),
        })

    # ---------------------------------------------------------------- widths

    def _bounds(self):
        """Shapes of the intermediate values, from the largest operands."""
        t = self.tables
        range_max, rate_limit = t.range_max, t.rate_limit
        half_period = 1 << (t.period_bits - 1)
        xp = _scaled_bound(rate_limit, t.to_doppler)
        xu = xp + half_period
        c = _scaled_bound(xu, t.coupling)
        rd = _scaled_bound(xu, t.to_rate)
        e = range_max + c
        rdv = rd + rate_limit
        gains = max(int(t.alpha.max()), int(t.beta.max()), t.doppler_gain)
        self.xu_shape = _signed_range(xu)
        self.c_shape = _signed_range(c)
        self.rd_shape = _signed_range(rd)
        self.e_shape = _signed_range(e)
        self.gain_bits = gains.bit_length()
        self.ae_shape = _signed_range(((e * gains) >> GAIN_FRAC) + 1)
        self.dv_shape = _signed_range(((max(e, rdv) * gains) >> GAIN_FRAC) + 1)
        words = [abs(t.to_doppler[0]), abs(t.to_rate[0]), abs(t.coupling[0]), gains]
        self.mul_a_shape = _signed_range(max(e, rdv, xu, rate_limit))
        self.mul_b_shape = _signed_range(max(words))
        self.gate_bits = max(1, int(t.gate.max()).bit_length())
        self.dx_bits = max(1, t.doppler_gate.bit_length())
        self.gshift_bits = max(1, int(t.gate_shift.max()).bit_length())
        self.mant_bits = max(1, int(t.gate_mant.max()).bit_length())
        self.col_bits = (t.miss_columns - 1).bit_length()
        self.dist_bits = DIST_FRAC + 2
        self._shared_latency = product_latency(self.mul_a_shape, self.mul_b_shape)
        lc = 0 if t.coupling[0] == 0 else product_latency(
            _signed_range(abs(t.coupling[0])), self.xu_shape)
        le = product_latency(unsigned(self.mant_bits), unsigned(self.gate_bits))
        ld = product_latency(unsigned(max(1, t.doppler_recip[0].bit_length())),
                             unsigned(self.dx_bits))
        self._coupling_latency, self._distance_latency = lc, max(le, ld)
        # issue to list write: plot read, its code word registered, decoded and registered,
        # Doppler difference, unfolding, innovation parts (the coupling product beside
        # them), correction, innovation, magnitudes, distance products, distances
        self._gate_latency = 10 + max(lc - 1, 0) + max(le, ld)

    def cpi_cycles(self, *, live, plots, passes, hits, qualified, started):
        """Clock cycles from the acceptance of a CPI's ``cpi_end`` word to the transfer
        of the output ``cpi_end`` word, with ``o.ready`` held high.

        Parameters
        ----------
        live : int
            Tracks live when the CPI starts, ``T_live``.
        plots : int
            Plots kept, ``P'``.
        passes : sequence of int
            List entries each association pass reads, ``G_0 ... G_A``.
        hits : int
            Tracks associated, ``A``.
        qualified, started : int
            Plots that asked for a new track, ``Q``, and those that got one, ``I``.
        """
        big_t, big_l, d = self.config.max_tracks, self.shared_latency, self.gate_latency
        gate = big_t + 1 + live * (big_l + 6 + (plots + d if plots else 1))
        associate = sum(g + 4 for g in passes)
        update = big_t + 1 + 6 * live + hits * (8 * big_l + 36)
        return gate + associate + update + (2 + 2 * qualified + 3 * started) + (big_t + 5)

    def worst_case_cycles(self):
        """:meth:`cpi_cycles` at its largest: every slot live, ``P`` plots, every pair
        gated, ``min(T, P)`` associations, every other plot starting a track."""
        big_t, big_p = self.config.max_tracks, self.config.max_plots
        hits = min(big_t, big_p)
        passes = [big_t * big_p] + [(big_t - j) * (big_p - j) for j in range(hits)]
        return self.cpi_cycles(live=big_t, plots=big_p, passes=passes, hits=hits,
                               qualified=big_p - hits, started=big_p - hits)

    # ---------------------------------------------------------------- gateware

    def elaborate(self, platform):
        m = Module()
        cfg, t = self.config, self.tables
        n_tracks, n_plots = cfg.max_tracks, cfg.max_plots
        pb = t.period_bits
        range_shift = STATE_FRAC - POSITION_FRAC
        range_bits = t.widths["range"]

        def reg(value, name, shape=None):
            """``value`` registered (in ``shape``, default its own)."""
            sig = Signal(Value.cast(value).shape() if shape is None else shape, name=name)
            m.d.sync += sig.eq(value)
            return sig

        def stage(values, name, stages=1):
            """A dict of values through ``stages`` registers."""
            for n in range(stages):
                values = {k: reg(v, f"{name}{n}_{k}") for k, v in values.items()}
            return values

        def lowest_set(vector):
            """Index of the lowest set bit of ``vector`` (any value if none)."""
            one_hot = vector & (~vector + 1)[:len(vector)]
            bits = max(1, (len(vector) - 1).bit_length())
            return Cat(Cat(one_hot[k] for k in range(len(vector)) if k >> b & 1).any()
                       if len(vector) > 1 << b else Const(0, 1) for b in range(bits))

        def sat_range(value):
            """``value`` clamped to ``[0, range_max]``; returns (clamped, clamped?)."""
            low, high = value < 0, value > t.range_max
            return Mux(low, 0, Mux(high, t.range_max, value))[:range_bits], low | high

        def sat_rate(value):
            low, high = value < -t.rate_limit, value > t.rate_limit
            return Mux(low, -t.rate_limit, Mux(high, t.rate_limit, value))[:t.rate_bits] \
                .as_signed(), low | high

        def period_multiple(difference):
            """The multiple of the Doppler period nearest ``difference`` (half to even)."""
            return Cat(Const(0, pb), shift_right(difference, pb, "half_even")).as_signed()

        def gate_address(age, misses):
            if self.col_bits == 0:
                return age
            last = t.miss_columns - 1
            return Cat(Mux(misses >= last, last, misses)[:self.col_bits], age)

        def flag_if(condition, flag):
            with m.If(condition):
                m.d.sync += flag.eq(1)

        def read_wait(name, then):
            """States ``name`` and ``name_DECODE``: two cycles while the code word read
            is registered, then decoded and registered."""
            with m.State(name):
                m.next = name + "_DECODE"
            with m.State(name + "_DECODE"):
                m.next = then

        def coded(memory, layout, name):
            """A SECDED-coded RAM's ports in ``layout`` (:class:`_CodedPorts`). Both ways
            registers stand between the coder and the logic around it: a word is
            registered, encoded and written one cycle after ``write_en``; the code word
            read is registered, then decoded and registered (with the ECC flags), valid
            three cycles after its address. Both read registers advance with the read
            port's enable."""
            write, read = memory.write_port(), memory.read_port(domain="sync")
            ports = _CodedPorts(write_en=Signal(name=f"{name}_write_en"),
                                write_addr=Signal.like(write.addr, name=f"{name}_write_addr"),
                                written=Signal(layout, name=f"{name}_written"),
                                read=read, read_word=Signal(layout, name=f"{name}_read"),
                                used=Signal(name=f"{name}_used"))
            word = Signal(layout, name=f"{name}_word")
            m.d.sync += [write.en.eq(ports.write_en), write.addr.eq(ports.write_addr),
                         word.eq(ports.written)]
            m.d.comb += write.data.eq(secded_encode(word))
            code = Signal.like(read.data, name=f"{name}_code")
            decoded = secded_decode(m, code, layout.size, name)
            corrected = Signal(name=f"{name}_corrected")
            uncorrectable = Signal(name=f"{name}_uncorrectable")
            with m.If(read.en):
                m.d.sync += [code.eq(read.data), ports.read_word.eq(decoded.data),
                             corrected.eq(decoded.corrected),
                             uncorrectable.eq(decoded.uncorrectable)]
            flag_if(ports.used & corrected, self.ecc_corrected)
            flag_if(ports.used & uncorrectable, self.ecc_uncorrectable)
            return ports

        def range_state(range_pos):
            return Cat(Const(0, range_shift), range_pos)

        # ------------------------------------------------------------ storage
        plot_word = data.StructLayout({"range_pos": unsigned(cfg.range_pos_bits),
                                       "x": signed(pb)})
        rom_word = data.StructLayout({
            "gate": unsigned(self.gate_bits), "mant": unsigned(self.mant_bits),
            "gshift": unsigned(self.gshift_bits), "alpha": unsigned(self.gain_bits),
            "beta": unsigned(self.gain_bits)})
        entry = data.StructLayout({"key": unsigned(self.key_bits),
                                   "s": unsigned(self.slot_bits), "p": unsigned(self.index_bits)})
        rom_init = []
        for age in range(t.age_max + 1):
            for miss in range(1 << self.col_bits):
                k = min(miss, t.miss_columns - 1)
                rom_init.append({"gate": int(t.gate[age, k]), "mant": int(t.gate_mant[age, k]),
                                 "gshift": int(t.gate_shift[age, k]),
                                 "alpha": int(t.alpha[age, k]), "beta": int(t.beta[age, k])})
        # the two RAMs that carry state across CPIs hold SECDED code words
        m.submodules.plots = plots = Memory(shape=secded_width(plot_word.size), depth=n_plots,
                                            init=[])
        m.submodules.tracks = tracks = Memory(shape=secded_width(self.track_bits),
                                              depth=n_tracks, init=[])
        m.submodules.pairs = pairs = Memory(shape=entry, depth=n_tracks * n_plots, init=[])
        m.submodules.assoc = assoc = Memory(shape=unsigned(self.index_bits), depth=n_tracks,
                                            init=[])
        m.submodules.gates = gates = Memory(shape=rom_word, depth=len(rom_init), init=rom_init)
        plot_ram = coded(plots, plot_word, "plot")
        track_ram = coded(tracks, self.track_word, "track")
        pair_w, pair_r = pairs.write_port(), pairs.read_port(domain="sync")
        assoc_w, assoc_r = assoc.write_port(), assoc.read_port(domain="sync")
        rom = gates.read_port(domain="sync")
        rom_addr = Signal.like(rom.addr)
        m.d.comb += rom.addr.eq(rom_addr)
        gate_row = rom.data          # valid two cycles after rom_addr is set, while it holds

        live = Signal(n_tracks)
        row_taken = Signal(n_tracks)
        col_taken = Signal(n_plots)
        blocked = Signal(n_plots)
        qualify = Signal(n_plots)
        count = Signal(range(n_plots + 1))        # plots kept this CPI
        cpi = Signal(CPI_WIDTH)
        next_id = Signal(cfg.id_bits + 1)
        m.d.comb += self.tracks_started.eq(next_id)

        def bump(counter):
            return counter.eq(Mux(counter == (1 << COUNTER_WIDTH) - 1, counter, counter + 1))

        # ------------------------------------------------------------ shared multiplier
        mul_a = Signal(self.mul_a_shape)
        mul_b = Signal(self.mul_b_shape)
        product, latency = multiply(m, Const(1), mul_a, mul_b, "shared")
        # the product shifted right (half to even) by each shift in use, registered: valid
        # ``latency + 1`` cycles after the operands, while they hold
        scaled = {shift: reg(shift_right(product, shift, "half_even"), f"scaled_{shift}")
                  for shift in sorted({t.to_doppler[1], t.coupling[1], t.to_rate[1], GAIN_FRAC})}
        mul_out = Signal(signed(len(mul_a) + len(mul_b) + 1))
        wait = Signal(range(latency + 2))

        def word(constant):
            return Const(constant[0], self.mul_b_shape)

        # ------------------------------------------------------------ the pair pipeline
        # A row's registers: the predicted track, its gate row and Doppler prediction;
        # they hold until the row's pairs have left the pipeline.
        row = Signal(self.track_word)
        row_slot = Signal(self.slot_bits)
        row_xp = Signal(self.xu_shape)
        row_tentative = Signal()
        row_gate = Signal(self.gate_bits)
        row_mant = Signal(self.mant_bits)
        row_gshift = Signal(self.gshift_bits)
        issue = Signal()
        issue_p = Signal(range(n_plots + 1))
        inflight = Signal(range(n_plots + 2))
        list_len = Signal(range(n_tracks * n_plots + 1))
        gating = Signal()

        s1 = stage({"valid": issue, "p": issue_p[:self.index_bits]}, "s1", stages=3)
        m.d.comb += plot_ram.used.eq(s1["valid"])
        plot = plot_ram.read_word
        s2 = stage({"valid": s1["valid"], "p": s1["p"], "z": range_state(plot.range_pos),
                    "x": plot.x, "diff": row_xp - plot.x, "change": plot.x - row.xl}, "s2")
        s3 = stage({"valid": s2["valid"], "p": s2["p"], "z": s2["z"],
                    "xu": (s2["x"] + period_multiple(s2["diff"]))[:self.xu_shape.width].as_signed(),
                    "dx": (s2["change"] - period_multiple(s2["change"]))[:pb + 1].as_signed()},
                   "s3")
        lc = self._coupling_latency
        if lc:
            coupling = Const(t.coupling[0], _signed_range(abs(t.coupling[0])))
            c_product, _ = multiply(m, Const(1), coupling, s3["xu"], "gate_coupling",
                                    a_static=True)
            correction = shift_right(c_product, t.coupling[1], "half_even")
        else:
            correction = Const(0, 1)
        s4 = stage({"valid": s3["valid"], "p": s3["p"],
                    "dx": Mux(row.unfolded, (s3["xu"] - row_xp)[:pb + 1].as_signed(), s3["dx"]),
                    "zr": s3["z"] - row.r}, "s4")
        s4 = stage(s4, "s4d", max(lc - 1, 0))
        s5 = stage({"valid": s4["valid"], "p": s4["p"], "dx": s4["dx"], "zr": s4["zr"],
                    "c": Mux(row.unfolded & self.correct_coupling, correction, 0)[
                        :self.c_shape.width].as_signed()}, "s5")
        s6 = stage({"valid": s5["valid"], "p": s5["p"], "dx": s5["dx"],
                    "e": (s5["zr"] + s5["c"])[:self.e_shape.width].as_signed()}, "s6")
        s7 = stage({"valid": s6["valid"], "p": s6["p"], "ae": abs(s6["e"]), "adx": abs(s6["dx"])},
                   "s7")
        e_product, le = multiply(m, Const(1), row_mant, s7["ae"][:self.gate_bits],
                                 "gate_range")
        d_word = Const(t.doppler_recip[0], unsigned(max(1, t.doppler_recip[0].bit_length())))
        d_product, ld = multiply(m, Const(1), d_word, s7["adx"][:self.dx_bits], "gate_doppler",
                                 a_static=True)
        ld_max = self._distance_latency
        e_product = stage({"v": e_product}, "range_distance", ld_max - le)["v"]
        d_product = stage({"v": d_product}, "doppler_distance", ld_max - ld)["v"]
        s8 = stage({"valid": s7["valid"], "p": s7["p"],
                    "gated": (s7["ae"] <= row_gate) & (s7["adx"] <= t.doppler_gate)}, "s8")
        s8 = stage(s8, "s8d", ld_max - 1)
        s9 = stage({"valid": s8["valid"], "p": s8["p"], "gated": s8["gated"],
                    "range": (e_product >> row_gshift)[:self.dist_bits],
                    "doppler": (d_product >> t.doppler_recip[1])[:self.dist_bits]}, "s9")
        key = (s9["range"] + s9["doppler"] + Mux(row_tentative, TENTATIVE_OFFSET, 0)
               )[:self.key_bits]
        m.d.sync += inflight.eq(inflight + issue - s9["valid"])
        with m.If(gating & s9["valid"] & s9["gated"]):
            m.d.comb += [pair_w.en.eq(1), pair_w.addr.eq(list_len),
                         pair_w.data.key.eq(key), pair_w.data.s.eq(row_slot),
                         pair_w.data.p.eq(s9["p"])]
            m.d.sync += list_len.eq(list_len + 1)
            with m.If(~row_tentative):
                m.d.sync += blocked.bit_select(s9["p"], 1).eq(1)

        # ------------------------------------------------------------ association state
        scan = Signal(range(n_tracks * n_plots + 1))     # next entry to read
        kept = Signal(range(n_tracks * n_plots + 1))     # entries kept by this pass
        scanning = Signal()
        found = Signal()
        best = Signal(entry)
        # an entry is read, registered, registered again with whether its track and plot
        # are still free (the taken flags hold during a pass), then kept (rewritten at
        # ``kept``) if they are, and compared with the best so far
        arriving = reg(scanning, "arriving")
        held = reg(pair_r.data, "held", entry)
        held_valid = reg(arriving, "held_valid")
        candidate = reg(held, "candidate", entry)
        free = reg(held_valid & ~row_taken.bit_select(held.s, 1) &
                   ~col_taken.bit_select(held.p, 1), "free")
        with m.If(free):
            m.d.comb += [pair_w.en.eq(1), pair_w.addr.eq(kept), pair_w.data.eq(candidate)]
            m.d.sync += kept.eq(kept + 1)
            with m.If(~found | (candidate.key < best.key)):
                m.d.sync += [best.eq(candidate), found.eq(1)]

        # ------------------------------------------------------------ update state
        slot = Signal(range(n_tracks + 1))
        work = Signal(self.track_word)
        hit = Signal()
        plot_index = Signal(self.index_bits)
        z = Signal(range_bits)
        x = Signal(signed(pb))
        gate = Signal(self.gate_bits)
        alpha = Signal(self.gain_bits)
        beta = Signal(self.gain_bits)
        diff = Signal(signed(self.xu_shape.width + 1))
        xu = Signal(self.xu_shape)
        zr = Signal(signed(range_bits + 1))
        corr = Signal(self.c_shape)
        rate = Signal(self.rd_shape)
        innovation = Signal(self.e_shape)
        abs_e = Signal(self.e_shape.width)
        r_sum = Signal(signed(max(range_bits, t.rate_bits, self.ae_shape.width,
                                  self.c_shape.width) + 2))
        v_sum = Signal(signed(max(t.rate_bits + 1, self.dv_shape.width + 1, self.rd_shape.width)))
        gain_operand = Signal(self.mul_a_shape)
        r_new = Signal(range_bits)
        v_new = Signal(signed(t.rate_bits))
        start = Signal()
        age_new = Signal.like(work.age)
        # the sums saturated, registered: valid the cycle after the sum is set, while it holds
        r_sat, r_clamped = (reg(value, name) for value, name in zip(sat_range(r_sum),
                                                                    ("r_sat", "r_clamped")))
        v_sat, v_clamped = (reg(value, name) for value, name in zip(sat_rate(v_sum),
                                                                    ("v_sat", "v_clamped")))
        book_tentative = Signal()
        book_misses = Signal.like(work.misses)
        book_window = Signal.like(work.window)
        book_hits = Signal.like(work.hits)
        kill = Signal()                     # delete slot ``kill_slot``
        kill_slot = Signal(self.slot_bits)
        with m.If(kill):
            m.d.sync += [live.bit_select(kill_slot, 1).eq(0), kill.eq(0)]

        # ------------------------------------------------------------ report state
        out_en = Signal()
        m.d.comb += out_en.eq(~self.o.valid | self.o.ready)
        rep_issue = Signal(range(n_tracks + 2))
        pend = Signal()
        pend_marker = Signal()
        pend_slot = Signal(self.slot_bits)
        reporting = Signal()
        # the track file is read at the slot being worked on, or at the next report
        m.d.comb += [track_ram.read.en.eq(~reporting | out_en),
                     track_ram.read.addr.eq(Mux(reporting, rep_issue, slot)),
                     assoc_r.addr.eq(slot)]
        # issued -> read (pend) -> code word registered (coded) -> decoded and registered
        # (raw: the track file's read word) -> o
        coded_valid = Signal()
        coded_marker = Signal()
        raw_valid = Signal()
        raw_marker = Signal()
        with m.If(out_en):
            m.d.comb += track_ram.used.eq(reporting & raw_valid)
            m.d.sync += [coded_valid.eq(pend & live.bit_select(pend_slot, 1)),
                         coded_marker.eq(pend_marker),
                         raw_valid.eq(coded_valid), raw_marker.eq(coded_marker)]
            rd = track_ram.read_word
            report = self.o.payload.track
            m.d.sync += [
                self.o.valid.eq(raw_valid | raw_marker),
                self.o.payload.cpi_end.eq(raw_marker),
                report.cpi.eq(cpi),
                report.track_id.eq(Mux(raw_marker, 0, rd.track_id)),
                report.status.eq(Mux(raw_marker, 0, rd.status)),
                report.range_pos.eq(
                    Mux(raw_marker, 0, shift_right(rd.r, range_shift, "half_even"))),
                report.range_rate.eq(Mux(raw_marker, 0, rd.v)),
                report.unfolded.eq(Mux(raw_marker, 0, rd.unfolded)),
                report.age.eq(Mux(raw_marker, 0, rd.age)),
                report.misses.eq(Mux(raw_marker, 0, rd.misses)),
                report.plot.eq(Mux(raw_marker, 0, rd.plot)),
            ]

        # initiation: the lowest qualifying plot, the lowest free slot, registered (so
        # valid one cycle after a change of ``qualify`` or ``live``)
        pick_p = reg(lowest_set(qualify), "pick_p")
        pick_bit = reg(qualify & (~qualify + 1)[:n_plots], "pick_bit")    # one-hot
        pick_s = reg(lowest_set(~live), "pick_s")
        any_plot = reg(qualify.any(), "any_plot")
        no_slot = reg(live.all(), "no_slot")

        def mult_state(name, a, b, shift, then, extra=None):
            """Issue ``a * b`` on the shared multiplier (and run ``extra()``); when the
            product is out, ``mul_out`` gets it shifted right by ``shift`` (half to even)."""
            with m.State(name):
                m.d.sync += [mul_a.eq(a), mul_b.eq(b), wait.eq(latency + 1)]
                if extra is not None:
                    extra()
                m.next = name + "_WAIT"
            with m.State(name + "_WAIT"):
                with m.If(wait == 0):
                    m.d.sync += mul_out.eq(scaled[shift])
                    m.next = then
                with m.Else():
                    m.d.sync += wait.eq(wait - 1)

        def slot_loop(name, load, after, finish):
            """State ``name`` steps ``slot`` over dead slots; at a live one it goes to
            ``load`` (the track file is read at ``slot``), after the last to ``after``
            with the statements ``finish``."""
            with m.State(name):
                with m.If(slot == n_tracks):
                    m.d.sync += finish
                    m.next = after
                with m.Elif(~live.bit_select(slot, 1)):
                    m.d.sync += slot.eq(slot + 1)
                with m.Else():
                    m.next = load

        with m.FSM(name="phase"):
            # -------------------------------------------------------- input
            with m.State("INPUT"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    plot = self.i.payload.plot
                    with m.If(self.i.payload.cpi_end):
                        m.d.sync += [cpi.eq(plot.cpi), slot.eq(0), list_len.eq(0)]
                        m.next = "G_ROW"
                    with m.Elif(count == n_plots):
                        m.d.sync += [self.plot_overflow.eq(1), bump(self.plots_dropped)]
                    with m.Else():
                        m.d.comb += [plot_ram.write_en.eq(1), plot_ram.write_addr.eq(count),
                                     plot_ram.written.range_pos.eq(plot.range_pos),
                                     plot_ram.written.x.eq(plot.doppler_pos - t.doppler_zero)]
                        m.d.sync += count.eq(count + 1)

            # -------------------------------------------------------- predict and gate
            slot_loop("G_ROW", "G_READ", "A_SCAN", [scan.eq(0), kept.eq(0), found.eq(0)])
            read_wait("G_READ", "G_LOAD")
            with m.State("G_LOAD"):
                rd = track_ram.read_word
                m.d.comb += track_ram.used.eq(1)
                m.d.sync += [row.eq(rd), row_slot.eq(slot),
                             mul_a.eq(rd.v), mul_b.eq(word(t.to_doppler)), wait.eq(latency + 1),
                             issue_p.eq(0)]
                m.next = "G_SUM"
            with m.State("G_SUM"):
                m.d.sync += [r_sum.eq(row.r + row.v), wait.eq(wait - 1),
                             row_tentative.eq(row.status == STATUS_TENTATIVE),
                             rom_addr.eq(gate_address(row.age, row.misses))]
                m.next = "G_PREDICT"
            with m.State("G_PREDICT"):
                m.d.sync += wait.eq(wait - 1)
                m.next = "G_XP"
            with m.State("G_XP"):
                with m.If(wait == 0):
                    m.d.comb += [track_ram.write_en.eq(1), track_ram.write_addr.eq(row_slot),
                                 track_ram.written.eq(row), track_ram.written.r.eq(r_sat)]
                    m.d.sync += [row.r.eq(r_sat),
                                 row_xp.eq(scaled[t.to_doppler[1]]),
                                 row_gate.eq(gate_row.gate), row_mant.eq(gate_row.mant),
                                 row_gshift.eq(gate_row.gshift)]
                    flag_if(r_clamped, self.range_saturated)
                    m.next = "G_PAIRS"
                with m.Else():
                    m.d.sync += wait.eq(wait - 1)
            with m.State("G_PAIRS"):
                m.d.comb += gating.eq(1)
                with m.If(issue_p == count):
                    m.next = "G_DRAIN"
                with m.Else():
                    m.d.comb += [issue.eq(1), plot_ram.read.addr.eq(issue_p)]
                    m.d.sync += issue_p.eq(issue_p + 1)
            with m.State("G_DRAIN"):
                m.d.comb += gating.eq(1)
                with m.If(inflight == 0):
                    m.d.sync += slot.eq(slot + 1)
                    m.next = "G_ROW"

            # -------------------------------------------------------- associate
            with m.State("A_SCAN"):
                with m.If(scan != list_len):
                    m.d.comb += [scanning.eq(1), pair_r.addr.eq(scan)]
                    m.d.sync += scan.eq(scan + 1)
                with m.Else():
                    m.next = "A_FLUSH"
            with m.State("A_FLUSH"):
                m.next = "A_FLUSH2"
            with m.State("A_FLUSH2"):
                m.next = "A_TAKE"
            with m.State("A_TAKE"):
                with m.If(found):
                    m.d.sync += [row_taken.bit_select(best.s, 1).eq(1),
                                 col_taken.bit_select(best.p, 1).eq(1),
                                 list_len.eq(kept), scan.eq(0), kept.eq(0), found.eq(0)]
                    m.d.comb += [assoc_w.en.eq(1), assoc_w.addr.eq(best.s),
                                 assoc_w.data.eq(best.p)]
                    m.next = "A_SCAN"
                with m.Else():
                    m.d.sync += slot.eq(0)
                    m.next = "U_ROW"

            # -------------------------------------------------------- update, book-keep
            slot_loop("U_ROW", "U_READ", "I_SETTLE",
                      qualify.eq(~col_taken & ~blocked & Cat(count > k for k in range(n_plots))))
            # while the track is read, its associated plot is read (used if it is a hit)
            with m.State("U_READ"):
                m.d.sync += plot_index.eq(assoc_r.data)
                m.next = "U_READ_DECODE"
            with m.State("U_READ_DECODE"):
                m.d.comb += plot_ram.read.addr.eq(plot_index)
                m.next = "U_LOAD"
            with m.State("U_LOAD"):
                rd = track_ram.read_word
                m.d.comb += track_ram.used.eq(1)
                m.d.sync += [work.eq(rd), hit.eq(row_taken.bit_select(slot, 1)),
                             rom_addr.eq(gate_address(rd.age, rd.misses)),
                             r_new.eq(rd.r), v_new.eq(rd.v), age_new.eq(rd.age), start.eq(0)]
                m.next = "U_LOAD2"
            with m.State("U_LOAD2"):
                with m.If(hit):
                    m.next = "U_FETCH"
                with m.Else():
                    m.next = "U_COUNT"
            with m.State("U_FETCH"):
                m.d.comb += plot_ram.used.eq(1)
                m.d.sync += [gate.eq(gate_row.gate), alpha.eq(gate_row.alpha),
                             beta.eq(gate_row.beta), x.eq(plot_ram.read_word.x),
                             z.eq(range_state(plot_ram.read_word.range_pos))]
                m.next = "U_XP"
            # the Doppler that the rate predicts, the plot's unfolded next to it, the
            # correction and rate of that, the innovation
            mult_state("U_XP", work.v, word(t.to_doppler), t.to_doppler[1], "U_XPD")
            with m.State("U_XPD"):
                m.d.sync += [diff.eq(mul_out - x), zr.eq(z - work.r)]
                m.next = "U_XU"
            with m.State("U_XU"):
                m.d.sync += xu.eq(x + period_multiple(diff))
                m.next = "U_C"
            mult_state("U_C", xu, word(t.coupling), t.coupling[1], "U_CS")
            with m.State("U_CS"):
                m.d.sync += corr.eq(Mux(self.correct_coupling, mul_out, 0))
                m.next = "U_RD"
            mult_state("U_RD", xu, word(t.to_rate), t.to_rate[1], "U_E")
            with m.State("U_E"):
                m.d.sync += [rate.eq(mul_out),
                             innovation.eq(zr + Mux(work.unfolded, corr, 0))]
                m.next = "U_A"
            # the gains
            mult_state("U_A", innovation, alpha, GAIN_FRAC, "U_AS")
            with m.State("U_AS"):
                m.d.sync += [r_sum.eq(work.r + mul_out), abs_e.eq(abs(innovation)),
                             gain_operand.eq(Mux(work.unfolded, rate - work.v, innovation))]
                m.next = "U_B"
            mult_state("U_B", gain_operand, Mux(work.unfolded, t.doppler_gain, beta), GAIN_FRAC,
                       "U_BS")
            with m.State("U_BS"):
                aged = Mux(work.age == t.age_max, t.age_max, work.age + 1)
                m.d.sync += [v_sum.eq(work.v + mul_out), age_new.eq(aged), r_new.eq(r_sat),
                             start.eq(~work.unfolded & (work.status != STATUS_TENTATIVE) &
                                      (aged >= t.unfold_age) & (abs_e <= (gate >> 1)) &
                                      self.unfold)]
                flag_if(r_clamped, self.range_saturated)
                m.next = "U_BS2"
            with m.State("U_BS2"):
                m.next = "U_XP2"

            # unfolding: the new rate's Doppler, the plot's unfolded next to it
            def rate_update():
                m.d.sync += v_new.eq(v_sat)
                flag_if(v_clamped, self.rate_saturated)
            mult_state("U_XP2", v_sat, word(t.to_doppler), t.to_doppler[1], "U_XPD2",
                       rate_update)
            with m.State("U_XPD2"):
                m.d.sync += diff.eq(mul_out - x)
                m.next = "U_XU2"
            with m.State("U_XU2"):
                m.d.sync += xu.eq(x + period_multiple(diff))
                m.next = "U_RD2"
            mult_state("U_RD2", xu, word(t.to_rate), t.to_rate[1], "U_C2")
            mult_state("U_C2", xu, word(t.coupling), t.coupling[1], "U_CS2",
                       lambda: m.d.sync.__iadd__(v_sum.eq(mul_out)))
            with m.State("U_CS2"):
                m.d.sync += r_sum.eq(r_new + Mux(self.correct_coupling, mul_out, 0))
                m.next = "U_START"
            with m.State("U_START"):
                m.next = "U_COUNT"

            with m.State("U_COUNT"):
                with m.If(start):               # the unfolding's rate and range, saturated
                    m.d.sync += [v_new.eq(v_sat), r_new.eq(r_sat)]
                    flag_if(v_clamped, self.rate_saturated)
                    flag_if(r_clamped, self.range_saturated)
                tentative = work.status == STATUS_TENTATIVE
                m.d.sync += [book_tentative.eq(tentative),
                             book_misses.eq(Mux(hit, 0, work.misses + 1)),
                             book_window.eq(work.window + tentative),
                             book_hits.eq(work.hits + (tentative & hit))]
                m.next = "U_BOOK"
            with m.State("U_BOOK"):
                tentative, misses = book_tentative, book_misses
                window, hits = book_window, book_hits
                confirm = tentative & (hits >= self.confirm_m)
                fail = tentative & ~confirm & (hits + self.confirm_n < self.confirm_m + window)
                lost = ~tentative & (misses >= self.delete_k)
                status = Mux(tentative & ~confirm, STATUS_TENTATIVE,
                             Mux(hit, STATUS_CONFIRMED, STATUS_COASTING))
                m.d.comb += [
                    track_ram.write_en.eq(1), track_ram.write_addr.eq(slot),
                    track_ram.written.eq(work), track_ram.written.status.eq(status),
                    track_ram.written.misses.eq(misses),
                    track_ram.written.window.eq(window), track_ram.written.hits.eq(hits),
                    track_ram.written.r.eq(r_new), track_ram.written.v.eq(v_new),
                    track_ram.written.age.eq(age_new),
                    track_ram.written.unfolded.eq(work.unfolded | start),
                    track_ram.written.xl.eq(Mux(hit, x, work.xl)),
                    track_ram.written.plot.eq(Mux(hit, plot_index + 1, 0)),
                ]
                m.d.sync += [kill.eq(fail | lost), kill_slot.eq(slot), slot.eq(slot + 1)]
                m.next = "U_ROW"

            # -------------------------------------------------------- initiate
            with m.State("I_SETTLE"):
                m.next = "I_PICK"
            with m.State("I_PICK"):
                with m.If(~any_plot):
                    m.d.sync += [rep_issue.eq(0), reporting.eq(1)]
                    m.next = "REPORT"
                with m.Elif(no_slot | next_id[cfg.id_bits]):
                    m.d.sync += [qualify.eq(qualify & ~pick_bit),
                                 bump(self.initiations_dropped)]
                    m.next = "I_SETTLE"
                    with m.If(no_slot):
                        m.d.sync += self.track_overflow.eq(1)
                    with m.Else():
                        m.d.sync += self.id_exhausted.eq(1)
                with m.Else():
                    m.d.comb += plot_ram.read.addr.eq(pick_p)
                    m.d.sync += [plot_index.eq(pick_p), slot.eq(pick_s)]
                    m.next = "I_READ"
            read_wait("I_READ", "I_WRITE")
            with m.State("I_WRITE"):
                m.d.comb += [
                    plot_ram.used.eq(1),
                    track_ram.write_en.eq(1), track_ram.write_addr.eq(slot),
                    track_ram.written.track_id.eq(next_id[:cfg.id_bits]),
                    track_ram.written.status.eq(Mux(self.confirm_m == 1, STATUS_CONFIRMED,
                                                STATUS_TENTATIVE)),
                    track_ram.written.r.eq(range_state(plot_ram.read_word.range_pos)),
                    track_ram.written.v.eq(0), track_ram.written.xl.eq(plot_ram.read_word.x),
                    track_ram.written.age.eq(1), track_ram.written.misses.eq(0),
                    track_ram.written.window.eq(1), track_ram.written.hits.eq(1),
                    track_ram.written.unfolded.eq(0), track_ram.written.plot.eq(plot_index + 1),
                ]
                m.d.sync += [live.bit_select(slot, 1).eq(1), next_id.eq(next_id + 1),
                             qualify.eq(qualify & ~pick_bit)]
                m.next = "I_SETTLE"

            # -------------------------------------------------------- report
            with m.State("REPORT"):
                with m.If(out_en):
                    with m.If(rep_issue < n_tracks):
                        m.d.sync += [pend.eq(1), pend_slot.eq(rep_issue),
                                     rep_issue.eq(rep_issue + 1)]
                    with m.Elif(rep_issue == n_tracks):
                        m.d.sync += [pend.eq(0), pend_marker.eq(1), rep_issue.eq(rep_issue + 1)]
                    with m.Else():
                        m.d.sync += [pend.eq(0), pend_marker.eq(0)]
                with m.If(self.o.valid & self.o.ready & self.o.payload.cpi_end):
                    m.d.sync += [count.eq(0), row_taken.eq(0), col_taken.eq(0), blocked.eq(0),
                                 pend.eq(0), pend_marker.eq(0), coded_valid.eq(0),
                                 coded_marker.eq(0), reporting.eq(0)]
                    m.next = "INPUT"
        return m
