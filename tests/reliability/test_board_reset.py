"""Reset in the middle of a report frame and of a UART byte, on every board's design.

:class:`_ResetLine` is what :class:`~amaradar.boards.top.BoardTop` puts on a board
(the board's clocking -> ``BoardCore`` -> ``UartTx`` -> the ``tx`` pin) with a model
of the PLL instead of the vendor's, and without pins: the PLL locks
``LOCK_CLOCKS`` clocks after power-up, and loses lock once for a few clocks,
``delay`` clocks after the UART took byte ``after`` of the link: inside a frame and
inside that byte's 8N1 character. The reset reaches the design through the board's
own reset synchroniser (:class:`~amaradar.boards.clocking.PllClocking`). It runs in the rtl
engine (Verilator), its ``o`` one sample of ``tx`` per clock; the test decodes the
line as a UART receiver would (start bit, mid-bit samples, stop bit) and the bytes
with :class:`~amaradar.spec.link.Decoder`. After the reset the link must say so
(a status frame with the ``reset`` flag) and carry exactly the reports of the
board started fresh, as the models give them, CPI after CPI (detections, or plots
and the tracker's track reports where the board runs the range-Doppler chain);
before the reset, the frames of the same fresh run, a cut frame at most lost.
"""

import numpy as np
import pytest
from amaranth import ClockDomain, ClockSignal, DomainRenamer, Elaboratable, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from amaradar.boards.build import board_config, board_core, echo_preset, sample_period
from amaradar.boards.registry import board_names, get_board
from amaradar.hdl.link.uart_tx import UartTx
from amaradar.sim.engines.rtl_engine import RtlEngine
from amaradar.spec.link import TYPE_STATUS, Decoder, Detection, Plot, Status, Track, frame_bytes
from amaradar.spec.records import RESET_FLAG
from board_reference import reference_board_tracks, reference_cpis

RESET_CYCLES = 3    # clocks without lock
LOCK_CLOCKS = 20    # clocks from power-up to the first lock
CPIS_AFTER = 2      # CPIs the board runs after the reset


def _report_lag(config):
    """CPIs after its own in which a CPI's reports leave the chain: the range-Doppler
    chain's corner turn reads a CPI while the next one is written."""
    return 1 if config.doppler else 0


class _ModelPll(Elaboratable):
    """A PLL model: ``sync`` runs on ``clock``, ``locked`` follows ``lock``."""

    def __init__(self, clock, lock, locked):
        self.clock, self.lock, self.locked = clock, lock, locked

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [ClockSignal("sync").eq(self.clock), self.locked.eq(self.lock)]
        return m


def _clocking(board_clocking, clock, lock):
    """The board's clocking, its reset synchroniser included, with the model PLL."""
    class Modelled(board_clocking):
        def pll(self, platform, locked):
            return _ModelPll(clock, lock, locked)
    return Modelled()


class _ResetLine(wiring.Component):
    """``core`` into a ``UartTx`` of ``divisor``, clocked and reset by the board's
    ``clocking`` with the model PLL; ``o``: ``tx`` every clock. The PLL locks after
    ``LOCK_CLOCKS`` clocks and loses lock for ``RESET_CYCLES`` clocks, ``delay``
    clocks after the UART took byte number ``after`` (counted from 1), once."""

    def __init__(self, core, divisor, clocking):
        self._core, self._divisor, self._clocking = core, divisor, clocking
        super().__init__({"o": Out(stream.Signature(8)), "after": In(32), "delay": In(32)})

    def elaborate(self, platform):
        m = Module()
        m.domains.board = ClockDomain("board", local=True)
        clock, lock = Signal(), Signal()
        m.submodules.clocking = DomainRenamer("board")(_clocking(self._clocking, clock, lock))
        m.submodules.core = core = DomainRenamer("board")(self._core)
        m.submodules.uart = uart = DomainRenamer("board")(UartTx(divisor=self._divisor))
        wiring.connect(m, core.o, uart.i)
        taken, wait, up = Signal(32), Signal(32), Signal(range(LOCK_CLOCKS + 1))
        armed, fired, hold = Signal(), Signal(), Signal(range(RESET_CYCLES + 1))
        with m.If(up != LOCK_CLOCKS):
            m.d.sync += up.eq(up + 1)
        with m.If(uart.i.valid & uart.i.ready & ~armed):
            m.d.sync += taken.eq(taken + 1)
            with m.If(taken + 1 == self.after):
                m.d.sync += armed.eq(1)
        with m.If(armed & ~fired):
            m.d.sync += wait.eq(wait + 1)
            with m.If(wait == self.delay):
                m.d.sync += [fired.eq(1), hold.eq(RESET_CYCLES)]
        with m.If(hold != 0):
            m.d.sync += hold.eq(hold - 1)
        m.d.comb += [clock.eq(ClockSignal("sync")), lock.eq((up == LOCK_CLOCKS) & (hold == 0)),
                     core.button.eq(0), self.o.valid.eq(1), self.o.payload.eq(uart.tx)]
        return m


def _receive(line, divisor):
    """Bytes of an 8N1 ``line`` (one sample per clock, ``divisor`` clocks per bit), as a
    receiver reads them: a start bit at each falling edge of an idle line, each bit
    sampled in its middle; a character whose stop bit reads 0 is dropped."""
    zeros = np.flatnonzero(line == 0)
    out, at = bytearray(), 0
    while True:
        k = np.searchsorted(zeros, at)
        if k == len(zeros):
            return bytes(out)
        start = zeros[k]
        middles = start + divisor // 2 + divisor * np.arange(10)
        if middles[-1] >= len(line):
            return bytes(out)
        bits = line[middles]
        if bits[0] == 0 and bits[9] == 1:
            out.append(int(np.dot(bits[1:9], 1 << np.arange(8))))
        at = middles[-1]


@pytest.fixture(scope="module", params=board_names())
def board(request):
    board = get_board(request.param)
    config = board_config(board)
    divisor = board.clock_hz // board.uart_baud
    cpi_clocks = config.pulses_per_cpi * config.line_length * sample_period(board)
    engine = RtlEngine(_ResetLine(board_core(board), divisor, board.clocking),
                       name=f"board_reset_{board.name}")
    return board, config, divisor, cpi_clocks, engine


def _expected(board, config, cpis):
    """The fresh board's report frames of ``cpis`` CPIs (the first ``report_cap`` of
    each), its track frames (the model tracker's on those reports) and its status
    frames 0 .. ``cpis`` (``dropped_cap``: the reports of the CPIs before over the
    cap; the targets are far from the line's end, so a CPI's reports have all
    reached the framer when its status frame starts)."""
    reports, flags = reference_cpis(config, echo_preset(board), cpis)
    per_cpi = [[d for d in reports if d.cpi == c] for c in range(cpis)]
    over = np.cumsum([0] + [max(0, len(ds) - board.report_cap) for ds in per_cpi])
    statuses = [Status(cpi=c, flags=flags | (RESET_FLAG if c == 0 else 0), preset=0,
                       dropped_samples=0, dropped_cap=int(over[c]), dropped_full=0,
                       range_bins=config.line_length, pulses=config.pulses_per_cpi,
                       sample_rate=board.clock_hz // sample_period(board),
                       pri=config.line_length, pulse_samples=len(config.taps))
                for c in range(cpis + 1)]
    capped = [d for ds in per_cpi for d in ds[:board.report_cap]]
    return capped, reference_board_tracks(board, capped, cpis), statuses


# (byte the reset follows, bit of its character the reset falls in): inside the
# power-up status frame, inside the first detection frame
@pytest.mark.parametrize("after,bit", [(20, 4), (40, 7)], ids=["status-frame", "detection-frame"])
def test_reset_inside_a_frame_and_a_uart_byte(board, after, bit):
    board, config, divisor, cpi_clocks, engine = board
    run = engine.run(ports={"after": after, "delay": bit * divisor + divisor // 3},
                     max_cycles=(2 * (CPIS_AFTER + _report_lag(config)) + 1) * cpi_clocks // 2)
    decoder = Decoder()
    messages = decoder.feed(_receive(run.outputs[:, 0], divisor))
    resets = [n for n, msg in enumerate(messages)
              if isinstance(msg, Status) and msg.flags & RESET_FLAG]
    # power-up and the reset are each told by one status frame, unless the reset cut
    # the power-up one
    assert len(resets) == (1 if after <= frame_bytes(TYPE_STATUS) else 2)
    before, fresh = messages[:resets[-1]], messages[resets[-1]:]
    reports, tracks, statuses = _expected(board, config, CPIS_AFTER + 1)
    # before the reset: the first frames of the same fresh run; the reset cut one frame
    assert before == fresh[:len(before)]
    assert decoder.resync_bytes <= frame_bytes(TYPE_STATUS)
    # after it: the board started afresh, CPI after CPI, nothing else
    got = [m for m in fresh if isinstance(m, Status)]
    assert got == statuses[:len(got)] and len(got) >= CPIS_AFTER + 1
    report = Plot if config.doppler else Detection
    assert {type(m) for m in fresh} <= {Status, report, Track}
    got = [m for m in fresh if isinstance(m, report)]
    assert got == reports[:len(got)]
    assert len(got) >= sum(d.cpi < CPIS_AFTER for d in reports) > 0
    got = [m for m in fresh if isinstance(m, Track)]
    assert got == tracks[:len(got)]
    assert len(got) >= sum(t.cpi < CPIS_AFTER for t in tracks)
    assert board.parsed.tracker is None or any(t.cpi == CPIS_AFTER - 1 for t in got)
