"""CFAR family on the range–Doppler map (CA, GO, SO, OS; along range or over a range x
Doppler window), one cell per clock."""

import functools
import operator

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..formats import CFAR_SCALE_FRAC, CFAR_SCALE_WIDTH, framed_layout, hits_layout
from ..numerics import saturate
from ..stream.pipeline import delay, multiply
from ...spec.checks import check_integer
from ...spec.records import CPI_WIDTH

__all__ = ["CFAR_TYPES", "Cfar"]

#: The detector types, in the order of their ``Cfar.cfar_type`` codes (0 ... 3).
CFAR_TYPES = ("ca", "go", "so", "os")

_BLOCK_WORDS = 512      # words of one block RAM at 36 bits (ECP5 DP16KD, Gowin BSRAM)
_BANKS = 3              # row buffer banks: one read, one written, one filled between them


def _next_bank(bank):
    return Mux(bank == _BANKS - 1, 0, bank + 1)


def _bits(value):
    return unsigned(max(1, int(value).bit_length()))


def _memory(m, name, shape, depth):
    """A memory none of whose reads meets a write to the same address in one cycle (each
    user below says why), which it declares to Yosys (``no_rw_check``): each read
    register then goes into the block RAM's read port with no read-during-write logic
    after it."""
    mem = Memory(shape=shape, depth=depth, init=[], attrs={"no_rw_check": 1})
    m.submodules[name] = mem
    return mem


def _read(m, mem, addr, en, name):
    """``mem[addr]`` into a register that loads on ``en`` (the block RAM's read register)."""
    port = mem.read_port(domain="comb")
    m.d.comb += port.addr.eq(addr)
    data = Signal.like(port.data, name=name)
    with m.If(en):
        m.d.sync += data.eq(port.data)
    return data


def _ahead(m, name, value, take):
    """``value`` (a block RAM's read register) one take later, in a register of its
    own: a read issued two takes ahead is then the value during that take, and no
    logic follows the block RAM's output in the cycle it changes (on an ECP5 its
    delay alone is about 5.8 ns)."""
    later = Signal.like(value, name=f"{name}_ahead")
    with m.If(take):
        m.d.sync += later.eq(value)
    return later


def _row_delay(m, name, din, *, rows_max, cells, length, column, column2, take, restart):
    """``din`` delayed by ``length`` rows of ``cells`` cells (``0 <= length <= rows_max``).

    Words at ``Cat(column, slot)``, ``slot`` counting rows modulo ``length``. Each take
    writes ``din`` at the current address and reads the address of the take after
    next (never the one written; ``cells >= 8``), so during a take the registered
    output is the word written ``length * cells`` takes earlier; ``length = 0`` is a
    wire. ``length`` is an int, or ``(last, wire)``: registers holding ``length - 1``
    and ``length == 0``, changed only before a row's last three takes (the new
    length holds from the next row on). ``restart`` (with a row's last take) starts the
    next row at ``slot`` 0. The rows are spread over memories of at most ``_BLOCK_WORDS``
    words (one block RAM each), read in parallel and chosen after their registers.
    ``column2`` is ``column + 2`` (modulo ``cells``) in a register of its own, and the
    slot read is registered a take ahead, so that the read addresses are registers.
    """
    if rows_max == 0:
        return din
    slot = Signal(range(rows_max), name=f"{name}_slot")
    if isinstance(length, int):
        last, wire = length - 1, length == 0
    else:
        last, wire = length
    advanced = Mux((slot == last) | wire, 0, slot + 1)
    with m.If(restart):
        m.d.sync += slot.eq(0)
    with m.Elif(take & (column == cells - 1)):
        m.d.sync += slot.eq(advanced)
    # the slot read by the next take (of column + 1, reading column + 3): the next row's
    # from the row's third last take on
    ahead = Signal.like(slot, name=f"{name}_next")
    with m.If(restart):
        m.d.sync += ahead.eq(0)
    with m.Elif(take):
        m.d.sync += ahead.eq(Mux(column >= cells - 3, advanced, slot))
    per = max(1, _BLOCK_WORDS // cells)                 # rows per memory, a power of two
    shift = per.bit_length() - 1
    taps = []
    for j in range(-(-rows_max // per)):
        mem = _memory(m, f"{name}_mem{j}", len(din), min(per, rows_max - j * per) * cells)
        write = mem.write_port()
        # written in every cycle: the address moves only with a take, whose write is last
        m.d.comb += [write.addr.eq(Cat(column, slot[:shift])), write.data.eq(din),
                     write.en.eq((slot >> shift) == j)]
        read = _read(m, mem, Cat(column2, ahead[:shift]), take,
                     f"{name}_read{j}")
        taps.append(_ahead(m, f"{name}{j}", read, take))
    if len(taps) == 1:
        tap = taps[0]
    else:
        which = _ahead(m, f"{name}_which", _ahead(m, f"{name}_which_read", ahead >> shift, take),
                       take)
        tap = Array(taps)[which]
    if isinstance(length, int):
        return din if wire else tap
    return Mux(wire, din, tap)


def _tree(values, op):
    """Reduce ``values`` by ``op`` in a balanced tree (adders stay log-deep)."""
    values = list(values)
    while len(values) > 1:
        values = [op(values[j], values[j + 1]) if j + 1 < len(values) else values[j]
                  for j in range(0, len(values), 2)]
    return values[0]


class Cfar(wiring.Component):
    """CA/GO/SO/OS-CFAR detector on the range–Doppler map, 1-D along range or 2-D.

    The input is the power map of one CPI after another, range-major: for each range
    bin ``r = 0 ... L-1`` the ``M`` Doppler cells ``d = 0 ... M-1``. The window of the
    cell under test ``(r, d)`` is ``|dr| <= N + G`` by ``|dd| <= Dd + Gd`` (Doppler
    circular), its guard ``|dr| <= G`` by ``|dd| <= Gd``; the reference cells are the
    window minus the guard, ``n`` of them, split into a leading half (``dr < 0``, or
    ``dr = 0`` and ``dd < 0``: before the cell in the stream) and a lagging half
    (after it), ``n/2`` each. With ``Dd = Gd = 0`` it is the 1-D window: ``N`` cells on
    each side along range in the same Doppler bin. The statistic ``S`` is the sum of
    the reference cells (CA), the larger (GO) or smaller (SO) half sum, or the
    ``k``-th smallest reference cell (OS). A cell is detected, exactly in integers,
    iff ``power * 2**F > scale * S`` (``F = CFAR_SCALE_FRAC``), and reported with
    ``threshold = (scale * S) >> F`` and the powers of its four neighbours.

    Only rows with the whole range window inside the CPI are tested,
    ``N + G <= r <= L - 1 - N - G`` (a CPI of fewer than ``2(N+G) + 1`` rows has no
    hits); every Doppler bin is tested (the Doppler axis wraps).

    The detector type and the sizes ``N``, ``G``, ``Dd``, ``Gd``, ``k`` are *runtime*
    ports, bounded by elaboration maxima; the hardware built for the types in
    ``types`` serves them: one sum datapath for CA, GO and SO, one rank datapath for
    OS (along range only).

    Parameters
    ----------
    range_cells : int
        Most range bins ``L`` of a CPI, ``2(max_reference_cells + max_guard_cells) + 1``
        ... 65536. A longer CPI is cut: its rows from ``range_cells`` on are consumed
        and ignored (neither tested nor in any window) and ``cpi_too_long`` is raised.
    doppler_cells : int
        Doppler bins ``M`` per range bin, a power of two from 8 to 65536.
    max_reference_cells, max_guard_cells : int
        Most ``N`` (``>= 1``) and ``G`` (``>= 0``) per side along range.
    power_width : int
        Bits ``P`` of the unsigned power, 1 ... 48.
    types : tuple of str
        The types that can run, a subset of ``CFAR_TYPES`` (default CA, GO, SO: the
        sum datapath; add ``"os"`` for the rank datapath).
    max_doppler_reference_cells, max_doppler_guard_cells : int
        Most ``Dd`` and ``Gd`` per side along Doppler, ``2(Dd + Gd) + 1 <= M``; both 0
        (default) builds the 1-D detector. OS is built along range only, so ``"os"``
        needs both 0.

    Members
    -------
    i : In(stream.Signature(framed_layout(unsigned(power_width))))
        Power cells. Rows are counted in cells: ``M`` per row, ``first`` expected
        on ``d = 0`` and ``last`` on ``d = M - 1``; a CPI ends with the row whose
        last cell has ``cpi_end``. Framing that disagrees with the count raises
        ``framing_error`` and is otherwise ignored (the count rules).
    cfar_type : In(2)
        Index in ``CFAR_TYPES``.
    reference_cells, guard_cells, doppler_reference_cells, doppler_guard_cells : In(...)
        ``N``, ``G``, ``Dd``, ``Gd``.
    os_k : In(...)
        OS rank ``k``, 1 ... ``2N`` (1-based; ignored by the other types).
    scale : In(CFAR_SCALE_WIDTH)
        Threshold scale, unsigned with ``CFAR_SCALE_FRAC`` fractional bits: ``alpha/n``
        (CA), ``alpha/(n/2)`` (GO, SO), ``T`` (OS); see
        ``amaradar.sim.models.detect.cfar.cfar_scale_word``.
        All configuration ports are sampled once per CPI, in the cycle after its
        first cell is accepted, and apply to the whole CPI (the cells already inside
        keep their own CPI's); the input does not wait for them.
        A configuration outside the maxima, a type not built, or ``k`` outside
        1 ... 2N raises ``config_error``; that CPI is not tested (it still ends
        with its ``cpi_end`` word).
    o : Out(stream.Signature(hits_layout(range_bits=, doppler_bits=, power_bits=power_width)))
        One word per detected cell in input order (``hit``: ``cpi``, ``range_bin``,
        ``doppler_bin``, ``power``, ``threshold``, ``range_before``/``range_after``
        at ``r -+ 1`` in the same Doppler bin, ``doppler_before``/``doppler_after``
        at ``d -+ 1 mod M`` in the same range bin), and after each CPI's last hit a
        word with ``cpi_end = 1`` and only ``hit.cpi`` set.
    config_error, framing_error, cpi_too_long : Out(1)
        Sticky status flags (see above).

    Attributes
    ----------
    range_bits, doppler_bits : int
        Widths of ``range_bin`` (for ``0 ... range_cells - 1``) and ``doppler_bin``.
    two_d : bool
        A Doppler window is built.
    max_reference_count : int
        Most reference cells ``n`` of a window.

    Bit growth
    ----------
    Running sums, window sums and prefix sums have the bits of their largest value
    (``count * (2**P - 1)``), so nothing wraps; ``S`` has up to
    ``P + bits(max_reference_count)`` bits; the product ``scale * S`` keeps all
    ``CFAR_SCALE_WIDTH + bits(S)`` bits and the power is compared after a shift by
    ``F``: the decision is exact.

    Rounding/overflow
    -----------------
    The reported threshold is truncated (``>> F``) and saturated to ``P`` bits; the
    saturation never engages on a reported hit (its threshold is below its power).
    The CPI counter wraps modulo ``2**CPI_WIDTH``.

    Latency/throughput
    ------------------
    One cell per clock: while ``o`` is ready, ``i.ready`` is never low, in a row or
    between CPIs (the configuration loads in registered steps during a CPI's first
    row, which needs none of it). The output takes one cycle per CPI more than
    the hits, for its end word.

    *Writer.* The range window is a chain of row delays (``M`` cells per row) in
    memory: seven segments whose runtime lengths put taps at the lags ``N``,
    ``N + G - 1``, ``N + G`` (the cell under test), ``N + G + 1``, ``N + 2G + 1`` and
    ``2N + 2G + 1``; ``2(N+G)max + 1`` rows in all. Each segment reads two cells
    ahead into the block RAM's read register and copies it into one more
    register, so no logic follows a block RAM output. Running sums per Doppler
    bin (``M`` words: the two half windows along range, and in 2-D the sums of
    every row before/after the cell) are read-modify-written one stage after the
    take. The writer's pipeline (3 stages in 1-D, 4 in 2-D) has no enable: it
    moves every cycle with valid bits.

    *Row buffer.* Each accepted row goes, one row later, through a row buffer of
    three banks (``3M`` words: the cell under test and its range neighbours, copies
    of it one bin later/earlier for the Doppler neighbours, and in 1-D ``S``, in
    2-D six prefix sums along the row) whose reader produces the row's hits in
    Doppler order: the circular Doppler neighbours (and in 2-D the circular window
    sums, differences of prefix sums at four addresses) need the whole row. The
    reader starts a row after the writer has filled it, so with two banks the
    writer would wait at every other row's start for the reader to finish; with
    three it finds its next bank free while ``o`` is ready. The reader spends
    ``M`` cycles on a tested row, one on a row that is not and one on a CPI's end
    word, so it keeps pace. The input waits only at a row's first cell while the
    bank it will fill is still being read (``o`` has stalled); the reader waits
    while ``o`` is not ready; nothing is lost.

    A cell's hit therefore leaves after range row ``r + N + G`` has been accepted
    and the reader has reached it (a row and a few pipeline stages later); the end
    word of a CPI leaves without any further input. The output is sparse, so no
    fixed ``latency`` is exposed.

    *OS.* The rank datapath compares each arriving cell with the
    ``T = 2(N+G)max`` older cells of its Doppler bin (``T`` comparators) and stores
    the result bits with the cell (``T(T-1)/2`` bits per Doppler bin along a chain
    of ``T`` one-row memories); from them every reference cell's rank among the
    reference set is a popcount (tables of six bits, then a sum) and ``X(k)`` the
    cell of rank ``k - 1``: the threshold of *every* cell, one per clock, with no
    search or stall per hit. Its cost grows as ``T**2``.

    Model
    -----
    ``amaradar.sim.models.detect.cfar.cfar_stream`` / ``cfar_map`` (bit-exact),
    ``cfar_ideal`` (float).
    """

    def __init__(self, *, range_cells, doppler_cells, max_reference_cells, max_guard_cells,
                 power_width, types=("ca", "go", "so"), max_doppler_reference_cells=0,
                 max_doppler_guard_cells=0):
        if not isinstance(types, (tuple, list)):
            raise TypeError(f"types must be a tuple of names from {CFAR_TYPES}, not {types!r}")
        if not types or len(set(types)) != len(types) or not set(types) <= set(CFAR_TYPES):
            raise ValueError(f"types must be distinct names from {CFAR_TYPES}, "
                             f"not {tuple(types)!r}")
        check_integer("doppler_cells", doppler_cells, 8, 1 << 16)
        if doppler_cells & (doppler_cells - 1):
            raise ValueError(f"doppler_cells must be a power of two, not {doppler_cells}")
        check_integer("max_reference_cells", max_reference_cells, 1)
        check_integer("max_guard_cells", max_guard_cells, 0)
        check_integer("max_doppler_reference_cells", max_doppler_reference_cells, 0)
        check_integer("max_doppler_guard_cells", max_doppler_guard_cells, 0)
        span = 2 * (max_doppler_reference_cells + max_doppler_guard_cells) + 1
        if span > doppler_cells:
            raise ValueError(f"Doppler window 2*(max_doppler_reference_cells + "
                             f"max_doppler_guard_cells) + 1 = {span} must be at most "
                             f"doppler_cells = {doppler_cells}")
        two_d = span > 1
        if two_d and "os" in types:
            raise ValueError("types with 'os' needs max_doppler_reference_cells = "
                             "max_doppler_guard_cells = 0 (OS is built along range only)")
        check_integer("power_width", power_width, 1, 48)
        window = 2 * (max_reference_cells + max_guard_cells) + 1
        check_integer("range_cells", range_cells, window, 1 << 16)
        self.range_cells = range_cells
        self.doppler_cells = doppler_cells
        self.max_reference_cells = max_reference_cells
        self.max_guard_cells = max_guard_cells
        self.max_doppler_reference_cells = max_doppler_reference_cells
        self.max_doppler_guard_cells = max_doppler_guard_cells
        self.power_width = power_width
        self.types = tuple(types)
        self.two_d = two_d
        self.range_bits = max(1, (range_cells - 1).bit_length())
        self.doppler_bits = doppler_cells.bit_length() - 1
        self.max_reference_count = (window * span - (2 * max_guard_cells + 1)
                                    * (2 * max_doppler_guard_cells + 1))
        super().__init__({
            "i": In(stream.Signature(framed_layout(unsigned(power_width)))),
            "o": Out(stream.Signature(hits_layout(range_bits=self.range_bits,
                                                  doppler_bits=self.doppler_bits,
                                                  power_bits=power_width))),
            "cfar_type": In(2),
            "reference_cells": In(_bits(max_reference_cells)),
            "guard_cells": In(_bits(max_guard_cells)),
            "doppler_reference_cells": In(_bits(max_doppler_reference_cells)),
            "doppler_guard_cells": In(_bits(max_doppler_guard_cells)),
            "os_k": In(_bits(2 * max_reference_cells)),
            "scale": In(CFAR_SCALE_WIDTH),
            "config_error": Out(1),
            "framing_error": Out(1),
            "cpi_too_long": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        big_m, p = self.doppler_cells, self.power_width
        cb = self.doppler_bits
        nmax, gmax = self.max_reference_cells, self.max_guard_cells
        dmax, gdmax = self.max_doppler_reference_cells, self.max_doppler_guard_cells
        sums = any(t in self.types for t in ("ca", "go", "so"))
        ranks = "os" in self.types
        two_d = self.two_d
        top = (1 << p) - 1
        span_max = 2 * (nmax + gmax)          # the oldest lag a window reads
        sample = self.i.payload

        # ------------------------------------------------------------ configuration
        info_fields = {"tested": 1, "range_bin": self.range_bits, "cpi_end": 1,
                       "cpi": CPI_WIDTH, "scale": CFAR_SCALE_WIDTH, "ctype": 2}
        if two_d:
            info_fields |= {"dn": _bits(dmax), "dg": _bits(gdmax)}
        info_layout = data.StructLayout(info_fields)

        # Loaded in four steps (``load`` 1 ... 4) from the take of a CPI's first cell
        # (``cpi_first``): the ports into registers; checked and clamped; the lags
        # derived from them; the OS reference mask. One register stage each, while
        # the CPI's first row goes on: that row is in no window yet (its taps are
        # marked absent, its running sums start from 0, its runtime-length segments
        # are wires) and is never tested, and the last CPI's cells took their
        # configuration into the pipeline (W1) before the first step.
        load = Signal(range(5))
        loading = Signal()                    # load != 0, as a register
        cpi_first = Signal()
        cpi_last = Signal()
        with m.If(cpi_first):
            m.d.sync += [load.eq(1), loading.eq(1)]
        with m.If(loading):
            m.d.sync += [load.eq(Mux(load == 4, 0, load + 1)), loading.eq(load != 4)]
        ports = [self.cfar_type, self.reference_cells, self.guard_cells,
                 self.doppler_reference_cells, self.doppler_guard_cells, self.os_k, self.scale]
        raw = [Signal.like(port, name=f"raw_{port.name}") for port in ports]
        with m.If(load == 1):
            m.d.sync += [reg.eq(port) for reg, port in zip(raw, ports)]
        p_type, p_n, p_g, p_dn, p_dg, p_k, p_scale = raw

        n = Signal(range(nmax + 1), init=1)
        g = Signal(range(gmax + 1))
        dn = Signal(range(dmax + 1))
        dg = Signal(range(gdmax + 1))
        k = Signal(range(2 * nmax + 1), init=1)
        ctype = Signal(2, init=CFAR_TYPES.index(self.types[0]))
        scale = Signal(CFAR_SCALE_WIDTH)
        ok = Signal()
        built = functools.reduce(operator.or_, [p_type == CFAR_TYPES.index(t) for t in self.types])
        good = (built & (p_n >= 1) & (p_n <= nmax) & (p_g <= gmax) & (p_dn <= dmax)
                & (p_dg <= gdmax) & ((p_type != 3) | ((p_k >= 1) & (p_k <= 2 * p_n))))
        with m.If(load == 2):
            m.d.sync += [
                n.eq(Mux(good, p_n, 1)), g.eq(Mux(good, p_g, 0)), dn.eq(Mux(good, p_dn, 0)),
                dg.eq(Mux(good, p_dg, 0)), k.eq(Mux(good, p_k, 1)),
                ctype.eq(Mux(good, p_type, CFAR_TYPES.index(self.types[0]))),
                scale.eq(p_scale), ok.eq(good),
            ]
            with m.If(~good):
                m.d.sync += self.config_error.eq(1)
        derive = load == 3

        # derived per CPI: the lags of the taps (and the first tested row, lag 2(N+G))
        g_zero = Signal()
        lag_values = {"n": n, "ng": n + g, "ng1": n + g + 1, "n2g1": n + 2 * g + 1,
                      "out": 2 * (n + g) + 1, "test": 2 * (n + g)}
        lags = {name: Signal(range(span_max + 2), name=f"lag_{name}") for name in lag_values}
        with m.If(derive):
            m.d.sync += [g_zero.eq(g == 0)]
            m.d.sync += [lags[name].eq(value) for name, value in lag_values.items()]
        in_ref = Signal(span_max + 1)        # OS: lag t holds a reference cell
        with m.If(load == 4):
            m.d.sync += in_ref.eq(Cat(*[(lags["n"] > t) | ((lags["n2g1"] <= t) & (lags["out"] > t))
                                        for t in range(span_max + 1)]))

        # ------------------------------------------------------------ input, counters
        # The writer's pipeline moves every cycle (valid bits beside the data). It only
        # ever waits for the row buffer's bank it is about to fill, so the input waits
        # instead, at a row's first cell: a bank free then stays free until this row's
        # own handover (the pipeline, 3 or 4 stages, is shorter than a row).
        always = Const(1)
        full = [Signal(name=f"full{b}") for b in range(_BANKS)]
        take = Signal()
        d = Signal(cb)
        d2 = Signal(cb, init=2)               # d + 2: the column read ahead (every read address)
        r = Signal(range(self.range_cells + 1))
        r1 = Signal(range(self.range_cells + 2), init=1)   # r + 1
        bank_w = Signal(range(_BANKS))
        cpi = Signal(CPI_WIDTH)
        first_row = Signal(init=1)
        row_start = Signal(init=1)            # d == 0 and d == M - 1, as registers
        row_end = Signal()
        with m.If(take):
            m.d.sync += [row_start.eq(d == big_m - 1), row_end.eq(d == big_m - 2)]
        # blocked: the next cell starts a row whose bank is still full (registered, from
        # the next state; a release shows a cycle late, a handover never comes late:
        # only this writer's own, 3 or 4 cycles after a row's end, sets a bank full)
        blocked = Signal()
        starts = Mux(take, row_end, row_start)
        bank_next = Mux(take & row_end, _next_bank(bank_w), bank_w)
        m.d.sync += blocked.eq(starts & Array(full)[bank_next])
        m.d.comb += [self.i.ready.eq(~blocked),
                     take.eq(self.i.valid & self.i.ready),
                     cpi_first.eq(take & first_row & row_start),
                     cpi_last.eq(take & row_end & sample.cpi_end)]

        with m.If(take):
            m.d.sync += [d.eq(d + 1), d2.eq(d2 + 1)]
            with m.If((sample.first != row_start) | (sample.last != row_end)
                      | (sample.cpi_end & ~row_end)):
                m.d.sync += self.framing_error.eq(1)
            with m.If(r == self.range_cells):
                m.d.sync += self.cpi_too_long.eq(1)
            with m.If(row_end):
                m.d.sync += [bank_w.eq(_next_bank(bank_w)), first_row.eq(sample.cpi_end)]
                with m.If(sample.cpi_end):
                    m.d.sync += [r.eq(0), r1.eq(1), cpi.eq(cpi + 1)]
                with m.Elif(r != self.range_cells):
                    m.d.sync += [r.eq(r1), r1.eq(r1 + 1)]

        # row flags, for the row being accepted: which taps hold cells of this CPI
        present = {name: Signal(name=f"present_{name}") for name in lags if name != "test"}
        tested = Signal()
        with m.If(cpi_last):
            m.d.sync += [flag.eq(0) for flag in present.values()] + [tested.eq(0)]
        with m.Elif(take & row_end):
            m.d.sync += [flag.eq(r1 >= lags[name]) for name, flag in present.items()]
            m.d.sync += tested.eq((r1 >= lags["test"]) & (r1 < self.range_cells) & ok)

        # ------------------------------------------------------------ range window
        x = sample.data

        def segment(name, din, rows_max, length):
            if isinstance(length, int):
                return _row_delay(m, name, din, rows_max=rows_max, cells=big_m, length=length,
                                  column=d, column2=d2, take=take, restart=cpi_last)
            # the length's last slot and whether it is 0, registered once per CPI
            last = Signal(range(max(rows_max, 1)), name=f"{name}_last")
            wire = Signal(name=f"{name}_wire")
            with m.If(derive):
                m.d.sync += [last.eq(length - 1), wire.eq(length == 0)]
            out = _row_delay(m, name, din, rows_max=rows_max, cells=big_m, length=(last, wire),
                             column=d, column2=d2, take=take, restart=cpi_last)
            # During a CPI's first row the length may still be the last CPI's (the
            # configuration loads meanwhile): the segment is a wire then, so the row
            # reaches every later segment. Where it then shows early (a tap of a lag
            # longer than its row number) the tap is marked absent and no row is tested.
            return Mux(first_row, din, out)

        p1 = segment("lag_n1", x, nmax - 1, n - 1)                           # lag N - 1
        p2 = segment("lag_n", p1, 1, 1)                                      # lag N
        p3 = segment("lag_ng1", p2, max(gmax - 1, 0), Mux(g == 0, 0, g - 1))
        cut = segment("lag_ng", p3, 1 if gmax else 0, g != 0)                # lag N + G
        after = Mux(g_zero, p1, p3) if gmax else p1             # lag N + G - 1: range bin + 1
        before = segment("lag_ng1b", cut, 1, 1)                 # lag N + G + 1: range bin - 1
        cell_layout = data.StructLayout({"cut": p, "before": p, "after": p})

        w1 = {"valid": Signal(name="w1_valid"), "d": Signal(cb, name="w1_d"),
              "bank": Signal(range(_BANKS), name="w1_bank"),
              "info": Signal(info_layout, name="w1_info"),
              "cell": Signal(cell_layout, name="w1_cell")}
        with m.If(always):
            m.d.sync += [
                w1["valid"].eq(take), w1["d"].eq(d), w1["bank"].eq(bank_w),
                w1["info"].tested.eq(tested), w1["info"].range_bin.eq(r - lags["ng"]),
                w1["info"].cpi_end.eq(sample.cpi_end & row_end), w1["info"].cpi.eq(cpi),
                w1["info"].scale.eq(scale), w1["info"].ctype.eq(ctype),
                w1["cell"].cut.eq(cut), w1["cell"].before.eq(before), w1["cell"].after.eq(after),
            ]
            if two_d:
                m.d.sync += [w1["info"].dn.eq(dn), w1["info"].dg.eq(dg)]

        half_max = nmax * top                 # a half sum along range
        side_max = (nmax + gmax) * top        # every row on one side of the cell
        after_w1 = {name: delay(m, always, value, 1, f"w2_{name}")
                    for name, value in w1.items() if name != "valid"}
        after_w1["valid"] = delay(m, always, w1["valid"], 1, "w2_valid", reset_less=False)
        if sums:
            # Running sums per Doppler bin: at the take the old sum (read two takes
            # ahead) and the cells entering and leaving it are registered (W1); the
            # sum is formed in W1 and written back there, at the latest with the
            # next take, long before this bin is read again (M >= 8 takes later).
            lead_in = segment("lag_n2g1", before, gmax, g)            # lag N + 2G + 1
            lead_out = segment("lag_out", lead_in, nmax, n)           # lag 2N + 2G + 1
            fields = {"trail": range(half_max + 1), "lead": range(half_max + 1)}
            if two_d:
                fields |= {"a": range(side_max + 1), "b": range(side_max + 1)}
            sums_layout = data.StructLayout(fields)
            # written at W1's bin, read at the next take's bin + 2: never the same bin
            sums_mem = _memory(m, "sums", sums_layout, big_m)
            sums_w = sums_mem.write_port()
            old = _ahead(m, "sums", _read(m, sums_mem, d2, take, "sums_read"), take)
            # (entering cell, its flag or None: always present; leaving cell, its flag)
            moves = {"trail": (x, None, p2, "n"), "lead": (lead_in, "n2g1", lead_out, "out")}
            if two_d:
                moves |= {"a": (before, "ng1", lead_out, "out"), "b": (x, None, cut, "ng")}
            new = Signal(sums_layout, name="w1_sums")
            for name, (enter, enter_flag, leave, leave_flag) in moves.items():
                kept = delay(m, always, Mux(first_row, 0, getattr(old, name)), 1, f"w1_old_{name}",
                             unsigned(len(getattr(old, name))))
                entering = delay(m, always, enter if enter_flag is None
                                 else Mux(present[enter_flag], enter, 0), 1, f"w1_in_{name}")
                leaving = delay(m, always, Mux(present[leave_flag], leave, 0), 1, f"w1_out_{name}")
                m.d.comb += getattr(new, name).eq(kept + entering - leaving)
            m.d.comb += [sums_w.addr.eq(w1["d"]), sums_w.data.eq(new),
                         sums_w.en.eq(always & w1["valid"])]
            after_w1["sums"] = delay(m, always, new, 1, "w2_sums")

        # ------------------------------------------------------------ statistic per column
        stat_max = self.max_reference_count * top
        if not two_d:
            # 1-D: S per cell on the writer's side: W2 sums -> W3 S (CA/GO/SO); OS ranks
            # W2 -> W3, its X(k) from W3 registers
            final = {name: delay(m, always, value, 1, f"wf_{name}")
                     for name, value in after_w1.items() if name not in ("sums", "valid")}
            final["valid"] = delay(m, always, after_w1["valid"], 1, "wf_valid", reset_less=False)
            s_final = Signal(range(stat_max + 1), name="wf_s")
            if sums:
                lead, trail = after_w1["sums"].lead, after_w1["sums"].trail
                ctype_w2 = after_w1["info"].ctype
                s_sum = delay(m, always, Mux(ctype_w2 == 0, lead + trail,
                                           Mux((ctype_w2 == 1) == (lead > trail), lead, trail)),
                              1, "w3_s", unsigned(len(s_final)))
            if ranks:
                xk = self._ranks(m, always, take, x, d, d2, k, in_ref)
            if sums and ranks:
                s_value = Mux(final["info"].ctype == 3, xk, s_sum)
            else:
                s_value = xk if ranks else s_sum
            m.d.comb += s_final.eq(s_value)
            bank_fields = {"cell": cell_layout, "s": unsigned(len(s_final))}
        else:
            # 2-D: per column the sums the Doppler window needs (W3), then their prefix
            # sums along the row (W4; the reader takes window sums as differences)
            w3 = {name: delay(m, always, value, 1, f"w3_{name}")
                  for name, value in after_w1.items() if name not in ("sums", "valid")}
            w3["valid"] = delay(m, always, after_w1["valid"], 1, "w3_valid", reset_less=False)
            sw = after_w1["sums"]
            cutw = after_w1["cell"].cut
            column = {"lead": (sw.lead, half_max), "trail": (sw.trail, half_max),
                      "a": (sw.a, side_max), "b": (sw.b, side_max),
                      "ac": (sw.a + cutw, side_max + top), "bc": (sw.b + cutw, side_max + top)}
            col3 = {name: delay(m, always, value, 1, f"w3_col_{name}", range(most + 1))
                    for name, (value, most) in column.items()}
            final = {name: delay(m, always, value, 1, f"wf_{name}")
                     for name, value in w3.items() if name != "valid"}
            final["valid"] = delay(m, always, w3["valid"], 1, "wf_valid", reset_less=False)
            prefix_layout = data.StructLayout({name: range(big_m * most + 1)
                                               for name, (_, most) in column.items()})
            acc = Signal(prefix_layout, name="prefix_acc")
            final["prefix"] = Signal(prefix_layout, name="wf_prefix")
            final["total"] = Signal(prefix_layout, name="wf_total")
            row_first = delay(m, always, after_w1["d"] == 0, 1, "w3_first")
            with m.If(always & w3["valid"]):
                for name in column:
                    start = Mux(row_first, 0, getattr(acc, name))
                    m.d.sync += [getattr(final["prefix"], name).eq(start),
                                 getattr(final["total"], name).eq(start + col3[name]),
                                 getattr(acc, name).eq(start + col3[name])]
            bank_fields = {"cell": cell_layout}

        # ------------------------------------------------------------ row buffer (three banks)
        info = [Signal(info_layout, name=f"info{b}") for b in range(_BANKS)]
        address = Cat(final["d"], final["bank"])
        write = final["valid"]
        handover = write & (final["d"] == big_m - 1)

        bank_layout = data.StructLayout(bank_fields)
        # the writer fills a bank the reader is not reading: never one address
        bank_mem = _memory(m, "bank", bank_layout, _BANKS * big_m)
        bank_w_port = bank_mem.write_port()
        m.d.comb += [bank_w_port.addr.eq(address), bank_w_port.en.eq(write),
                     bank_w_port.data.cell.eq(final["cell"])]
        # the Doppler neighbours: copies of the cut written one bin later / earlier, so
        # that all three are read at the reader's one address
        neighbours = []
        for name, shift in (("bank_prev", 1), ("bank_next", -1)):
            mem = _memory(m, name, p, _BANKS * big_m)
            port = mem.write_port()
            m.d.comb += [port.addr.eq(Cat((final["d"] + shift)[:cb], final["bank"])),
                         port.en.eq(write), port.data.eq(final["cell"].cut)]
            neighbours.append(mem)
        if not two_d:
            m.d.comb += bank_w_port.data.s.eq(s_final)
        else:
            totals = [Signal(prefix_layout, name=f"totals{b}") for b in range(_BANKS)]
            groups = {"lt": ("lead", "trail"), "acb": ("ac", "b"), "abc": ("a", "bc")}
            prefix_ports = {}
            for group, names in groups.items():
                layout = data.StructLayout({name: prefix_layout[name].shape for name in names})
                mem = _memory(m, f"prefix_{group}", layout, _BANKS * big_m)
                port = mem.write_port()
                m.d.comb += [port.addr.eq(address), port.en.eq(write)]
                m.d.comb += [getattr(port.data, name).eq(getattr(final["prefix"], name))
                             for name in names]
                prefix_ports[group] = mem
        for b in range(_BANKS):
            with m.If(handover & (final["bank"] == b)):
                m.d.sync += [full[b].eq(1), info[b].eq(final["info"])]
                if two_d:
                    m.d.sync += totals[b].eq(final["total"])

        # ------------------------------------------------------------ reader
        # R0 issues one token per column of a full bank whose row is tested, one token
        # for a row that is not (no hit can come of it), and the CPI's end word after
        # its last row; R1 holds the token and addresses the bank from registers; R2
        # holds the words read. A bank is released when its last token's reads happen
        # (R1), so the writer never writes an address being read. The untested rows
        # (at least the first 2(N+G) of each CPI) save the reader more cycles than
        # the end word costs, so with ``o`` ready it keeps pace with the writer.
        en_r = Signal()
        m.d.comb += en_r.eq(~self.o.valid | self.o.ready)
        rbank = Signal(range(_BANKS))
        rd = Signal(cb)
        rmark = Signal()
        rinfo = Signal(info_layout)
        m.d.comb += rinfo.eq(Array(info)[rbank])
        issue = en_r & Array(full)[rbank]
        row_done = (rd == big_m - 1) | ~rinfo.tested
        finished = rmark | (row_done & ~rinfo.cpi_end)
        with m.If(issue):
            with m.If(rmark):
                m.d.sync += rmark.eq(0)
            with m.Elif(row_done):
                m.d.sync += [rd.eq(0), rmark.eq(rinfo.cpi_end)]
            with m.Else():
                m.d.sync += rd.eq(rd + 1)
            with m.If(finished):
                m.d.sync += rbank.eq(_next_bank(rbank))

        token_fields = {"mark": 1, "d": cb, "bank": range(_BANKS), "release": 1,
                        "info": info_layout}
        if two_d:
            # the Doppler window's ends: a1 = d - Gd, b1 = d + Gd + 1 (inner), a2 = a1 - Dd,
            # b2 = b1 + Dd (outer), as integers; whether the inner window wraps, whether
            # the left and the right outer parts do
            token_fields |= {name: signed(cb + 3) for name in ("a1", "b1", "a2", "b2")}
            token_fields["wraps"] = 3
        token_layout = data.StructLayout(token_fields)
        token = Signal(token_layout, name="r1_token")
        valid_r1 = Signal(name="r1_valid")
        with m.If(en_r):
            m.d.sync += [valid_r1.eq(issue), token.mark.eq(rmark), token.d.eq(rd),
                         token.bank.eq(rbank), token.release.eq(finished), token.info.eq(rinfo)]
            if two_d:
                ends = {"a1": rd - rinfo.dg, "b1": rd + rinfo.dg + 1,
                        "a2": rd - rinfo.dg - rinfo.dn, "b2": rd + rinfo.dg + rinfo.dn + 1}
                m.d.sync += [getattr(token, name).eq(value) for name, value in ends.items()]
                m.d.sync += token.wraps.eq(Cat(
                    (ends["a1"] < 0) | (ends["b1"] >= big_m), (ends["a2"] < 0) & (ends["a1"] >= 0),
                    (ends["b1"] < big_m) & (ends["b2"] >= big_m)))
        with m.If(en_r & valid_r1 & token.release):
            for b in range(_BANKS):
                with m.If(token.bank == b):
                    m.d.sync += full[b].eq(0)

        def read(mem, column):
            return _read(m, mem, Cat(column[:cb], token.bank), en_r, "r2_read")

        cell_r = read(bank_mem, token.d)
        cut_before = read(neighbours[0], token.d)
        cut_after = read(neighbours[1], token.d)
        side_layout = data.StructLayout({
            "mark": 1, "d": cb, "info": info_layout, "cell": cell_layout,
            "doppler_before": p, "doppler_after": p})
        side = Signal(side_layout, name="r2_side")
        token2 = delay(m, en_r, token, 1, "r2_token")
        valid_r2 = delay(m, en_r, valid_r1, 1, "r2_valid", reset_less=False)
        m.d.comb += [side.mark.eq(token2.mark), side.d.eq(token2.d), side.info.eq(token2.info),
                     side.cell.eq(cell_r.cell), side.doppler_before.eq(cut_before),
                     side.doppler_after.eq(cut_after)]

        if not two_d:
            stat = delay(m, en_r, cell_r.s, 1, "r3_stat")      # straight from the block RAM
            extra = 1
        else:
            stat, extra = self._doppler_window(m, en_r, token, totals, prefix_ports,
                                               prefix_layout, read, side)
        side_s = delay(m, en_r, side, extra, "rs_side")
        valid_s = delay(m, en_r, valid_r2, extra, "rs_valid", reset_less=False)
        product, latency = multiply(m, en_r, side_s.info.scale, stat, "product")
        last = delay(m, en_r, side_s, latency, "ro_side")
        valid_out = delay(m, en_r, valid_s, latency, "ro_valid", reset_less=False)

        threshold, _ = saturate(product >> CFAR_SCALE_FRAC, p, signed_out=False)
        hit = last.info.tested & (Cat(Const(0, CFAR_SCALE_FRAC), last.cell.cut) > product)
        word = self.o.payload
        with m.If(en_r):
            m.d.sync += [
                self.o.valid.eq(valid_out & (last.mark | hit)),
                word.cpi_end.eq(last.mark),
                word.hit.cpi.eq(last.info.cpi),
                word.hit.range_bin.eq(Mux(last.mark, 0, last.info.range_bin)),
                word.hit.doppler_bin.eq(Mux(last.mark, 0, last.d)),
                word.hit.power.eq(Mux(last.mark, 0, last.cell.cut)),
                word.hit.threshold.eq(Mux(last.mark, 0, threshold)),
                word.hit.range_before.eq(Mux(last.mark, 0, last.cell.before)),
                word.hit.range_after.eq(Mux(last.mark, 0, last.cell.after)),
                word.hit.doppler_before.eq(Mux(last.mark, 0, last.doppler_before)),
                word.hit.doppler_after.eq(Mux(last.mark, 0, last.doppler_after)),
            ]
        return m

    def _ranks(self, m, always, take, x, d, d2, k, in_ref):
        """OS along range: ``X(k)`` of every cell, combinational from W3 registers.

        A chain of one-row delays holds, for lags ``t = 1 ... T``, each cell and the
        bits ``le(t, t + o) = x_t <= x_(t+o)`` for ``o = 1 ... T - t``, computed when the
        cell arrived (lag 0) against the ``T`` older cells of its column. The cells
        are totally ordered by (power, lag): cell ``u`` precedes ``t`` iff
        ``le(u, t)`` for ``u < t`` and ``not le(t, u)`` for ``u > t``; the rank of a
        reference cell is the number of reference cells preceding it, and ``X(k)`` is
        the reference cell of rank ``k - 1``.
        """
        p, big_m, cb = self.power_width, self.doppler_cells, self.doppler_bits
        t_max = 2 * (self.max_reference_cells + self.max_guard_cells)
        xs = [x]
        stored = [None]                        # stored[t][o - 1] = le(t, t + o)
        le0 = Signal(t_max + 1, name="le0")    # le0[o] = le(0, o)
        din = Cat(x, le0[1:t_max])
        for t in range(1, t_max + 1):
            mem = _memory(m, f"rank_row{t}", len(din), big_m)      # written at d, read at d + 2
            write = mem.write_port()
            m.d.comb += [write.addr.eq(d), write.data.eq(din), write.en.eq(1)]
            tap = _ahead(m, f"rank_row{t}", _read(m, mem, d2, take, f"rank_read{t}"),
                         take)
            xs.append(tap[:p])
            stored.append(tap[p:])
            din = Cat(tap[:p], tap[p:p + max(0, t_max - t - 1)])
        m.d.comb += [le0[o].eq(x <= xs[o]) for o in range(1, t_max + 1)]

        def le(u, t):                          # u < t
            return le0[t] if u == 0 else stored[u][t - u - 1]

        # W1: the cells and their order bits; the configuration of the cell's CPI
        xs1 = [delay(m, always, value, 1, f"os_x{t}") for t, value in enumerate(xs)]
        pairs = [(u, t) for t in range(t_max + 1) for u in range(t)]
        bits1 = delay(m, always, Cat(*[le(u, t) for u, t in pairs]), 1, "os_le")
        order = {pair: bits1[j] for j, pair in enumerate(pairs)}
        ref1 = delay(m, always, in_ref, 1, "os_ref")
        k1 = delay(m, always, k - 1, 1, "os_k", unsigned(len(k)))
        # W2: for each cell, the reference cells that precede it, counted in groups of
        # six bits (a table each); W3: their sum is the rank -> one-hot choice of k - 1
        ones = Array(Const(bin(j).count("1"), 3) for j in range(64))
        groups = []
        for t in range(t_max + 1):
            bits = [order[(u, t)] & ref1[u] for u in range(t)]
            bits += [~order[(t, u)] & ref1[u] for u in range(t + 1, t_max + 1)]
            groups.append([delay(m, always, ones[Cat(*bits[j:j + 6])], 1, f"os_count{t}_{j // 6}")
                           for j in range(0, len(bits), 6)])
        ref2 = delay(m, always, ref1, 1, "os_ref2")
        k2 = delay(m, always, k1, 1, "os_k2")
        xs2 = [delay(m, always, value, 1, f"os_y{t}") for t, value in enumerate(xs1)]
        chosen = Cat(*[ref2[t] & (_tree(groups[t], operator.add) == k2)
                       for t in range(t_max + 1)])
        chosen3 = delay(m, always, chosen, 1, "os_pick")
        xs3 = [delay(m, always, value, 1, f"os_z{t}") for t, value in enumerate(xs2)]
        # the chosen cell, combinational from W3
        return _tree([Mux(chosen3[t], xs3[t], 0) for t in range(t_max + 1)], operator.or_)

    def _doppler_window(self, m, en_r, token, totals, ports, prefix_layout, read, side):
        """2-D: the leading and lagging sums of the circular Doppler window from the
        prefix sums at four addresses; returns ``(S, stages after R2)``.

        For a window ``[a, b)`` of columns (integers, possibly past either end) the sum
        is ``P(b) - P(a)`` with ``P(j) = prefix[j mod M] + floor(j / M) * total``.
        Leading = inner(lead) + left(A + C) + right(A); lagging = inner(trail) +
        left(B) + right(B + C), where inner is ``|dd| <= Gd``, left and right the
        outer columns on each side, ``A``/``B`` the column sums of every window row
        before/after the cell under test and ``C`` its own row.
        """
        a1, b1, a2, b2 = token.a1, token.b1, token.a2, token.b2
        # R2: the prefix sums (the block RAMs' read registers), which ends wrapped, the
        # row totals; R3 copies them all, so that no arithmetic follows a block RAM
        def again(value, name):
            return delay(m, en_r, value, 1, f"r3_{name}")
        lt_a1, lt_b1 = (again(read(ports["lt"], a), f"lt_{name}")
                        for a, name in ((a1, "a1"), (b1, "b1")))
        acb_a1, acb_a2 = (again(read(ports["acb"], a), f"acb_{name}")
                          for a, name in ((a1, "a1"), (a2, "a2")))
        abc_b1, abc_b2 = (again(read(ports["abc"], a), f"abc_{name}")
                          for a, name in ((b1, "b1"), (b2, "b2")))
        wraps = delay(m, en_r, token.wraps, 1, "r2_wraps")
        total = Signal(prefix_layout, name="r2_total")
        with m.If(en_r):
            m.d.sync += total.eq(Array(totals)[token.bank])
        wraps = again(wraps, "wraps")
        total = again(total, "total")
        wrap_inner, wrap_left, wrap_right = wraps[0], wraps[1], wraps[2]

        def span(high, low, wrapped, name):
            return high - low + Mux(wrapped, getattr(total, name), 0)

        parts = {
            "inner_lead": span(lt_b1.lead, lt_a1.lead, wrap_inner, "lead"),
            "inner_trail": span(lt_b1.trail, lt_a1.trail, wrap_inner, "trail"),
            "left_ac": span(acb_a1.ac, acb_a2.ac, wrap_left, "ac"),
            "left_b": span(acb_a1.b, acb_a2.b, wrap_left, "b"),
            "right_a": span(abc_b2.a, abc_b1.a, wrap_right, "a"),
            "right_bc": span(abc_b2.bc, abc_b1.bc, wrap_right, "bc"),
        }
        half_max = self.max_reference_count // 2 * ((1 << self.power_width) - 1)
        # R4: the six window sums; R5: the halves; R6: their sum and order; R7: S
        r4 = {name: delay(m, en_r, value, 1, f"r4_{name}", range(half_max + 1))
              for name, value in parts.items()}
        leading = delay(m, en_r, r4["inner_lead"] + r4["left_ac"] + r4["right_a"], 1,
                        "r5_leading", range(half_max + 1))
        lagging = delay(m, en_r, r4["inner_trail"] + r4["left_b"] + r4["right_bc"], 1,
                        "r5_lagging", range(half_max + 1))
        both = delay(m, en_r, leading + lagging, 1, "r6_both", range(2 * half_max + 1))
        greater = delay(m, en_r, leading > lagging, 1, "r6_greater")
        leading, lagging = (delay(m, en_r, value, 1, f"r6_{name}")
                            for value, name in ((leading, "leading"), (lagging, "lagging")))
        ctype = delay(m, en_r, side.info.ctype, 4, "r6_ctype")
        stat = Mux(ctype == 0, both, Mux((ctype == 1) == greater, leading, lagging))
        stat = delay(m, en_r, stat, 1, "r7_stat", range(2 * half_max + 1))
        return stat, 5
