"""Pulse compression: a pipelined complex FIR with taps fixed at elaboration."""

import numpy as np
from amaranth import Const, Module, Signal, Value, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..formats import ADC_WIDTH, COEF_WIDTH, MF_OUT_WIDTH, complex_layout, framed_layout
from ..numerics import check_rounding, saturate, shift_right
from ..stream.pipeline import multiply, product_latency
from ...spec.checks import check_integer, check_width

__all__ = ["MatchedFilter"]


def _integer_taps(taps, coef_width):
    """``taps`` as a list of ``(real, imag)`` Python ints, checked against ``coef_width``."""
    try:
        values = np.asarray(taps)
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 1 or values.size == 0 or values.dtype.kind not in "iufc":
        raise TypeError(f"taps must be a non-empty 1-D sequence of complex integers, not {taps!r}")
    lo, hi = -(1 << (coef_width - 1)), (1 << (coef_width - 1)) - 1
    pairs = []
    for j, tap in enumerate(values.tolist()):
        tap = complex(tap)
        if tap.real != int(tap.real) or tap.imag != int(tap.imag):
            raise ValueError(f"taps must have integer real and imaginary parts; taps[{j}] is {tap!r}")
        re, im = int(tap.real), int(tap.imag)
        if not (lo <= re <= hi and lo <= im <= hi):
            raise ValueError(f"taps[{j}] = {tap!r} does not fit coef_width={coef_width} signed "
                             f"bits ({lo} ... {hi})")
        pairs.append((re, im))
    return pairs


def _is_shift(coef):
    """Whether multiplying by the integer ``coef`` is a shift: 0 or +-2**k."""
    return abs(coef) & (abs(coef) - 1) == 0


def _shifted(value, coef):
    """``coef * value`` for ``coef`` = +-2**k: a shift, negated for a negative ``coef``."""
    value = value << (abs(coef).bit_length() - 1)
    return -value if coef < 0 else value


class MatchedFilter(wiring.Component):
    """Complex FIR for pulse compression, one sample per clock, history cleared per line.

    Output sample ``k`` of a range line is ``sum_{j=0}^{min(k, P-1)} taps[j] * x[k-j]``:
    every line (from a sample with ``first`` set) is filtered as if preceded by zeros
    and gives as many output samples as it has input samples. The framing flags
    travel with their sample. Direct form: a delay line of the input that is cleared
    when ``first`` enters, a registered multiplier input and output per real product,
    and a pipelined adder tree. When every tap part is 0 or a power of two with
    either sign (Barker taps: +-1), there is no multiplier: the products are shifts
    that the complex-sum level adds, and the ``d`` product stages are registers of
    the two sums after the adder tree instead (retimed: the same output and
    latency; ``d`` registers per part of the sum instead of ``d`` per real product).

    Symmetric taps (``taps[j] == taps[P-1-j]`` for all ``j``, as the time-symmetric
    LFM pulse of :func:`amaradar.hdl.waveform.sine_table.centred_chirp` gives) fold: the
    multiplier input of tap ``j < P // 2`` is the sum ``x[k-j] + x[k-(P-1-j)]``, so
    ``M = ceil(P / 2)`` complex multiplier inputs serve all ``P`` taps, half the
    multipliers. Integer sums are exact, so the output is the same either way.
    Otherwise ``M = P``.

    Parameters
    ----------
    taps : sequence of complex int
        The ``P`` coefficients, each real and imaginary part in ``signed(coef_width)``
        (see :func:`amaradar.sim.models.compress.matched_filter.matched_filter_taps`).
    input_width : int
        Bits per part of the input (default ``formats.ADC_WIDTH``).
    coef_width : int
        Bits per part of a tap (default ``formats.COEF_WIDTH``).
    output_width : int
        Bits per part of the output (default ``formats.MF_OUT_WIDTH``).
    output_shift : int
        Bits dropped from the full-precision sum, 0 ... ``acc_width - 1``
        (:func:`amaradar.sim.models.compress.matched_filter.safe_output_shift` gives the smallest
        shift that can never saturate).
    rounding : {"half_even", "truncate"}
        How the dropped bits round (default ``"half_even"``).
    round_stage : bool
        Register the rounded sum before it saturates: one more cycle of latency,
        a shorter path for a fast clock (default False: round and saturate in one
        cycle).

    Members
    -------
    i : In(stream.Signature(framed_layout(complex_layout(input_width))))
        Input samples with range-line framing.
    o : Out(stream.Signature(framed_layout(complex_layout(output_width))))
        Compressed samples, framing flags aligned.
    overflow : Out(1)
        Sticky: set when an output part saturated, cleared only by reset.

    Bit growth
    ----------
    A real product has ``input_width + coef_width`` bits (one more when folded: the
    pre-added sample has ``input_width + 1``); a complex product part (``hr*xr -
    hi*xi`` or ``hr*xi + hi*xr``) one more; the sum of ``P`` of them ``ceil(log2(P))``
    more: ``acc_width = input_width + coef_width + 1 + ceil(log2(P))`` bits hold every
    sum exactly (no bit is dropped before the output stage).

    Rounding/overflow
    -----------------
    ``shift_right(sum, output_shift, rounding)`` then saturation to
    ``signed(output_width)`` per part; saturation sets ``overflow``.

    Latency/throughput
    ------------------
    ``latency = 3 + d + ceil(log2(M)) + round_stage`` cycles from the input transfer
    to the output being offered (delay line; the product in ``d =
    pipeline.product_latency`` stages, 2 for operands of up to 18 bits: multiplier
    input, product; complex-sum level, ``ceil(log2(M))`` adder levels, rounding,
    saturation). One sample per clock when ``o.ready`` stays high. ``i.ready`` is
    ``~o.valid | o.ready`` (one global enable), so it depends combinationally on
    ``o.ready``. Four real multipliers per multiplier input (no Gauss 3-multiplier
    trick), each a :func:`amaradar.hdl.stream.pipeline.multiply` with registered inputs and
    output, so that it maps to a DSP block with its pipeline registers (ECP5
    MULT18X18D, iCE40 SB_MAC16); a tap part of zero costs no multiplier, and shift
    taps (above) none at all.

    Model
    -----
    :func:`amaradar.sim.models.compress.matched_filter.matched_filter`, bit-exact, per range line.
    """

    def __init__(self, *, taps, input_width=ADC_WIDTH, coef_width=COEF_WIDTH,
                 output_width=MF_OUT_WIDTH, output_shift=0, rounding="half_even",
                 round_stage=False):
        check_width("input_width", input_width)
        check_width("coef_width", coef_width)
        check_width("output_width", output_width)
        self._taps = _integer_taps(taps, coef_width)
        check_rounding(rounding)
        self.acc_width = input_width + coef_width + 1 + (len(self._taps) - 1).bit_length()
        check_integer("output_shift", output_shift, 0, self.acc_width - 1)
        self._input_width = input_width
        self._coef_width = coef_width
        self._output_width = output_width
        self._output_shift = output_shift
        self._rounding = rounding
        if not isinstance(round_stage, bool):
            raise TypeError(f"round_stage must be True or False, not {round_stage!r}")
        self._round_stage = round_stage
        self._pairs = self._folded_pairs()
        self._shift_taps = all(_is_shift(part) for tap in self._taps for part in tap)
        # multiplier inputs: a sample, or the sum of two when the taps fold
        self._operand_width = input_width + (len(self._pairs) < len(self._taps))
        self._product_latency = product_latency(signed(coef_width), signed(self._operand_width))
        self.latency = (3 + self._product_latency + (len(self._pairs) - 1).bit_length()
                        + round_stage)
        super().__init__({
            "i": In(stream.Signature(framed_layout(complex_layout(input_width)))),
            "o": Out(stream.Signature(framed_layout(complex_layout(output_width)))),
            "overflow": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]
        sample = complex_layout(self._input_width)
        flags = ("first", "last", "cpi_end")

        def stage(name, previous):
            """A pipeline register for the valid bit and framing flags, advancing on ``en``."""
            regs = {key: Signal(name=f"{name}_{key}") for key in ("valid",) + flags}
            with m.If(en):
                m.d.sync += [regs[key].eq(previous[key]) for key in regs]
            return regs

        # Delay line: shifts only on an input transfer; ``first`` clears the history.
        line = [Signal(sample, name=f"x{j}") for j in range(len(self._taps))]
        accept = self.i.valid & en
        with m.If(accept):
            m.d.sync += line[0].eq(self.i.payload.data)
            for j in range(1, len(line)):
                with m.If(self.i.payload.first):
                    m.d.sync += line[j].eq(0)
                with m.Else():
                    m.d.sync += line[j].eq(line[j - 1])
        ctrl = {"valid": Signal(name="line_valid")} | {f: Signal(name=f"line_{f}") for f in flags}
        with m.If(en):
            m.d.sync += ctrl["valid"].eq(self.i.valid)
        with m.If(accept):
            m.d.sync += [ctrl[f].eq(self.i.payload[f]) for f in flags]

        # The four real products of each multiplier input (a pre-added pair of
        # samples when the taps fold), which sits in the multipliers' operand
        # registers; a tap part of zero needs no multiplier.
        pairs = self._pairs
        real_terms, imag_terms = [], []
        for j, (near, far) in enumerate(pairs):
            op = {}
            for part in ("i", "q"):
                op[part] = Signal(signed(self._operand_width), name=f"mul_in{j}_{part}")
                m.d.comb += op[part].eq(line[near][part] if far is None
                                        else line[near][part] + line[far][part])
            hr, hi = self._taps[near]
            products = {}
            for name, coef, part in (("rr", hr, "i"), ("ii", hi, "q"), ("ri", hr, "q"),
                                     ("ir", hi, "i")):
                if coef == 0:
                    products[name] = 0
                elif self._shift_taps:
                    products[name] = _shifted(op[part], coef)
                else:
                    products[name] = multiply(
                        m, en, Const(coef, signed(self._coef_width)), op[part], f"p{j}_{name}",
                        a_static=True)[0]
            real_terms.append(products["rr"] - products["ii"])
            imag_terms.append(products["ri"] + products["ir"])
        product_stages = 0 if self._shift_taps else self._product_latency
        for n in range(product_stages):
            ctrl = stage(f"product{n}", ctrl)

        # Adder tree: the complex-sum level, then pairwise levels, each registered.
        level = 0
        while True:
            real_terms, imag_terms = (self._register_level(m, en, terms, f"{part}{level}")
                                      for part, terms in (("re", real_terms), ("im", imag_terms)))
            ctrl = stage(f"sum{level}", ctrl)
            level += 1
            if len(real_terms) == 1:
                break
            real_terms, imag_terms = (
                [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                 for k in range(0, len(terms), 2)]
                for terms in (real_terms, imag_terms))

        # Shift taps: the stages of the products, retimed to the two sums.
        for n in range(self._product_latency - product_stages):
            real_terms, imag_terms = (self._register_level(m, en, terms, f"{part}_retimed{n}")
                                      for part, terms in (("re", real_terms), ("im", imag_terms)))
            ctrl = stage(f"retimed{n}", ctrl)

        # Output stage: round (in a register of its own with ``round_stage``),
        # saturate, sticky overflow.
        sums = [shift_right(acc, self._output_shift, self._rounding)
                for acc in (real_terms[0], imag_terms[0])]
        if self._round_stage:
            sums = self._register_level(m, en, sums, "rounded")
            ctrl = stage("rounded", ctrl)
        overs = []
        with m.If(en):
            m.d.sync += [self.o.valid.eq(ctrl["valid"])]
            m.d.sync += [self.o.payload[f].eq(ctrl[f]) for f in flags]
            for part, value in zip(("i", "q"), sums):
                value, part_over = saturate(value, self._output_width)
                m.d.sync += self.o.payload.data[part].eq(value)
                overs.append(part_over)
            with m.If(ctrl["valid"] & (overs[0] | overs[1])):
                m.d.sync += self.overflow.eq(1)
        return m

    def _folded_pairs(self):
        """``(near, far)`` delay-line indices sharing one multiplier input.

        Symmetric taps (``taps[j] == taps[P-1-j]``, as an LFM pulse whose samples
        are symmetric in time gives) fold: ``(j, P-1-j)`` for ``j < P // 2``, and
        ``(P // 2, None)`` for the middle tap of an odd ``P``. Other taps pair
        each index with ``None``.
        """
        count = len(self._taps)
        if self._taps != self._taps[::-1]:
            return [(j, None) for j in range(count)]
        return [(j, count - 1 - j) for j in range(count // 2)] + (
            [(count // 2, None)] if count % 2 else [])

    @staticmethod
    def _register_level(m, en, terms, name):
        """Register each expression of ``terms`` at its natural width, on ``en``."""
        regs = []
        for k, term in enumerate(terms):
            reg = Signal(Value.cast(term).shape(), name=f"{name}_{k}")
            with m.If(en):
                m.d.sync += reg.eq(term)
            regs.append(reg)
        return regs
