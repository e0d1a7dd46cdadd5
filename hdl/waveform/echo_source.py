"""On-chip echo source: range lines of point-target echoes plus receiver noise, as an ADC."""

from math import cos, pi, sin

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..formats import ADC_WIDTH, complex_layout, framed_layout
from .gaussian_noise import NOISE_SCALE_WIDTH, GaussianNoise, check_seed
from ..numerics import saturate, shift_right
from ..stream.pipeline import delay, multiply, product_latency
from .sine_table import WIDTH_RANGE
from ...spec.checks import check_integer

__all__ = [
    "AMPLITUDE_WIDTH", "PHASE_WIDTH", "PHASE_TABLE_BITS", "ROTATOR_WIDTH", "AMPLITUDE_LAG",
    "target_layout", "phase_table", "check_echo_parameters", "EchoSource",
]

AMPLITUDE_WIDTH = 16    # target amplitude, unsigned UQ0.16: amplitude / 2**16
PHASE_WIDTH = 16        # phases and Doppler increments: turns * 2**16
PHASE_TABLE_BITS = 8    # the top 8 phase bits address the (cos, sin) table
ROTATOR_WIDTH = 16      # table entries and rotated gains, signed Q1.15
AMPLITUDE_LAG = 2       # samples from reading a target's phase to reading its amplitude



def target_layout(line_length):
    """Runtime configuration of one point target, for range lines of ``line_length``.

    Fields
    ------
    enable : 1
        The target contributes to the lines.
    delay : unsigned(bits of line_length - 1)
        Range bin of the echo's first sample, 0 ... ``line_length - 1`` (a larger
        value puts the whole echo past the end of the line).
    amplitude : unsigned(AMPLITUDE_WIDTH)
        Echo amplitude relative to the pulse, ``amplitude / 2**16`` (0 ... 1 - 2**-16).
    phase : unsigned(PHASE_WIDTH)
        Carrier phase of the echo on line 0, ``phase / 2**16`` turns.
    doppler : unsigned(PHASE_WIDTH)
        Phase advance from one range line to the next, ``doppler / 2**16`` turns
        (two's complement for a negative Doppler shift): the Doppler frequency times
        the pulse repetition interval.
    """
    check_integer("line_length", line_length, 1)
    return data.StructLayout({
        "enable": 1,
        "delay": unsigned(max(1, (line_length - 1).bit_length())),
        "amplitude": unsigned(AMPLITUDE_WIDTH),
        "phase": unsigned(PHASE_WIDTH),
        "doppler": unsigned(PHASE_WIDTH),
    })


def phase_table():
    """``(cos, sin)`` entries of the Doppler rotator table, as ints.

    Entry ``a`` is ``round_half_even(32767 * (cos, sin)(2*pi*a / 2**PHASE_TABLE_BITS))``.
    """
    peak = (1 << (ROTATOR_WIDTH - 1)) - 1
    size = 1 << PHASE_TABLE_BITS
    return [(round(peak * cos(2 * pi * a / size)), round(peak * sin(2 * pi * a / size)))
            for a in range(size)]


def check_echo_parameters(*, pulse, pulse_width, line_length, pulses_per_cpi, width, seed):
    """Check the parameters shared by :class:`EchoSource` and its model.

    Returns
    -------
    (pulse_i, pulse_q) : tuple of ndarray of int64
        The pulse's real and imaginary parts.
    """
    pulse_width = check_integer("pulse_width", pulse_width, *WIDTH_RANGE)
    check_integer("line_length", line_length, 1)
    check_integer("pulses_per_cpi", pulses_per_cpi, 1)
    check_integer("width", width, *WIDTH_RANGE)
    check_seed(seed)
    samples = np.asarray(pulse)
    if samples.ndim != 1 or samples.size == 0 or samples.dtype.kind not in "iufc":
        raise ValueError(f"pulse must be a non-empty 1-D array of complex integers, "
                         f"not {samples.dtype} of shape {samples.shape}")
    parts = np.real(samples), np.imag(samples)
    if not all(np.array_equal(p, np.round(p)) for p in parts):
        raise ValueError("pulse must have integer real and imaginary parts")
    limit = 1 << (pulse_width - 1)
    worst = max(max(p.max(), -1 - p.min()) for p in parts)
    if worst >= limit:
        raise ValueError(f"pulse parts must lie in [{-limit}, {limit - 1}] for pulse_width "
                         f"{pulse_width}, not up to magnitude {int(worst)}")
    return tuple(p.astype(np.int64) for p in parts)


def _product_latency(pulse_width):
    """Stages of the complex product of a gain and a pulse sample or its negation."""
    return max(product_latency(signed(ROTATOR_WIDTH), signed(width))
               for width in (pulse_width, pulse_width + 1))


class EchoSource(wiring.Component):
    """Range lines of up to ``max_targets`` point-target echoes plus Gaussian-like noise.

    Sample ``k`` of range line ``n`` (counted from reset, or from the last restart) is::

        x[n, k] = saturate(sum_t e_t[n, k] + noise[n*L + k])

    over the enabled targets ``t`` whose echo covers ``k``
    (``0 <= k - delay_t < len(pulse)``; echo samples past the end of the line are
    cut). The echo is the pulse rotated and scaled by a complex gain that turns by
    the target's Doppler increment from line to line::

        phi = (phase_t + n * doppler_t) mod 2**16               (turns * 2**16)
        c, s = phase_table()[phi >> 8]                           (Q1.15)
        g = round_half_even(amplitude_t * (c + j s) / 2**16)     (Q1.15, per part)
        e_t[n, k] = round_half_even(g * pulse[k - delay_t] / 2**15)   (complex product,
                                                              each part rounded once)

    Inter-pulse Doppler only: the gain is constant within a line (the intra-pulse
    Doppler shift and range migration are neglected). The noise is the
    :class:`~amaradar.hdl.waveform.gaussian_noise.GaussianNoise` sequence, one sample per
    output sample, independent I and Q, rms ``noise_scale / 256`` LSB.

    Parameters
    ----------
    pulse : array_like of complex int, shape (P,)
        Transmitted pulse, P >= 1 samples, stored in a ROM. Unit amplitude
        (``amplitude = 2**16``, not reachable) would reproduce it in ADC LSBs.
    pulse_width : int
        Bits of each pulse part (signed), 2 ... 32.
    line_length : int
        Samples per range line L, >= 1.
    pulses_per_cpi : int
        Range lines per CPI M, >= 1.
    max_targets : int
        Number of targets K, >= 1 (each costs 6 multipliers).
    width : int
        ADC output bits per I and Q, 2 ... 32 (default ``ADC_WIDTH``).
    seed : int
        Noise seed, ``0 <= seed < 2**32``.
    gain_stage : bool
        Register the rounded gain before the complex product's multipliers (one
        more cycle of latency): for clocks at which the gain's rounding, negation
        and the route from one DSP block to another do not fit one cycle (the
        ULX3S at 100 MHz).

    Members
    -------
    targets : In(data.ArrayLayout(target_layout(line_length), max_targets))
        Per-target configuration, read as each sample enters the pipeline, except
        ``amplitude``, read ``AMPLITUDE_LAG`` samples later (one sample less on an
        ECP5, whose DSP block registers it beside the table entry). Changed on a clock edge
        that ends a clock with ``cpi_boundary`` high, it applies from the next CPI's
        first sample on (its ``amplitude`` from the old CPI's last ``AMPLITUDE_LAG``
        samples on: the same, unless the old echo covers them).
    restart : In(1)
        Read while ``cpi_boundary`` is high: 1 restarts the Doppler phases, so that
        the next CPI is line ``n = 0``.
    cpi_boundary : Out(1)
        High in a clock in which the last sample of a CPI enters the pipeline.
    noise_scale : In(unsigned(NOISE_SCALE_WIDTH))
        Noise rms per part, ``noise_scale / 256`` LSB; 0 turns the noise off.
    overflow : Out(1)
        Sticky: some output sample was saturated (I or Q).
    o : Out(stream.Signature(framed_layout(complex_layout(width))))
        Range lines of L samples forever: ``first`` on k = 0, ``last`` on k = L-1,
        ``cpi_end`` with ``last`` on every M-th line.

    Bit growth
    ----------
    ``amplitude * c`` is 32 bits, rounded to 16 (``|g| <= 32767``). A complex product
    part is ``|g_i p_i - g_q p_q| < 2**(15 + pulse_width)``, rounded to
    ``pulse_width + 1`` bits. The sum over targets and noise is exact; only the
    final saturation to ``width`` drops range.

    Rounding/overflow
    -----------------
    Phase truncated to ``PHASE_TABLE_BITS`` (worst phase error 1.4 degrees, spurs
    near -48 dBc); two half-to-even roundings per target as above; the sum is
    saturated to ``width`` bits like an ADC, raising ``overflow``.

    Latency/throughput
    ------------------
    One sample per clock after a fill of ``latency`` cycles, 9 for ``pulse_width``
    up to 17 (10 with ``gain_stage``): ROM reads, the gain product (one multiplier
    per part: the table entry in its operand register, then the product), the
    four real products (the rounded gain or its negation and the sample or its
    negation in their operand registers, then the products), their sums, the
    rounded echo, the sum with the noise, the saturated output register (a wider
    pulse adds stages to the complex product: ``pipeline.product_latency``). Every
    register, ROM read port, line counter, phase accumulator and the noise
    generator advance on one enable, ``~o.valid | o.ready``, so the output does not
    depend on stalls.

    Model
    -----
    :func:`amaradar.sim.models.waveform.echo_source.echo_lines`.
    """

    def __init__(self, *, pulse, pulse_width, line_length, pulses_per_cpi, max_targets=1,
                 width=ADC_WIDTH, seed=0, gain_stage=False):
        self._pulse = check_echo_parameters(
            pulse=pulse, pulse_width=pulse_width, line_length=line_length,
            pulses_per_cpi=pulses_per_cpi, width=width, seed=seed)
        self.max_targets = check_integer("max_targets", max_targets, 1)
        self.pulse_width = pulse_width
        self.line_length = line_length
        self.pulses_per_cpi = pulses_per_cpi
        self.width = width
        self.seed = seed
        if not isinstance(gain_stage, bool):
            raise TypeError(f"gain_stage must be True or False, not {gain_stage!r}")
        self.gain_stage = gain_stage
        # stage 1: ROM reads; then the gain product (from the table entry's operand
        # register), the rounded gain's register with gain_stage, the complex product
        # (from the gain's and the sample's operand registers), its sum, the rounded
        # echo, the output register
        self._depth = (1 + product_latency(unsigned(AMPLITUDE_WIDTH), signed(ROTATOR_WIDTH))
                       + gain_stage + _product_latency(pulse_width) + 2)
        self.latency = self._depth + 2
        super().__init__({
            "targets": In(data.ArrayLayout(target_layout(line_length), max_targets)),
            "restart": In(1),
            "cpi_boundary": Out(1),
            "noise_scale": In(unsigned(NOISE_SCALE_WIDTH)),
            "overflow": Out(1),
            "o": Out(stream.Signature(framed_layout(complex_layout(width)))),
        })

    def elaborate(self, platform):
        m = Module()
        L, M = self.line_length, self.pulses_per_cpi
        pulse_i, pulse_q = self._pulse
        m.submodules.noise = noise = GaussianNoise(seed=self.seed)
        m.submodules.pulse_rom = pulse_rom = Memory(
            shape=complex_layout(self.pulse_width), depth=len(pulse_i),
            init=[{"i": i, "q": q} for i, q in zip(pulse_i.tolist(), pulse_q.tolist())])
        m.submodules.phase_rom = phase_rom = Memory(
            shape=complex_layout(ROTATOR_WIDTH), depth=1 << PHASE_TABLE_BITS,
            init=[{"i": c, "q": s} for c, s in phase_table()])

        en = Signal()

        # stage 0: position in the line and CPI
        k = Signal(range(L))
        line = Signal(range(M))
        at_end = k == L - 1
        m.d.comb += self.cpi_boundary.eq(en & at_end & (line == M - 1))
        with m.If(en):
            with m.If(at_end):
                m.d.sync += [k.eq(0), line.eq(Mux(line == M - 1, 0, line + 1))]
            with m.Else():
                m.d.sync += k.eq(k + 1)

        depth = self._depth
        restart = self.restart & (line == M - 1)
        echoes = [self._target(m, en, k, at_end, restart, self.targets[t], pulse_rom, phase_rom,
                               f"t{t}")
                  for t in range(self.max_targets)]

        # stages 1 ... depth: framing flags beside the echoes; then the sum with the
        # noise, and the saturated output register. Every stage advances on one
        # enable, a single gate from the output's valid and ready: on a board the
        # enable's route to the DSP blocks is long. The noise generator is full
        # from its fourth clock after reset (GaussianNoise), before the first echo
        # reaches the sum (stage depth >= 7), and stays full.
        filled = delay(m, en, Const(1), depth, "filled", reset_less=False)
        flags = delay(m, en, Cat(k == 0, at_end, at_end & (line == M - 1)), depth, "flags")
        sum_valid = Signal()
        sums = {part: sum((e[part] for e in echoes), noise.o.payload[part]) for part in ("i", "q")}
        total = {part: Signal.like(sums[part], name=f"total_{part}") for part in ("i", "q")}
        sum_flags = Signal(3)
        m.d.comb += [en.eq(~self.o.valid | self.o.ready),
                     noise.scale.eq(self.noise_scale), noise.o.ready.eq(en & filled)]
        with m.If(en):
            m.d.sync += [sum_valid.eq(filled), sum_flags.eq(flags)]
            m.d.sync += [total[part].eq(sums[part]) for part in ("i", "q")]
            m.d.sync += [self.o.valid.eq(sum_valid), Cat(self.o.payload.first, self.o.payload.last,
                                                         self.o.payload.cpi_end).eq(sum_flags)]
            for part in ("i", "q"):
                clamped, over = saturate(total[part], self.width)
                m.d.sync += self.o.payload.data[part].eq(clamped)
                with m.If(sum_valid & over):
                    m.d.sync += self.overflow.eq(1)
        return m

    def _target(self, m, en, k, at_end, restart, target, pulse_rom, phase_rom, name):
        """One target's echo pipeline from stage 0 to stage ``self._depth``, which
        holds the returned complex sample."""
        accumulated = Signal(PHASE_WIDTH, name=f"{name}_accumulated")   # n * doppler
        with m.If(en & at_end):
            m.d.sync += accumulated.eq(Mux(restart, 0, accumulated + target.doppler))
        # stage 1: ROM reads and whether the echo covers k; stage 2: their registers
        offset = k - target.delay
        pulse_port = pulse_rom.read_port()
        phase_port = phase_rom.read_port()
        phase = (target.phase + accumulated)[PHASE_WIDTH - PHASE_TABLE_BITS:PHASE_WIDTH]
        m.d.comb += [pulse_port.en.eq(en), pulse_port.addr.eq(offset),
                     phase_port.en.eq(en), phase_port.addr.eq(phase)]
        covers = delay(m, en, target.enable & (k >= target.delay)
                       & (offset < len(self._pulse[0])), 1, f"{name}_covers")
        # the rotated gain, rounded, at stage 1 + latency (the table entry sits in the
        # multiplier's operand register at stage 2, the amplitude is read then: it
        # belongs to the sample AMPLITUDE_LAG behind the one at stage 0); with
        # gain_stage in a register of its own, a stage later
        gain = {}
        for part in ("i", "q"):
            product, latency = multiply(m, en, target.amplitude, phase_port.data[part],
                                        f"{name}_gain_{part}", a_static=True)
            rounded = shift_right(product, AMPLITUDE_WIDTH, "half_even")[:ROTATOR_WIDTH]
            gain[part] = delay(m, en, rounded.as_signed(), self.gain_stage, f"{name}_gain_{part}")
        stage = 1 + latency + self.gain_stage
        # the masked pulse sample, beside the gain
        sample = {part: delay(m, en, Mux(covers, pulse_port.data[part], 0), stage - 1,
                              f"{name}_sample_{part}")
                  for part in ("i", "q")}
        # complex product: real products (the gain and the sample in the multipliers'
        # operand registers), their sum, the rounded sum. Each operand register feeds
        # one multiplier, so that it can move into that multiplier's block: the cross
        # products take negated operands, (-g)(-x) = g x.
        neg = {"g" + part: (-gain[part])[:ROTATOR_WIDTH].as_signed() for part in ("i", "q")}
        neg.update({"x" + part: -sample[part] for part in ("i", "q")})
        products, latency = {}, _product_latency(self.pulse_width)
        for key, g, x in (("ii", gain["i"], sample["i"]), ("qq", gain["q"], sample["q"]),
                          ("iq", neg["gi"], neg["xq"]), ("qi", neg["gq"], neg["xi"])):
            product, own = multiply(m, en, g, x, f"{name}_product_{key}")
            products[key] = delay(m, en, product, latency - own, f"{name}_product_{key}_wait")
        sums = {"i": products["ii"] - products["qq"], "q": products["iq"] + products["qi"]}
        echo = {part: delay(m, en, shift_right(delay(m, en, sums[part], 1, f"{name}_sum_{part}"),
                                               ROTATOR_WIDTH - 1, "half_even"), 1,
                            f"{name}_echo_{part}")
                for part in ("i", "q")}
        assert stage + latency + 2 == self._depth
        return echo
