"""Square-law detector: ``i**2 + q**2`` of a framed complex stream."""

from amaranth import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .formats import check_width, complex_layout, framed_layout, power_width
from .numerics import check_rounding, saturate, shift_right

__all__ = ["PowerDetector"]


class PowerDetector(wiring.Component):
    """Power ``|x|**2 = i**2 + q**2`` of each sample, framing flags passed through.

    Parameters
    ----------
    sample_width : int
        Bits per part of the complex input.
    shift : int
        Bits dropped from the exact power, 0 ... ``power_width(sample_width) - 1``
        (default 0: exact).
    rounding : {"half_even", "truncate"}
        How the dropped bits round (default ``"half_even"``).
    output_width : int, optional
        Unsigned output bits; default ``power_width(sample_width) - shift``, the
        exact width, which never saturates.

    Members
    -------
    i : In(stream.Signature(framed_layout(complex_layout(sample_width))))
    o : Out(stream.Signature(framed_layout(unsigned(output_width))))
    overflow : Out(1)
        Sticky: set when an output saturated, cleared only by reset.

    Bit growth
    ----------
    ``i**2`` and ``q**2`` are at most ``2**(2w-2)`` for ``w = sample_width``; their sum
    at most ``2**(2w-1)``: ``power_width(w) = 2w`` unsigned bits, exact.

    Rounding/overflow
    -----------------
    ``shift_right(power, shift, rounding)`` then saturation to
    ``unsigned(output_width)``; saturation sets ``overflow``. The largest power
    ``2**(2w-1)`` shifts exactly, so the default width cannot saturate.

    Latency/throughput
    ------------------
    ``latency = 4``: multiplier inputs, products (registered, DSP-mappable), sum,
    rounded output. One sample per clock; ``i.ready = ~o.valid | o.ready``.

    Model
    -----
    :func:`amaradar.sim.power_detector.power`, bit-exact.
    """

    latency = 4

    def __init__(self, *, sample_width, shift=0, rounding="half_even", output_width=None):
        check_width("sample_width", sample_width)
        exact = power_width(sample_width)
        if not isinstance(shift, int) or isinstance(shift, bool) or not 0 <= shift < exact:
            raise ValueError(f"shift must be an integer from 0 to {exact - 1}, not {shift!r}")
        check_rounding(rounding)
        if output_width is None:
            output_width = exact - shift
        check_width("output_width", output_width)
        self._sample_width = sample_width
        self._shift = shift
        self._rounding = rounding
        self._output_width = output_width
        super().__init__({
            "i": In(stream.Signature(framed_layout(complex_layout(sample_width)))),
            "o": Out(stream.Signature(framed_layout(unsigned(output_width)))),
            "overflow": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]
        framed = framed_layout(complex_layout(self._sample_width))
        # data registers without reset, so that the multiplier blocks can hold them
        operand = Signal(framed, reset_less=True)
        operand_valid = Signal()
        w = self._sample_width
        square_i, square_q = (Signal(unsigned(2 * w - 1), reset_less=True) for _ in range(2))
        total = Signal(unsigned(power_width(w)))
        flags = ("first", "last", "cpi_end")
        pipe = [{key: Signal(name=f"s{n}_{key}") for key in ("valid",) + flags} for n in (1, 2)]
        with m.If(en):
            m.d.sync += [operand.eq(self.i.payload), operand_valid.eq(self.i.valid)]
            m.d.sync += [square_i.eq(operand.data.i * operand.data.i),
                         square_q.eq(operand.data.q * operand.data.q),
                         pipe[0]["valid"].eq(operand_valid)]
            m.d.sync += [pipe[0][f].eq(operand[f]) for f in flags]
            m.d.sync += [total.eq(square_i + square_q)]
            m.d.sync += [pipe[1][key].eq(pipe[0][key]) for key in pipe[0]]
            value, over = saturate(shift_right(total, self._shift, self._rounding),
                                   self._output_width, signed_out=False)
            m.d.sync += [self.o.payload.data.eq(value), self.o.valid.eq(pipe[1]["valid"])]
            m.d.sync += [self.o.payload[f].eq(pipe[1][f]) for f in flags]
            with m.If(pipe[1]["valid"] & over):
                m.d.sync += self.overflow.eq(1)
        return m
