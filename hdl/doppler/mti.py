"""Moving-target indication: two- and three-pulse cancellers along slow time."""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..formats import complex_layout, framed_layout
from ...spec.checks import check_integer

__all__ = ["MtiCanceller", "MTI_TAPS", "check_mti_mode"]

MTI_TAPS = {"two_pulse": (1, -1), "three_pulse": (1, -2, 1)}
"""Canceller taps by mode: ``y[m] = sum_k h[k] * x[m - k]``, binomial (``(1 - z^-1)^K``)."""


def check_mti_mode(mode):
    """Return the taps of ``mode``; ``ValueError`` unless it is a key of :data:`MTI_TAPS`."""
    if not isinstance(mode, str) or mode not in MTI_TAPS:
        raise ValueError(f"mode must be one of {tuple(MTI_TAPS)}, not {mode!r}")
    return MTI_TAPS[mode]


class MtiCanceller(wiring.Component):
    """Pulse canceller along each slow-time line: one complex sample per clock, exact.

    Each slow-time line (the ``M`` pulses of one range bin, as the corner turn
    sends them) is filtered by the binomial canceller of ``mode``::

        two_pulse:   y[m] = x[m] - x[m-1]                  H(z) = 1 - z^-1
        three_pulse: y[m] = x[m] - 2 x[m-1] + x[m-2]       H(z) = (1 - z^-1)^2

    with ``m`` counted from the line's first sample. The filter never reaches
    into the previous line: the outputs that would need a sample before the line
    (``m < 1``, resp. ``m < 2``, the transient) are 0, so every line keeps its
    length and its ``M`` samples, and a line of one (resp. two) samples comes out
    all zeros. Lines may have any length, and differ.

    Parameters
    ----------
    width : int
        Bits per part of the input samples (signed), ``>= 1``.
    mode : {"two_pulse", "three_pulse"}
        The canceller (default ``"two_pulse"``).

    Members
    -------
    i : In(stream.Signature(framed_layout(complex_layout(width))))
        Slow-time lines. A line starts at a sample with ``first`` set, at the
        sample after one with ``last`` set, and at the first sample after reset.
    o : Out(stream.Signature(framed_layout(complex_layout(output_width))))
        The filtered lines, sample for sample; ``first``, ``last`` and
        ``cpi_end`` pass through unchanged with their sample.

    Attributes
    ----------
    taps : tuple of int
        ``MTI_TAPS[mode]``.
    order : int
        ``K``: 1 (two-pulse) or 2 (three-pulse), the samples each output looks back.
    output_width : int
        ``width + 1`` (two-pulse) or ``width + 2`` (three-pulse).
    latency : int
        1: cycles from an input transfer to its output being offered.

    Bit growth
    ----------
    The taps of order ``K`` (1 or 2) have positive and negative parts each summing
    to ``2**(K-1)``, so an output part lies within
    ``±(2**(width+K-1) - 2**(K-1))``: ``signed(width + K)`` holds it exactly.

    Rounding/overflow
    -----------------
    None: no bit is dropped and nothing saturates.

    Latency/throughput
    ------------------
    One sample per clock; the sum goes into the output register (one stage).
    ``i.ready`` is ``~o.valid | o.ready``. State: ``K`` previous samples and a
    count of the line's samples, no memory.

    Model
    -----
    :func:`amaradar.sim.models.doppler.mti.mti` (bit-exact, which is also the
    ideal filter: the arithmetic is exact).
    """

    def __init__(self, *, width, mode="two_pulse"):
        check_integer("width", width, 1)
        self.taps = check_mti_mode(mode)
        self.width = width
        self.mode = mode
        self.order = len(self.taps) - 1
        self.output_width = width + self.order
        self.latency = 1
        super().__init__({
            "i": In(stream.Signature(framed_layout(complex_layout(width)))),
            "o": Out(stream.Signature(framed_layout(complex_layout(self.output_width)))),
        })

    def elaborate(self, platform):
        m = Module()
        order = self.order
        sample = self.i.payload

        en = ~self.o.valid | self.o.ready          # the one enable: output free or taken
        take = self.i.valid & en
        m.d.comb += self.i.ready.eq(en)

        # history[k] = x[m-1-k] of the current line; ``seen`` counts the line's
        # samples before this one, saturating at ``order`` (then the history is full).
        history = [Signal(complex_layout(self.width), name=f"history{k}") for k in range(order)]
        count = Signal(range(order + 1))
        line_done = Signal(init=1)
        start = sample.first | line_done
        seen = Mux(start, 0, count)
        with m.If(take):
            m.d.sync += [history[0].eq(sample.data), line_done.eq(sample.last)]
            m.d.sync += [history[k].eq(history[k - 1]) for k in range(1, order)]
            m.d.sync += count.eq(Mux(seen == order, order, seen + 1))

        terms = [sample.data, *history]
        full = seen == order
        with m.If(en):
            m.d.sync += [
                self.o.valid.eq(self.i.valid),
                self.o.payload.first.eq(sample.first),
                self.o.payload.last.eq(sample.last),
                self.o.payload.cpi_end.eq(sample.cpi_end),
            ]
            for part in ("i", "q"):
                total = sum(tap * getattr(term, part) for tap, term in zip(self.taps, terms))
                m.d.sync += getattr(self.o.payload.data, part).eq(Mux(full, total, 0))
        return m
