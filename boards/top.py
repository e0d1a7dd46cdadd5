"""The design on every board: on-chip echoes -> radar chain -> report link on the UART."""

from dataclasses import dataclass

from amaranth import Cat, Elaboratable, Module, Signal
from amaranth.lib import io, wiring

from ..hdl.echo_source import EchoSource
from ..hdl.radar_chain import RadarChain
from ..hdl.report_framer import ReportFramer
from ..hdl.uart_tx import UartTx

__all__ = ["EchoPreset", "BoardTop"]


@dataclass(frozen=True)
class EchoPreset:
    """What the on-chip echo source plays, in the words of its ports.

    ``pulse`` is the transmitted pulse (complex ints of ``pulse_width`` bits),
    ``targets`` the entries of ``EchoSource.targets``
    (:func:`amaradar.sim.echo_source.target_entries`), ``noise_scale`` the noise
    rms in 1/256 LSB.
    """
    pulse: tuple
    pulse_width: int
    targets: tuple
    max_targets: int
    noise_scale: int
    seed: int


class BoardTop(Elaboratable):
    """Echo source, radar chain and report link of one board.

    The echo source plays ``preset`` for ever, one ADC sample per clock, into
    :class:`~amaradar.hdl.radar_chain.RadarChain`; its detections are framed by
    :class:`~amaradar.hdl.report_framer.ReportFramer` (at most ``cap`` per CPI,
    a status frame after every CPI) and sent by
    :class:`~amaradar.hdl.uart_tx.UartTx` at ``baud`` on the board's ``uart``
    ``tx`` pin. LED 0 lights when a sticky overflow flag of the chain or the
    echo source is set.

    Parameters
    ----------
    clocking : Elaboratable
        Makes the ``sync`` domain at ``clock_hz`` (the board's PLL and reset).
    clock_hz : int
        Frequency of ``sync``.
    config : amaradar.sim.chain.ChainConfig
        The chain.
    preset : EchoPreset
        The echoes.
    baud : int
        UART bit rate.
    cap : int
        Most detection frames per CPI.
    """

    def __init__(self, *, clocking, clock_hz, config, preset, baud, cap):
        self._clocking = clocking
        self._clock_hz = clock_hz
        self._config = config
        self._preset = preset
        self._baud = baud
        self._cap = cap

    def elaborate(self, platform):
        c, p = self._config, self._preset
        m = Module()
        m.submodules.clocking = self._clocking
        m.submodules.echo = echo = EchoSource(
            pulse=list(p.pulse), pulse_width=p.pulse_width, line_length=c.line_length,
            pulses_per_cpi=c.pulses_per_cpi, max_targets=p.max_targets, width=c.adc_width,
            seed=p.seed)
        m.submodules.chain = chain = RadarChain(c)
        m.submodules.framer = framer = ReportFramer(
            range_bits=len(chain.o.payload.range_bin), power_bits=c.power_width, cap=self._cap)
        m.submodules.uart = uart = UartTx(divisor=round(self._clock_hz / self._baud))
        wiring.connect(m, echo.o, chain.i)
        wiring.connect(m, chain.o, framer.i)
        wiring.connect(m, framer.o, uart.i)

        cpi_done = echo.o.valid & chain.i.ready & echo.o.payload.cpi_end
        cpi = Signal(len(framer.cpi))
        with m.If(cpi_done):
            m.d.sync += cpi.eq(cpi + 1)
        flags = Cat(chain.mf_overflow, chain.power_overflow, chain.line_too_long,
                    chain.pulse_overflow, echo.overflow)
        m.d.comb += [
            echo.targets.eq(echo.targets.shape().const(list(p.targets))),
            echo.noise_scale.eq(p.noise_scale),
            chain.scale.eq(c.cfar_scale),
            framer.heartbeat.eq(cpi_done),
            framer.cpi.eq(cpi),
            framer.flags.eq(flags),
            framer.range_bins.eq(c.line_length),
            framer.pulses.eq(c.pulses_per_cpi),
            framer.sample_rate.eq(self._clock_hz),
            framer.pri.eq(c.line_length),
        ]

        uart_pins = platform.request("uart", 0, dir={"tx": "-", "rx": "-"})
        m.submodules.tx_buffer = tx_buffer = io.Buffer("o", uart_pins.tx)
        led = platform.request("led", 0, dir="-")
        m.submodules.led_buffer = led_buffer = io.Buffer("o", led)
        m.d.comb += [tx_buffer.o.eq(uart.tx), led_buffer.o.eq(flags.any())]
        return m
