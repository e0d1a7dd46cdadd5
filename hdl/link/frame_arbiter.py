"""Merges several framed byte streams into one link, a whole frame at a time."""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...spec.checks import check_integer

__all__ = ["FrameArbiter"]


class FrameArbiter(wiring.Component):
    """Passes the frames of ``count`` byte streams to one output, never mixing two frames.

    Each input must hold ``valid`` from the first byte of a frame to its last and
    drop it for at least one clock between frames, as
    :class:`~amaradar.hdl.link.report_framer.ReportFramer` does. When the output is
    free, the lowest-numbered input with ``valid`` high is granted; it keeps the
    output until its ``valid`` falls (the end of its frame). The others wait, their
    frames whole.

    Parameters
    ----------
    count : int
        Inputs, at least 2.

    Members
    -------
    i : In(stream.Signature(8)).array(count)
        Frame bytes; ``i[0]`` goes first when several frames wait.
    o : Out(stream.Signature(8))
        The frames, one after the other.

    Latency/throughput
    ------------------
    Combinational: a byte passes in the clock it is offered. Between two frames the
    output is idle for at least two clocks (one more than the inputs' gap).
    """

    def __init__(self, *, count):
        check_integer("count", count, 2)
        super().__init__({"i": In(stream.Signature(8)).array(count),
                          "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        busy = Signal()                         # the granted input was sending last clock
        granted = Signal(range(len(self.i)))
        first_waiting = Signal.like(granted)
        for k in reversed(range(len(self.i))):
            with m.If(self.i[k].valid):
                m.d.comb += first_waiting.eq(k)
        current = Signal.like(granted)
        m.d.comb += current.eq(Mux(busy, granted, first_waiting))
        for k, source in enumerate(self.i):
            with m.If(current == k):
                m.d.comb += [self.o.payload.eq(source.payload), self.o.valid.eq(source.valid),
                             source.ready.eq(self.o.ready)]
        m.d.sync += [busy.eq(self.o.valid), granted.eq(current)]
        return m
