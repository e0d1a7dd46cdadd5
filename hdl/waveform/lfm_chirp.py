"""Linear-FM chirp generator: a phase-accumulator NCO with a quarter-wave sine table."""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import Out

from ..formats import ADC_WIDTH, complex_layout, framed_layout
from .sine_table import (MAX_PHASE_BITS, TABLE_BITS_RANGE, WIDTH_RANGE, check_frequency,
                         chirp_words, quarter_sine_table)
from ...spec.checks import check_integer

__all__ = ["LfmChirp"]


class LfmChirp(wiring.Component):
    """Complex baseband LFM pulses, back to back, one sample per clock.

    Sample ``n`` of every pulse is ``amplitude * exp(2j*pi*phase[n])`` with the
    accumulator phase ``phase[n] = (n*F + K*n*(n-1)/2) / 2**phase_bits`` cycles, so the
    instantaneous frequency sweeps linearly from ``start_freq`` at sample 0 to
    ``stop_freq`` at sample ``samples - 1`` (cycles per sample); the phase restarts at 0 at every pulse, so all
    pulses are identical. ``start_freq > stop_freq`` gives a down-chirp, equal values a
    constant tone.

    Parameters
    ----------
    samples : int
        Samples per pulse, >= 2.
    start_freq, stop_freq : float
        Instantaneous frequency at the first and the last sample of the pulse, in
        cycles per sample (fractions of the sample rate), each in [-0.5, 0.5]. The
        bandwidth is ``|stop_freq - start_freq| * samples / (samples - 1)``;
        :func:`amaradar.hdl.waveform.sine_table.centred_chirp` picks the pair that makes the
        pulse exactly symmetric in time.
    width : int
        Bits per I and Q of the output, 2 ... 32 (default ``formats.ADC_WIDTH``: the
        pulse can stand in for the ADC samples at the chain input).
    phase_bits : int
        Phase-accumulator bits, ``table_bits + 2`` ... 64 (default 32).
    table_bits : int
        Address bits of the quarter-wave table, 1 ... 16 (default 10: 1024 entries of
        ``width - 1`` bits; 4096 phase points per cycle).

    Members
    -------
    o : Out(stream.Signature(framed_layout(complex_layout(width))))
        The pulses: ``data.i`` the cosine, ``data.q`` the sine; ``first`` on sample 0
        and ``last`` on sample ``samples - 1`` of every pulse, ``cpi_end`` always 0.

    Bit growth
    ----------
    None: the output is ``width`` bits, its peak ``amplitude = 2**(width-1) - 1``
    (full scale minus one LSB, so ``-amplitude`` is symmetric and nothing saturates).

    Rounding/overflow
    -----------------
    The frequency word ``F = round_half_even((start_freq + rate/2) * 2**phase_bits)``
    and the rate word ``K = round_half_even(rate * 2**phase_bits)``, with
    ``rate = (stop_freq - start_freq) / (samples - 1)``, are quantised at elaboration
    (:func:`amaradar.hdl.waveform.sine_table.chirp_words`). Phase and frequency accumulate modulo
    ``2**phase_bits``: a turn of phase is the same phase, so this wrap is the NCO's
    arithmetic, not an overflow. Phase to amplitude: the top 2 phase bits pick the
    quadrant, the next ``table_bits`` bits the table address, the rest are truncated;
    the table holds the sine at the middle of each address bin, rounded half to even
    (:mod:`amaradar.hdl.waveform.sine_table`), so the quadrants mirror it exactly and the
    looked-up phase is within half a bin, ``2**-(table_bits + 3)`` cycles, of the
    accumulator phase. The rounded words put the accumulator phase of sample ``n``
    within ``(n/2 + n*(n-1)/4) * 2**-phase_bits`` cycles of the ideal chirp's, so per
    component the output differs from the ideal ``amplitude * exp(2j*pi*ideal[n])`` by
    at most ``0.5 + 2*pi*amplitude*(2**-(table_bits+3) + (n/2 + n*(n-1)/4) *
    2**-phase_bits)`` LSB (long pulses want more ``phase_bits``: at 4096 samples and 32
    bits the word term reaches 1e-3 cycles). For a constant tone with an odd frequency
    word, the largest spur of the phase truncation is ``2**-(table_bits + 2)`` of the
    carrier, ``-6.02*(table_bits + 2)`` dBc (-72 dBc at the default). Nothing can
    overflow, so there is no status flag.

    Latency/throughput
    ------------------
    ``o.valid`` rises 2 cycles after reset (accumulator, then table read, then output
    register) and stays high; one sample per clock while ``o.ready`` is high. While
    ``o.ready`` is low the whole pipeline holds (``en = ~o.valid | o.ready``).

    Resources: one ``Memory`` of ``2**table_bits`` x ``(width - 1)`` bits with two
    synchronous read ports (cosine and sine), read as a ROM; no multiplier.

    Model
    -----
    :func:`amaradar.sim.models.waveform.lfm_chirp.lfm_chirp` (bit-exact, one pulse);
    :func:`amaradar.sim.models.waveform.lfm_chirp.lfm_chirp_ideal` (float, unit amplitude).
    """

    def __init__(self, *, samples, start_freq, stop_freq, width=ADC_WIDTH, phase_bits=32,
                 table_bits=10):
        self.samples = check_integer("samples", samples, 2)
        self.start_freq = check_frequency("start_freq", start_freq)
        self.stop_freq = check_frequency("stop_freq", stop_freq)
        self.width = check_integer("width", width, *WIDTH_RANGE)
        self.table_bits = check_integer("table_bits", table_bits, *TABLE_BITS_RANGE)
        self.phase_bits = check_integer("phase_bits", phase_bits, self.table_bits + 2,
                                        MAX_PHASE_BITS)
        self.freq_word, self.rate_word = chirp_words(
            samples=self.samples, start_freq=self.start_freq, stop_freq=self.stop_freq,
            phase_bits=self.phase_bits)
        super().__init__({"o": Out(stream.Signature(framed_layout(complex_layout(self.width))))})

    def elaborate(self, platform):
        m = Module()
        n_bits, t_bits = self.phase_bits, self.table_bits
        en = Signal()
        m.d.comb += en.eq(~self.o.valid | self.o.ready)

        # Stage 0: sample counter and phase/frequency accumulators of sample `index`.
        index = Signal(range(self.samples))
        phase = Signal(n_bits)
        freq = Signal(n_bits, init=self.freq_word)
        with m.If(en):
            with m.If(index == self.samples - 1):
                m.d.sync += [index.eq(0), phase.eq(0), freq.eq(self.freq_word)]
            with m.Else():
                m.d.sync += [index.eq(index + 1), phase.eq(phase + freq),
                             freq.eq(freq + self.rate_word)]

        # Stage 1: quarter-table reads; the quadrant's signs travel beside them.
        quadrant = phase[n_bits - 2:]
        address = phase[n_bits - 2 - t_bits:n_bits - 2]
        m.submodules.table = table = Memory(
            shape=unsigned(self.width - 1), depth=1 << t_bits,
            init=quarter_sine_table(table_bits=t_bits, width=self.width))
        cos_port = table.read_port()
        sin_port = table.read_port()
        m.d.comb += [
            cos_port.en.eq(en), sin_port.en.eq(en),
            cos_port.addr.eq(Mux(quadrant[0], address, ~address)),
            sin_port.addr.eq(Mux(quadrant[0], ~address, address)),
        ]
        cos_neg = Signal()
        sin_neg = Signal()
        first = Signal()
        last = Signal()
        loaded = Signal()
        with m.If(en):
            m.d.sync += [
                cos_neg.eq(quadrant[0] ^ quadrant[1]), sin_neg.eq(quadrant[1]),
                first.eq(index == 0), last.eq(index == self.samples - 1), loaded.eq(1),
            ]

        # Stage 2: signed output register.
        with m.If(en):
            m.d.sync += [
                self.o.payload.data.i.eq(Mux(cos_neg, -cos_port.data, cos_port.data)),
                self.o.payload.data.q.eq(Mux(sin_neg, -sin_port.data, sin_port.data)),
                self.o.payload.first.eq(first),
                self.o.payload.last.eq(last),
                self.o.valid.eq(loaded),
            ]
        return m
