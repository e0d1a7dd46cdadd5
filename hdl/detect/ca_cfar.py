"""Cell-averaging CFAR along range: one cell per clock, running window sums."""

from amaranth import Cat, Const, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..formats import CFAR_SCALE_FRAC, CFAR_SCALE_WIDTH, detection_layout, framed_layout
from ..numerics import saturate
from ..stream.pipeline import delay, multiply
from ...spec.records import CPI_WIDTH, PULSE_WIDTH
from ...spec.checks import check_integer

__all__ = ["CaCfar"]


class CaCfar(wiring.Component):
    """1-D cell-averaging CFAR detector along each range line.

    Cell ``k`` of a range line of ``L`` power samples ``x`` is compared with the
    sum of ``2R`` reference cells, ``R`` on each side beyond ``G`` guard cells::

        S[k] = sum(x[k-G-R : k-G]) + sum(x[k+G+1 : k+G+R+1])

    and detected, exactly in integers, iff ``x[k] * 2**F > scale * S[k]`` with
    ``F = CFAR_SCALE_FRAC``. ``scale`` is ``alpha / (2R)`` in unsigned fixed point
    with ``F`` fractional bits, so the test is ``x[k] > alpha * mean``. Each
    detection is one output word; cells that are not detected produce nothing.
    With ``peaks`` a detected cell is also required to be a local maximum of the
    power, ``x[k] >= x[k-1]`` and ``x[k] > x[k+1]``: one report (a plot) at the
    peak of a target's run of cells over the threshold, instead of every cell.

    Only cells whose whole window lies inside the line are tested: the first is
    ``k = R + G``, the last ``k = L - 1 - R - G``. The ``R + G`` cells at each end
    of a line are never detected, and a line shorter than the window
    ``2(R + G) + 1`` yields no detection at all (it still counts as a pulse).
    The window never spans two lines: the running sums restart at each line.

    Parameters
    ----------
    line_length : int
        Most samples in one range line, ``>= 2(R + G) + 1``. Lines may have any
        length up to this, and differ from line to line. A longer line is
        processed as if cut after ``line_length`` samples: its further samples are
        consumed without tests and ``line_too_long`` is raised.
    reference_cells : int
        ``R``, reference cells on each side of the cell under test, ``>= 1``.
    guard_cells : int
        ``G``, guard cells on each side between it and the reference cells, ``>= 0``.
    power_width : int
        Bits of the unsigned power samples, ``>= 1``.
    peaks : bool
        Report only detected cells that are local maxima (default False: every
        detected cell).

    Members
    -------
    i : In(stream.Signature(framed_layout(unsigned(power_width))))
        Power samples with range-line framing. A line starts at a sample with
        ``first`` set, or at the sample after one with ``last`` set (and at the
        first sample after reset). ``last`` ends a line and advances the pulse
        counter; ``last`` together with ``cpi_end`` instead resets it to 0 and
        advances the CPI counter (``cpi_end`` without ``last`` is ignored).
    scale : In(CFAR_SCALE_WIDTH)
        Threshold scale ``alpha / (2R)``, unsigned with ``CFAR_SCALE_FRAC``
        fractional bits (see ``amaradar.sim.models.detect.ca_cfar.cfar_scale``). A change applies
        from some cell on; change it between CPIs.
    o : Out(stream.Signature(detection_layout(range_bits=range_bits, power_bits=power_width)))
        One word per detected cell, in input order: ``cpi``, ``pulse``,
        ``range_bin = k``, ``power = x[k]``, ``threshold = (scale * S[k]) >> F``.
    line_too_long : Out(1)
        Sticky: a line had more than ``line_length`` samples.
    pulse_overflow : Out(1)
        Sticky: a CPI had more than ``2**PULSE_WIDTH`` lines; the pulse field
        saturates at ``2**PULSE_WIDTH - 1``.

    Attributes
    ----------
    range_bits : int
        Bits of ``range_bin``, enough for ``0 .. line_length - 1``.
    window : int
        ``2(R + G) + 1``, the cells held in the delay line.

    Bit growth
    ----------
    Each half-window sum has ``power_width + ceil(log2(R + 1))`` bits at most,
    ``S`` one more; the product ``scale * S`` keeps all
    ``CFAR_SCALE_WIDTH + bits(S)`` bits and ``x[k]`` is compared after a shift by
    ``F``, so the decision is exact.

    Rounding/overflow
    -----------------
    The reported threshold is truncated (``>> F``, toward minus infinity) and
    saturated to ``power_width`` bits. The saturation never engages on a reported
    word: a detection means ``scale * S < x[k] * 2**F <= (2**power_width - 1) * 2**F``,
    so its threshold is below ``x[k]`` and fits; a threshold too large to fit
    belongs to a cell that is not detected and never leaves the block. Sums and
    products are full width and cannot overflow. The CPI counter wraps modulo
    ``2**CPI_WIDTH`` (it is a label, as ``formats.detection_layout`` documents);
    the pulse counter saturates and raises ``pulse_overflow``.

    Latency/throughput
    ------------------
    One sample per clock. Register stages: delay line and running sums; the
    product ``scale * S`` in ``d = pipeline.product_latency`` stages (the window
    sum in the operand registers of partial products of 18-bit pieces, each one
    hardware multiplier between registers, then a registered adder tree: ``d`` =
    3, 4, 5 for ``S`` of up to 18, 36, 72 bits); the decision into the output
    register. All advance on one enable
    ``~o.valid | o.ready``, which is also ``i.ready``: when a detection waits at
    the output the whole pipeline, and the input, stall, so nothing is lost.
    The detection of cell ``k`` is presented ``d + 1`` enabled cycles after the
    cycle that accepted sample ``k + R + G``. The output is sparse, so no fixed
    ``latency`` is exposed.

    Model
    -----
    ``amaradar.sim.models.detect.ca_cfar.ca_cfar`` (bit-exact), ``ca_cfar_ideal`` (float).
    """

    def __init__(self, *, line_length, reference_cells, guard_cells, power_width, peaks=False):
        if not isinstance(peaks, bool):
            raise TypeError(f"peaks must be True or False, not {peaks!r}")
        check_integer("reference_cells", reference_cells, 1)
        check_integer("guard_cells", guard_cells, 0)
        check_integer("power_width", power_width, 1)
        window = 2 * (reference_cells + guard_cells) + 1
        check_integer("line_length", line_length, window,
                      low_text=f"2*(reference_cells + guard_cells) + 1 = {window}")
        self.line_length = line_length
        self.reference_cells = reference_cells
        self.guard_cells = guard_cells
        self.power_width = power_width
        self.peaks = peaks
        self.window = window
        self.range_bits = max(1, (line_length - 1).bit_length())
        super().__init__({
            "i": In(stream.Signature(framed_layout(unsigned(power_width)))),
            "scale": In(CFAR_SCALE_WIDTH),
            "o": Out(stream.Signature(detection_layout(range_bits=self.range_bits,
                                                       power_bits=power_width))),
            "line_too_long": Out(1),
            "pulse_overflow": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        r, g, w, p = self.reference_cells, self.guard_cells, self.window, self.power_width
        half_max = r * ((1 << p) - 1)
        sample = self.i.payload

        en = Signal()
        take = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready),
                     self.i.ready.eq(en),
                     take.eq(self.i.valid & en)]

        # Stage 0: delay line (cell[n] = sample j - n of the current line, j the
        # newest), running sums of the R newest (trail) and R oldest (lead) cells,
        # and the framing events of the sample (line start, last, cpi_end).
        cell = [Signal(p, name=f"cell{n}") for n in range(w)]
        trail = Signal(range(half_max + 1))
        lead = Signal(range(half_max + 1))
        index = Signal(self.range_bits)
        line_done = Signal(init=1)
        full = Signal()
        fresh = Signal()
        events = Signal(3)

        with m.If(en):
            m.d.sync += [full.eq(0), fresh.eq(0)]
        with m.If(take):
            start = sample.first | line_done
            m.d.sync += [cell[0].eq(sample.data), line_done.eq(sample.last), fresh.eq(1),
                         events.eq(Cat(start, sample.last, sample.cpi_end))]
            with m.If(start):
                m.d.sync += [c.eq(0) for c in cell[1:]]
                m.d.sync += [trail.eq(sample.data), lead.eq(0), index.eq(0)]
            with m.Else():
                m.d.sync += [cell[n].eq(cell[n - 1]) for n in range(1, w)]
                m.d.sync += [trail.eq(trail + sample.data - cell[r - 1]),
                             lead.eq(lead + cell[w - r - 1] - cell[w - 1])]
                with m.If(index == self.line_length - 1):
                    m.d.sync += self.line_too_long.eq(1)
                with m.Else():
                    m.d.sync += [index.eq(index + 1), full.eq(index + 1 >= w - 1)]

        # Stages 1 ... latency: scale * (window sum), the sum in the multipliers'
        # operand registers; beside it the cell under test. Then the decision into
        # the output register.
        valid1 = Signal()
        peak1 = Signal()
        cut1 = Signal(p)
        range1 = Signal(self.range_bits)
        with m.If(en):
            m.d.sync += [
                valid1.eq(full),
                # cell[r+g+1] is x[k-1], cell[r+g-1] is x[k+1]; both inside the window
                peak1.eq((cell[r + g] >= cell[r + g + 1]) & (cell[r + g] > cell[r + g - 1])
                         if self.peaks else 1),
                cut1.eq(cell[r + g]),
                range1.eq(index - (r + g)),
            ]
        total = Signal(range(2 * half_max + 1))
        m.d.comb += total.eq(lead + trail)
        product, latency = multiply(m, en, self.scale, total, "product", a_static=True)
        valid = delay(m, en, valid1, latency - 1, "valid", reset_less=False)
        cut, range_bin, peak = (delay(m, en, value, latency - 1, name) for value, name in (
            (cut1, "cut"), (range1, "range_bin"), (peak1, "peak")))
        threshold, _ = saturate(product >> CFAR_SCALE_FRAC, p, signed_out=False)

        # The pulse and CPI counters follow the events of every accepted sample as
        # it leaves the pipeline, so they label the cells beside them. A detected
        # cell never starts a line: its labels are the counters as they stand.
        moved, starts, ends, cpi_ends = delay(m, en, Cat(fresh, events), latency, "events",
                                              reset_less=False)
        pulse = Signal(PULSE_WIDTH)
        cpi = Signal(CPI_WIDTH)
        next_pulse = Signal(PULSE_WIDTH)
        next_cpi = Signal(CPI_WIDTH)
        with m.If(en & moved):
            with m.If(starts):
                m.d.sync += [pulse.eq(next_pulse), cpi.eq(next_cpi)]
            with m.If(ends):
                with m.If(cpi_ends):
                    m.d.sync += [next_cpi.eq(next_cpi + 1), next_pulse.eq(0)]
                with m.Elif(next_pulse == (1 << PULSE_WIDTH) - 1):
                    m.d.sync += self.pulse_overflow.eq(1)
                with m.Else():
                    m.d.sync += next_pulse.eq(next_pulse + 1)
        with m.If(en):
            m.d.sync += [
                self.o.valid.eq(valid & peak & (Cat(Const(0, CFAR_SCALE_FRAC), cut) > product)),
                self.o.payload.cpi.eq(cpi),
                self.o.payload.pulse.eq(pulse),
                self.o.payload.range_bin.eq(range_bin),
                self.o.payload.power.eq(cut),
                self.o.payload.threshold.eq(threshold),
            ]
        return m
