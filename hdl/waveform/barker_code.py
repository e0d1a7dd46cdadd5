"""Barker-13 bi-phase coded pulse generator."""

from amaranth import Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Out

from ..formats import ADC_WIDTH, complex_layout, framed_layout
from .sine_table import WIDTH_RANGE, amplitude
from ...spec.checks import check_integer

__all__ = ["BARKER13", "BarkerCode"]

#: The length-13 Barker code, chip 0 first: + + + + + - - + + - + - +.
BARKER13 = (1, 1, 1, 1, 1, -1, -1, 1, 1, -1, 1, -1, 1)


class BarkerCode(wiring.Component):
    """Barker-13 phase-coded pulses, back to back, one sample per clock.

    Each pulse is the 13 chips of :data:`BARKER13`, each held for ``chip_samples``
    samples: ``data.i = chip * amplitude``, ``data.q = 0``.

    Parameters
    ----------
    chip_samples : int
        Samples per chip, >= 1; a pulse is ``13 * chip_samples`` samples.
    width : int
        Bits per I and Q of the output, 2 ... 32 (default ``formats.ADC_WIDTH``).

    Members
    -------
    o : Out(stream.Signature(framed_layout(complex_layout(width))))
        The pulses; ``first`` on sample 0 and ``last`` on sample ``13*chip_samples - 1``
        of every pulse, ``cpi_end`` always 0.

    Bit growth
    ----------
    None: ``amplitude = 2**(width-1) - 1`` (full scale minus one LSB, symmetric).

    Rounding/overflow
    -----------------
    None: the output takes only the values ``+amplitude``, ``-amplitude`` and 0.

    Latency/throughput
    ------------------
    ``o.valid`` rises 1 cycle after reset and stays high; one sample per clock while
    ``o.ready`` is high; the generator holds while ``o.ready`` is low.

    Model
    -----
    :func:`amaradar.sim.models.waveform.barker_code.barker13` (bit-exact, one pulse).
    """

    def __init__(self, *, chip_samples, width=ADC_WIDTH):
        self.chip_samples = check_integer("chip_samples", chip_samples, 1)
        self.width = check_integer("width", width, *WIDTH_RANGE)
        super().__init__({"o": Out(stream.Signature(framed_layout(complex_layout(self.width))))})

    def elaborate(self, platform):
        m = Module()
        en = Signal()
        m.d.comb += en.eq(~self.o.valid | self.o.ready)

        chip = Signal(range(len(BARKER13)))
        within = Signal(range(self.chip_samples))
        negative = Const(sum(1 << k for k, c in enumerate(BARKER13) if c < 0), len(BARKER13))
        peak = amplitude(self.width)
        chip_end = within == self.chip_samples - 1
        pulse_end = chip_end & (chip == len(BARKER13) - 1)
        with m.If(en):
            m.d.sync += [
                self.o.payload.data.i.eq(Mux(negative.bit_select(chip, 1), -peak, peak)),
                self.o.payload.first.eq((chip == 0) & (within == 0)),
                self.o.payload.last.eq(pulse_end),
                self.o.valid.eq(1),
                within.eq(Mux(chip_end, 0, within + 1)),
            ]
            with m.If(pulse_end):
                m.d.sync += chip.eq(0)
            with m.Elif(chip_end):
                m.d.sync += chip.eq(chip + 1)
        return m
