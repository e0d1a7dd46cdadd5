"""8N1 UART transmitter fed by a byte stream."""

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from ...spec.checks import check_integer

__all__ = ["UartTx"]


class UartTx(wiring.Component):
    """Sends each byte of ``i`` on ``tx`` as 8N1: a start bit, 8 data bits LSB first, a stop bit.

    Parameters
    ----------
    divisor : int
        Clocks per bit: clock frequency / baud rate, rounded to an integer by the
        caller; at least 1.

    Members
    -------
    i : In(stream.Signature(8))
        Bytes to send.
    tx : Out(1, init=1)
        Serial line, idle high; a register output (no glitches).

    Bit growth
    ----------
    None.

    Rounding/overflow
    -----------------
    None. The baud rate error is that of the integer ``divisor``.

    Latency/throughput
    ------------------
    The start bit begins one clock after a byte is accepted. Every bit lasts
    exactly ``divisor`` clocks; back-to-back bytes take ``10 * divisor`` clocks
    each (``i.ready`` rises in the last clock of a stop bit).

    Reset: the line idles (high) for one character, ``10 * divisor`` clocks, before
    the first byte, so that a receiver that saw a character cut by a reset has
    finished reading it (as a garbled byte) before the next start bit; without
    this pause it would take that start bit for a data bit and lose the bytes
    that follow.

    Model
    -----
    The 8N1 frame itself; tests decode ``tx`` back to bytes.
    """

    def __init__(self, *, divisor):
        check_integer("divisor", divisor, 1)
        self._divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        # Out of reset: ``busy`` sending a character of ten idle bits.
        busy = Signal(init=1)
        bits = Signal(9, init=0x1FF)        # data bits still to send, then the stop bit
        left = Signal(range(10), init=9)    # bits of ``bits`` still to send
        timer = Signal(range(self._divisor), init=self._divisor - 1)
        bit_done = timer == 0
        m.d.comb += self.i.ready.eq(~busy | (bit_done & (left == 0)))
        with m.If(busy):
            with m.If(bit_done & (left == 0)):
                m.d.sync += busy.eq(0)
            with m.Elif(bit_done):
                m.d.sync += [timer.eq(self._divisor - 1), left.eq(left - 1),
                             self.tx.eq(bits[0]), bits.eq(bits >> 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [busy.eq(1), self.tx.eq(0), bits.eq(Cat(self.i.payload, 1)),
                         left.eq(9), timer.eq(self._divisor - 1)]
        return m
