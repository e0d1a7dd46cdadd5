"""The design on every board: on-chip echoes -> radar chain -> report link on the UART.

The chain is the range-only one (detections on the link) or, when the board's
scenario has ``[doppler]``, the range-Doppler one (plots on the link).

:class:`BoardCore` is the whole design without clocking and pins, a source of
report-link bytes that simulates like any streaming block;
:class:`BoardTop` adds the board's PLL, the ``sync`` domain, the UART and the pins.
"""

from dataclasses import dataclass

from amaranth import Array, Cat, ClockDomain, Elaboratable, Module, Mux, Signal
from amaranth.lib import io, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..hdl.waveform.echo_source import AMPLITUDE_LAG, EchoSource
from ..hdl.doppler_chain import DopplerChain
from ..hdl.radar_chain import RadarChain
from ..hdl.link.frame_arbiter import FrameArbiter
from ..hdl.link.report_framer import ReportFramer
from ..hdl.track.tracker import Tracker
from ..hdl.link.uart_tx import UartTx
from ..sim.chain import cfar_ports
from ..spec import records
from ..spec.checks import check_integer

__all__ = ["EchoPreset", "STATUS_FLAGS", "BoardCore", "BoardTop"]

#: Bits of :attr:`BoardCore.flags` (the status frame's ``flags`` but the framer's own
#: ``reset``), LSB first.
STATUS_FLAGS = tuple(name for name in records.STATUS_FLAGS if name != "reset")
# the track framer's width parameters -> the track report fields that have them
_TRACK_WIDTHS = {f.width_param: f.name for f in records.TRACK if f.width_param}


@dataclass(frozen=True)
class EchoPreset:
    """What the on-chip echo source plays, in the words of its ports.

    ``pulse`` is the transmitted pulse (complex ints of ``pulse_width`` bits),
    ``tables[n]`` the entries of ``EchoSource.targets`` in preset ``n``
    (:func:`amaradar.sim.models.waveform.echo_source.target_entries`), ``noise_scale`` the noise
    rms in 1/256 LSB.
    """
    pulse: tuple
    pulse_width: int
    tables: tuple
    max_targets: int
    noise_scale: int
    seed: int


class BoardCore(wiring.Component):
    """Echo source, radar chain and report framer: a board's design without clock and pins.

    The echo source plays the tables of ``preset`` into the chain, one ADC sample
    every ``sample_period`` clocks, so that the radar runs in real time at its
    scenario's sample rate (and the report traffic is the scenario's, not the
    clock's). The chain is :class:`~amaradar.hdl.radar_chain.RadarChain`, whose
    detections are framed, or, with ``config.doppler``,
    :class:`~amaradar.hdl.doppler_chain.DopplerChain` (its CFAR configured as
    ``config`` says), whose plots are framed; the status flags are then its flags
    ORed as ``records.DOPPLER_STATUS_FLAGS`` says. The framer is
    :class:`~amaradar.hdl.link.report_framer.ReportFramer` (at most ``cap``
    reports per CPI, a status frame right after reset and after every CPI the
    echo source ends). With ``tracker``, the plots also feed
    :class:`~amaradar.hdl.track.tracker.Tracker`, whose reports a second framer
    frames (no status frames, at most ``tracker.max_tracks`` a CPI, a queue as
    deep); :class:`~amaradar.hdl.link.frame_arbiter.FrameArbiter` puts the two on
    one link, plot frames first (a CPI's track reports follow all its plots).

    Presets: ``button`` is sampled once per CPI, as the CPI's last sample enters
    the echo source (a CPI lasts milliseconds, longer than a switch bounces). When
    it reads pressed after reading released, the next CPI plays the next table
    (after the last, table 0), its Doppler phases counted from that CPI
    (``EchoSource.restart``): a press held over many CPIs is one step, and no CPI
    mixes tables.

    Parameters
    ----------
    config : amaradar.hdl.chain_config.ChainConfig
        The chain.
    preset : EchoPreset
        The echoes.
    sample_rate : int
        ADC samples per second, reported in status frames.
    sample_period : int
        Clocks per ADC sample, at least 1 (the chain takes up to one per clock).
    cap : int
        Most report frames per CPI, at least 1.
    fast_clock : bool
        Spend registers on timing in the echo source (``EchoSource.gain_stage``);
        the chain's own choices are in ``config``.
    tracker : amaradar.hdl.track.tables.TrackerConfig or None
        With a range-Doppler ``config``: track its plots.
    tracker_runtime : dict
        The tracker's run-time ports, by name (``Tracking.runtime()``).

    Members
    -------
    o : Out(stream.Signature(8))
        Report-link bytes (``amaradar.spec.link``). The chain never waits for ``o``:
        when ``o`` is slower than the reports, the framer drops detections and
        counts them (``dropped_full``).
    button : In(1)
        The user button, synchronised to ``sync``; 1 is pressed.
    preset : Out(range(len(preset.tables)))
        The table playing, 0 after reset; the status frame of CPI ``cpi`` carries
        the one that CPI plays.
    flags : Out(5)
        Sticky status flags, bits named by :data:`STATUS_FLAGS`.
    dropped_cap, dropped_full : Out(32)
        The (plot or detection) framer's drop counters.
    tracks_dropped : Out(32)
        With ``tracker``: track reports the track framer dropped (cap or queue);
        0 while the link keeps up (``boards.build.link_budget``), not on the link.

    Latency/throughput
    ------------------
    One ADC sample every ``sample_period`` clocks. The chain never refuses one:
    it takes a sample per clock and its only back-pressure comes from the
    framer, whose ``i.ready`` is constant 1, so the status frames'
    ``dropped_samples`` is 0 by construction (a counter would cost the iCEBreaker
    LCs it does not have). With ``tracker``, the tracker may refuse plots while it
    processes a CPI (at most ``Tracker.worst_case_cycles()`` clocks a CPI); the
    chain, then the echo source, wait: nothing is lost, and the board falls that
    many clocks behind real time. A status frame starts at most one frame after
    the CPI end that requests it.

    Model
    -----
    :func:`amaradar.sim.models.waveform.echo_source.echo_lines` (``switches`` at the CPIs after
    each step) -> :func:`amaradar.sim.chain.reference_chain` ->
    :func:`amaradar.sim.models.link.report_framer.report_framer`, exact while ``o`` keeps up;
    with ``tracker``, the track reports are
    :func:`amaradar.sim.tracking.reference_tracks`' on the model chain's plots.
    """

    def __init__(self, *, config, preset, sample_rate, sample_period, cap, fast_clock=False,
                 tracker=None, tracker_runtime=None):
        check_integer("sample_rate", sample_rate, 1)
        check_integer("sample_period", sample_period, 1)
        check_integer("cap", cap, 1)
        if not isinstance(preset, EchoPreset):
            raise TypeError(f"preset must be an EchoPreset, not {preset!r}")
        if not preset.tables:
            raise ValueError("preset.tables must hold at least one target table, not 0")
        last = config.line_length - AMPLITUDE_LAG - len(preset.pulse)
        for n, table in enumerate(preset.tables if len(preset.tables) > 1 else ()):
            for t, entry in enumerate(table):
                if entry["enable"] and entry["delay"] > last:
                    raise ValueError(
                        f"preset {n} target {t}: delay must be at most {last} (the echo ends "
                        f"{AMPLITUDE_LAG} samples before the line, to switch presets "
                        f"cleanly), not {entry['delay']}")
        self._config = config
        self._preset = preset
        self._sample_rate = sample_rate
        self._sample_period = sample_period
        self._cap = cap
        self._fast_clock = fast_clock
        if tracker is not None and not config.doppler:
            raise ValueError("tracker needs a range-Doppler config (doppler=True)")
        self._tracker = tracker
        self._tracker_runtime = dict(tracker_runtime or {})
        super().__init__({
            "o": Out(stream.Signature(8)),
            "button": In(1),
            "preset": Out(range(len(preset.tables))),
            "flags": Out(len(STATUS_FLAGS)),
            "dropped_cap": Out(32),
            "dropped_full": Out(32),
            **({"tracks_dropped": Out(32)} if tracker is not None else {}),
        })

    def elaborate(self, platform):
        c, p = self._config, self._preset
        m = Module()
        m.submodules.echo = echo = EchoSource(
            pulse=list(p.pulse), pulse_width=p.pulse_width, line_length=c.line_length,
            pulses_per_cpi=c.pulses_per_cpi, max_targets=p.max_targets, width=c.adc_width,
            seed=p.seed, gain_stage=self._fast_clock)
        if c.doppler:
            m.submodules.chain = chain = DopplerChain(c)
            plot = chain.o.payload.plot
            m.submodules.framer = framer = ReportFramer(
                record="plot", range_pos_bits=len(plot.range_pos),
                doppler_pos_bits=len(plot.doppler_pos), power_bits=c.power_width, cap=self._cap)
            # the framer always takes a plot: the tracker (or nothing) sets the pace
            taken = Signal()
            m.d.comb += [framer.i.payload.eq(plot),
                         framer.i.valid.eq(chain.o.valid & taken & ~chain.o.payload.cpi_end),
                         chain.o.ready.eq(taken)]
            if self._tracker is None:
                m.d.comb += taken.eq(1)
                link = framer.o
            else:
                link = self._track(m, chain, taken, framer)
            m.d.comb += [getattr(chain, name).eq(value) for name, value in cfar_ports(c).items()]
            chain_flags = [Cat(*(getattr(chain, source)
                                 for source in records.DOPPLER_STATUS_FLAGS[name])).any()
                           for name in STATUS_FLAGS[:-1]]
        else:
            m.submodules.chain = chain = RadarChain(c)
            m.submodules.framer = framer = ReportFramer(
                range_bits=len(chain.o.payload.range_bin), power_bits=c.power_width, cap=self._cap)
            wiring.connect(m, chain.o, framer.i)
            m.d.comb += chain.scale.eq(c.cfar_scale)
            chain_flags = [getattr(chain, name) for name in STATUS_FLAGS[:-1]]
            link = framer.o
        wiring.connect(m, link, wiring.flipped(self.o))

        # The ADC clock: a sample moves from the echo source into the chain only on
        # a tick, one clock in ``sample_period``.
        tick = Signal(init=self._sample_period == 1)
        if self._sample_period > 1:
            phase = Signal(range(self._sample_period))
            m.d.sync += [phase.eq(Mux(tick, 0, phase + 1)), tick.eq(phase == self._sample_period - 2)]
        m.d.comb += [chain.i.payload.eq(echo.o.payload), chain.i.valid.eq(echo.o.valid & tick),
                     echo.o.ready.eq(chain.i.ready & tick)]

        # The button, read at each CPI boundary of the echo source's input.
        held = Signal()
        press = self.button & ~held
        with m.If(echo.cpi_boundary):
            m.d.sync += held.eq(self.button)
            with m.If(press):
                m.d.sync += self.preset.eq(Mux(self.preset == len(p.tables) - 1, 0,
                                               self.preset + 1))
        # The tables, field by field: a field that all presets agree on is a constant
        # (the iCEBreaker's amplitude word stays a shift, not a multiplier).
        for t, entries in enumerate(zip(*p.tables)):
            for name, values in {name: [e[name] for e in entries] for name in entries[0]}.items():
                m.d.comb += echo.targets[t][name].eq(
                    values[0] if len(set(values)) == 1 else Array(values)[self.preset])

        cpi_done = tick & echo.o.valid & chain.i.ready & echo.o.payload.cpi_end
        cpi = Signal(len(framer.cpi))
        with m.If(cpi_done):
            m.d.sync += cpi.eq(cpi + 1)
        m.d.comb += [
            echo.restart.eq(press),
            echo.noise_scale.eq(p.noise_scale),
            self.flags.eq(Cat(*chain_flags, echo.overflow)),
            framer.heartbeat.eq(cpi_done),
            framer.cpi.eq(cpi),
            framer.flags.eq(self.flags),
            framer.preset.eq(self.preset),
            framer.range_bins.eq(c.line_length),
            framer.pulses.eq(c.pulses_per_cpi),
            framer.sample_rate.eq(self._sample_rate),
            framer.pri.eq(c.line_length),
            framer.pulse_samples.eq(len(c.taps)),
            self.dropped_cap.eq(framer.dropped_cap),
            self.dropped_full.eq(framer.dropped_full),
        ]
        return m


    def _track(self, m, chain, taken, plot_framer):
        """The tracker on the chain's plots (which it takes at ``taken``), its reports
        framed and merged with ``plot_framer``'s frames; returns the merged link."""
        m.submodules.tracker = tracker = Tracker(self._tracker, power_bits=self._config.power_width)
        m.d.comb += [tracker.i.payload.eq(chain.o.payload), tracker.i.valid.eq(chain.o.valid),
                     taken.eq(tracker.i.ready)]
        m.d.comb += [getattr(tracker, name).eq(int(value))
                     for name, value in self._tracker_runtime.items()]
        slots = self._tracker.max_tracks
        track = tracker.o.payload.track
        m.submodules.track_framer = track_framer = ReportFramer(
            record="track", cap=slots, depth=slots, status_frames=False,
            **{name: len(getattr(track, field)) for name, field in _TRACK_WIDTHS.items()})
        m.d.comb += [track_framer.i.payload.eq(track),
                     track_framer.i.valid.eq(tracker.o.valid & ~tracker.o.payload.cpi_end),
                     tracker.o.ready.eq(1),
                     self.tracks_dropped.eq(track_framer.dropped_cap + track_framer.dropped_full)]
        m.submodules.link = link = FrameArbiter(count=2)
        wiring.connect(m, plot_framer.o, link.i[0])
        wiring.connect(m, track_framer.o, link.i[1])
        return link.o


class BoardTop(Elaboratable):
    """:class:`BoardCore` on a board: its clock, the UART ``tx`` pin, button 0 and LEDs.

    Defines the ``sync`` domain, which ``clocking`` drives (the board's PLL and
    reset synchronizer). The report bytes leave on the board's ``uart`` ``tx`` pin
    through :class:`~amaradar.hdl.link.uart_tx.UartTx` at ``baud``; LED 0 lights when a
    sticky overflow flag is set; ``button`` 0 (through a synchronizer) steps the
    echo source's preset, shown in binary on LEDs 1, 2, ... (bit 0 on LED 1).

    Parameters
    ----------
    clocking : Elaboratable
        Drives ``ClockSignal("sync")`` at ``clock_hz`` and ``ResetSignal("sync")``.
    clock_hz : int
        Frequency of ``sync``.
    core : BoardCore
        The design (see ``amaradar.boards.build.board_core``).
    baud : int
        UART bit rate; ``clock_hz / baud`` a whole number of clocks.
    """

    def __init__(self, *, clocking, clock_hz, core, baud):
        check_integer("baud", baud, 1)
        if clock_hz % baud:
            raise ValueError(f"baud must divide the clock of {clock_hz} Hz, not {baud}")
        self._clocking = clocking
        self._clock_hz = clock_hz
        self._baud = baud
        self.core = core

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.clocking = self._clocking
        m.submodules.core = core = self.core
        m.submodules.uart = uart = UartTx(divisor=self._clock_hz // self._baud)
        wiring.connect(m, core.o, uart.i)

        uart_pins = platform.request("uart", 0, dir="-")
        m.submodules.tx_buffer = tx_buffer = io.Buffer("o", uart_pins.tx)
        button = platform.request("button", 0, dir="-")
        m.submodules.button_buffer = button_buffer = io.Buffer("i", button)
        m.submodules.button_sync = FFSynchronizer(button_buffer.i, core.button)
        m.d.comb += tx_buffer.o.eq(uart.tx)
        for n, value in enumerate((core.flags.any(), *core.preset)):
            led = platform.request("led", n, dir="-")
            m.submodules[f"led_buffer_{n}"] = led_buffer = io.Buffer("o", led)
            m.d.comb += led_buffer.o.eq(value)
        return m
