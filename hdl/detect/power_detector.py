"""Square-law detector: ``i**2 + q**2`` of a framed complex stream."""

from amaranth import Cat, Module, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..formats import complex_layout, framed_layout, power_width
from ..numerics import check_rounding, saturate, shift_right
from ..stream.pipeline import delay, multiply, product_latency
from ...spec.checks import check_integer, check_width

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
    ``latency = d + 2``: the squares in ``d = pipeline.product_latency`` stages (2
    up to 18-bit samples: operand and product registers of one multiplier block
    each), the sum, the rounded output. One sample per clock;
    ``i.ready = ~o.valid | o.ready``.

    Model
    -----
    :func:`amaradar.sim.models.detect.power_detector.power`, bit-exact.
    """

    def __init__(self, *, sample_width, shift=0, rounding="half_even", output_width=None):
        check_width("sample_width", sample_width)
        exact = power_width(sample_width)
        check_integer("shift", shift, 0, exact - 1)
        check_rounding(rounding)
        if output_width is None:
            output_width = exact - shift
        check_width("output_width", output_width)
        self._sample_width = sample_width
        self._shift = shift
        self._rounding = rounding
        self._output_width = output_width
        self.latency = product_latency(signed(sample_width), signed(sample_width)) + 2
        super().__init__({
            "i": In(stream.Signature(framed_layout(complex_layout(sample_width)))),
            "o": Out(stream.Signature(framed_layout(unsigned(output_width)))),
            "overflow": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]
        w = self._sample_width
        # the squares, each a multiplier between its operand and product registers;
        # beside them the valid bit and the flags; then the sum and the output
        squares = [multiply(m, en, part, part, f"square_{name}")
                   for name, part in (("i", self.i.payload.data.i), ("q", self.i.payload.data.q))]
        (square_i, stages), (square_q, _) = squares
        total = Signal(unsigned(power_width(w)))
        valid, first, last, cpi_end = delay(
            m, en, Cat(self.i.valid, self.i.payload.first, self.i.payload.last,
                       self.i.payload.cpi_end), stages + 1, "flags", reset_less=False)
        with m.If(en):
            # all bits of the products (the top ones are 0), so that each product
            # register moves into its SB_MAC16 on the iCE40
            m.d.sync += total.eq(square_i + square_q)
            value, over = saturate(shift_right(total, self._shift, self._rounding),
                                   self._output_width, signed_out=False)
            m.d.sync += [self.o.payload.data.eq(value), self.o.valid.eq(valid),
                         self.o.payload.first.eq(first), self.o.payload.last.eq(last),
                         self.o.payload.cpi_end.eq(cpi_end)]
            with m.If(valid & over):
                m.d.sync += self.overflow.eq(1)
        return m
