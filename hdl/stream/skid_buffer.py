"""A two-entry stream register that cuts every combinational path between its ports."""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """Registered ``valid``/``payload`` forward and registered ``ready`` backward.

    Placed between two blocks it breaks the ready chain that otherwise runs
    combinationally through a pipeline of blocks, at full throughput.

    Parameters
    ----------
    shape : shape-like
        Payload shape.

    Members
    -------
    i : In(stream.Signature(shape))
    o : Out(stream.Signature(shape))

    Latency/throughput
    ------------------
    One cycle, one sample per clock.
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})
        self._shape = shape

    def elaborate(self, platform):
        m = Module()
        spare = Signal.like(self.i.payload)
        spare_full = Signal()
        m.d.comb += self.i.ready.eq(~spare_full)
        with m.If(~self.o.valid | self.o.ready):
            with m.If(spare_full):
                m.d.sync += [self.o.payload.eq(spare), self.o.valid.eq(1), spare_full.eq(0)]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & ~spare_full):
            m.d.sync += [spare.eq(self.i.payload), spare_full.eq(1)]
        return m
