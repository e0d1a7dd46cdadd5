"""Formal proof of the UART transmitter: every accepted byte leaves as one 8N1 frame.

``UartTx`` has no output stream (its output is the serial line), so the stream
harness does not apply; this harness assumes the input contract and checks the
line against the frame of the last accepted byte, bit by bit: nothing is lost,
sent twice or invented, and the line idles high.
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.hdl import Assert, Assume, Cover, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from amaradar.hdl.link.uart_tx import UartTx
from amaradar.sim.engines.formal import prove


class _UartFrames(wiring.Component):
    """``UartTx`` with free bytes in and the expected line checked; ``broken``
    expects a stop bit of 0 (a control that must fail)."""

    def __init__(self, *, divisor, broken=False):
        self._divisor, self._broken = divisor, broken
        super().__init__({"valid": In(1), "byte": In(8)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart = uart = UartTx(divisor=self._divisor)
        m.d.comb += [uart.i.valid.eq(self.valid), uart.i.payload.eq(self.byte)]
        stall, held = Signal(), Signal(8)
        m.d.sync += [stall.eq(uart.i.valid & ~uart.i.ready), held.eq(uart.i.payload)]
        m.d.comb += [Assume(~ResetSignal()),
                     Assume(~stall | (uart.i.valid & (uart.i.payload == held)))]

        # The expected line: after a byte is accepted, from the next clock on, the
        # start bit, the 8 data bits LSB first and the stop bit, `divisor` clocks each.
        frame = Signal(10, init=0x3ff)
        bits = Signal(range(11))
        timer = Signal(range(self._divisor))
        m.d.comb += Assert(uart.tx == Mux(bits == 0, 1, frame[0]))
        with m.If(bits != 0):
            m.d.sync += timer.eq(Mux(timer == self._divisor - 1, 0, timer + 1))
            with m.If(timer == self._divisor - 1):
                m.d.sync += [frame.eq(frame >> 1), bits.eq(bits - 1)]
        accepted = uart.i.valid & uart.i.ready
        with m.If(accepted):
            stop = Const(0 if self._broken else 1, 1)
            m.d.sync += [frame.eq(Cat(Const(0, 1), uart.i.payload, stop)), bits.eq(10),
                         timer.eq(0)]
        sent = Signal(2)
        with m.If(accepted & (sent != 3)):
            m.d.sync += sent.eq(sent + 1)
        m.d.comb += Cover(sent == 2)
        return m


def test_uart_sends_every_byte_as_one_frame(tmp_path):
    # the idle character after reset (20 clocks), then frames of 20 clocks: the depth
    # sees a whole frame, the cover two
    result = prove(_UartFrames(divisor=2), mode="bmc", depth=48, cover_depth=64,
                   workdir=tmp_path)
    assert result.status == "PASS", (result.failed, result.log[-2000:])
    assert result.counts == {"assume": 2, "assert": 1, "cover": 1}


def test_uart_check_fails_on_a_wrong_stop_bit(tmp_path):
    result = prove(_UartFrames(divisor=2, broken=True), mode="bmc", depth=48, workdir=tmp_path)
    assert result.status == "FAIL"
