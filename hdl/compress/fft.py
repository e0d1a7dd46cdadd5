"""Pipelined streaming FFT: radix-2^2 single-path delay feedback, elastic, one sample per clock."""

from amaranth import C, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..formats import complex_layout
from ..numerics import saturate, shift_right
from ..stream.skid_buffer import SkidBuffer
from .fft_core import FFTCore
from .fft_tables import fft_twiddles

__all__ = ["FFT"]

# Delay FIFOs of at least this many words use block RAM (registered read);
# shorter ones use asynchronous-read memory (LUT RAM or flip-flops).
_BRAM_SPAN = 64


def _butterfly_fits(shift, rounding):
    """Whether ``a ± b`` of two ``signed(width)`` words, ``shift`` bits dropped with
    ``rounding``, always fits ``signed(width)``: from 2 bits dropped, or 1 truncated.
    With 1 bit rounded half to even, ``(2**(w-1) - 1) - (-2**(w-1))`` rounds up to
    ``2**(w-1)``, which needs the saturation (the formal proof in
    ``tests/formal/test_overflow.py`` finds it)."""
    return shift >= 2 or (shift == 1 and rounding == "truncate")


def _round(value, shift, rounding, width, *, fits=False):
    """``shift_right`` then saturation to ``signed(width)``; returns ``(value, overflowed)``.

    ``fits`` says the rounded value can never leave ``signed(width)`` (a sum of two
    ``signed(width)`` words with a bit dropped); then no saturation logic is built.
    """
    value = shift_right(value, shift, rounding)
    if fits:
        return value[:width].as_signed(), C(0, 1)
    return saturate(value, width)


def _sticky(m, flag, event):
    with m.If(event):
        m.d.sync += flag.eq(1)


class _Stage(wiring.Component):
    """A pipeline stage on internal words: ``i``, ``o`` and a sticky ``overflow``."""

    def __init__(self, width):
        layout = complex_layout(width)
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(layout)),
                          "overflow": Out(1)})


class _Butterfly(_Stage):
    """One radix-2 decimation-in-frequency butterfly of span ``span`` with its delay FIFO.

    Elastic single-path delay feedback: the first ``span`` samples of a block go into
    the FIFO ("push"); each of the next ``span`` samples is combined with the FIFO head
    ("combine"): the sum goes out, the difference into the FIFO; then the differences
    come out of the FIFO ("pop"), while the next block's first half is pushed. Pops and
    pushes are independent, so the stage drains by itself when its input stops.
    ``rotate`` multiplies the lower input by ``-j`` (``+j`` if ``inverse``) in the
    second half of every ``4*span`` block (the radix-2^2 trivial twiddle).
    """

    def __init__(self, *, span, width, shift, rounding, rotate, inverse):
        self._span, self._width, self._shift = span, width, shift
        self._rounding, self._rotate, self._inverse = rounding, rotate, inverse
        super().__init__(width)

    def elaborate(self, platform):
        m = Module()
        span, w = self._span, self._width
        bits = span.bit_length() - 1
        if span >= _BRAM_SPAN:
            # Block RAM, whose read data passes a register before the arithmetic.
            m.submodules.delay = delay = fifo.SyncFIFOBuffered(width=2 * w, depth=span + 1)
            m.submodules.head = head_register = SkidBuffer(unsigned(2 * w))
            wiring.connect(m, delay.r_stream, head_register.i)
            reader = head_register.o
        else:
            m.submodules.delay = delay = fifo.SyncFIFO(width=2 * w, depth=span + 1)
            reader = delay.r_stream
        head = data.View(complex_layout(w), reader.payload)
        x = self.i.payload

        in_count = Signal(bits + 1 + self._rotate)
        out_count = Signal(bits + 1)
        second = in_count[bits]
        out_sum = ~out_count[bits]
        en = Signal()
        m.d.comb += en.eq(~self.o.valid | self.o.ready)

        rotated = in_count[bits + 1] if self._rotate else 0
        c_re = Mux(rotated, x.q, x.i)
        c_im = Mux(rotated, x.i, x.q)
        fits = _butterfly_fits(self._shift, self._rounding)
        plus_re, p_re = _round(head.i + c_re, self._shift, self._rounding, w, fits=fits)
        minus_re, m_re = _round(head.i - c_re, self._shift, self._rounding, w, fits=fits)
        plus_im, p_im = _round(head.q + c_im, self._shift, self._rounding, w, fits=fits)
        minus_im, m_im = _round(head.q - c_im, self._shift, self._rounding, w, fits=fits)
        # Forward rotation b' = (bq, -bi): sum = (a.i + bq, a.q - bi), diff = (a.i - bq, a.q + bi);
        # the inverse (b' = (-bq, bi)) swaps them.
        swap_re = rotated & self._inverse
        swap_im = rotated & (not self._inverse)
        s_re, d_re = Mux(swap_re, minus_re, plus_re), Mux(swap_re, plus_re, minus_re)
        s_im, d_im = Mux(swap_im, minus_im, plus_im), Mux(swap_im, plus_im, minus_im)

        push = ~second & self.i.valid & delay.w_rdy
        combine = second & out_sum & self.i.valid & reader.valid & delay.w_rdy & en
        pop = ~out_sum & reader.valid & en
        m.d.comb += [
            self.i.ready.eq(Mux(second, out_sum & reader.valid & delay.w_rdy & en, delay.w_rdy)),
            delay.w_en.eq(push | combine),
            delay.w_data.eq(Mux(second, Cat(d_re, d_im), x.as_value())),
            reader.ready.eq(combine | pop),
        ]
        with m.If(en):
            m.d.sync += [self.o.valid.eq(combine | pop),
                         self.o.payload.eq(Mux(out_sum, Cat(s_re, s_im), head.as_value()))]
        with m.If(push | combine):
            m.d.sync += in_count.eq(in_count + 1)
        with m.If(combine | pop):
            m.d.sync += out_count.eq(out_count + 1)
        _sticky(m, self.overflow, combine & (p_re | m_re | p_im | m_im))
        return m


class _Twiddle(_Stage):
    """Multiply sample ``p`` of every ``block``-sample block by the radix-2^2 twiddle.

    Pipeline, one global enable: sample register + twiddle ROM read (registered),
    multiplier input registers, product registers, complex sum registers, rounding
    and saturation into the output register: 5 cycles.
    """

    def __init__(self, *, block, width, twiddle_width, rounding, inverse):
        self._block, self._width, self._tw = block, width, twiddle_width
        self._rounding, self._inverse = rounding, inverse
        super().__init__(width)

    def elaborate(self, platform):
        m = Module()
        w, tw = self._width, self._tw
        t_re, t_im = fft_twiddles(self._block, twiddle_width=tw, inverse=self._inverse)
        mask = (1 << tw) - 1
        m.submodules.rom = rom = Memory(
            shape=unsigned(2 * tw), depth=self._block,
            init=[(int(a) & mask) | ((int(b) & mask) << tw) for a, b in zip(t_re, t_im)])
        read = rom.read_port(domain="sync")
        position = Signal(range(self._block))
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en),
                     read.addr.eq(position), read.en.eq(en)]
        with m.If(self.i.valid & en):
            m.d.sync += position.eq(position + 1)

        layout = complex_layout(w)
        sample, a = Signal(layout), Signal(layout)
        b = Signal(complex_layout(tw))
        valid = Signal(4)
        products = [Signal(w + tw, name=f"product_{k}") for k in range(4)]
        prr, pqq, prq, pqr = [p.as_signed() for p in products]
        sums = Signal(complex_layout(w + tw + 1))
        re, ovf_re = _round(sums.i, tw - 1, self._rounding, w)
        im, ovf_im = _round(sums.q, tw - 1, self._rounding, w)
        with m.If(en):
            m.d.sync += [
                sample.eq(self.i.payload), valid[0].eq(self.i.valid),
                a.eq(sample), b.eq(read.data), valid[1].eq(valid[0]),
                products[0].eq(a.i * b.i), products[1].eq(a.q * b.q),
                products[2].eq(a.i * b.q), products[3].eq(a.q * b.i), valid[2].eq(valid[1]),
                sums.i.eq(prr - pqq), sums.q.eq(prq + pqr), valid[3].eq(valid[2]),
                self.o.payload.eq(Cat(re, im)), self.o.valid.eq(valid[3]),
            ]
        _sticky(m, self.overflow, en & valid[3] & (ovf_re | ovf_im))
        return m


class _Reorder(wiring.Component):
    """Bit-reversed to natural order through one ``n``-word RAM.

    Frame ``f`` is written at address ``k`` (even ``f``) or ``bit_reverse(k)`` (odd
    ``f``) for its ``k``-th sample and read with the other pattern; a frame is read
    once it is complete, and a write of frame ``f + 1`` may share the cycle and the
    address of the read of the same position of frame ``f`` (read before write).
    """

    def __init__(self, *, n, width):
        self._n = n
        layout = complex_layout(width)
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        bits = self._n.bit_length() - 1
        m.submodules.ram = ram = Memory(shape=unsigned(len(self.i.payload.as_value())),
                                        depth=self._n, init=[])
        write, read = ram.write_port(), ram.read_port(domain="sync")
        w_count, r_count = Signal(bits + 1), Signal(bits + 1)
        w_pos, r_pos = w_count[:bits], r_count[:bits]
        readable = w_count[bits] != r_count[bits]
        full = readable & (w_pos == r_pos)
        en, do_read = Signal(), Signal()
        m.d.comb += [
            en.eq(~self.o.valid | self.o.ready),
            do_read.eq(en & readable),
            self.i.ready.eq(~full | do_read),
            write.addr.eq(Mux(w_count[bits], w_pos[::-1], w_pos)),
            write.data.eq(self.i.payload.as_value()),
            write.en.eq(self.i.valid & self.i.ready),
            read.addr.eq(Mux(r_count[bits], r_pos, r_pos[::-1])),
            read.en.eq(do_read),
            self.o.payload.eq(read.data),
        ]
        with m.If(write.en):
            m.d.sync += w_count.eq(w_count + 1)
        with m.If(do_read):
            m.d.sync += r_count.eq(r_count + 1)
        with m.If(en):
            m.d.sync += self.o.valid.eq(readable)
        return m




class FFT(FFTCore):
    """Pipelined streaming FFT of ``n`` points, one sample per clock, frames back to back.

    Radix-2^2 single-path delay feedback (He & Torkelson 1996), decimation in
    frequency: ``log2(n)`` radix-2 butterflies of span ``n/2, n/4, ..., 1``, a trivial
    ``∓j`` rotation folded into every second butterfly, a complex twiddle multiplier
    after every pair whose block exceeds 4 samples (``floor(log2(n)/2)`` multipliers,
    ``log4(n) - 1`` for even ``log2(n)``) and a reorder RAM that turns the
    bit-reversed result into natural order. Input frames are ``n`` consecutive
    samples counted from reset; ``first`` of a frame's first sample and
    ``last``/``cpi_end`` of its last sample are carried to the first and last sample
    of its output frame (the other output samples have the flags clear).

    Stalls and draining: every delay line is a FIFO (the feedback delay of the
    single-path delay feedback stage) with independent push and pop, and every stage
    has its own valid/ready handshake. A butterfly pops the differences of a block
    whenever its output is ready, without waiting for the next block's samples, so
    a frame comes out completely even when no more input arrives, and no input
    sample is ever padded or dropped. ``i.valid`` and ``o.ready`` may drop at any cycle.

    Parameters
    ----------
    n : int
        Points per transform, a power of two from 8 to 4096.
    width : int
        Bits per part of the input and output samples (signed).
    twiddle_width : int
        Bits per part of a twiddle factor (signed, ``twiddle_width - 1`` fraction bits).
    inverse : bool
        Inverse transform: conjugate twiddles and ``+j`` rotations (no ``1/n``; see
        ``scaling``).
    scaling : sequence of {0, 1}, length log2(n), optional
        Bits dropped after each radix-2 stage, first stage first. Default: 1 bit per
        stage (total ``1/n``), which can never overflow in a butterfly.
    rounding : {"half_even", "truncate"}
        Rounding of every dropped bit (butterfly scaling, twiddle products, output).
    guard_bits : int
        Extra fraction bits carried inside (default 2: 18-bit internal words for
        16-bit data, the width of an ECP5 MULT18X18D port).
    bit_reversed : bool
        Skip the reorder RAM: output bin ``bit_reverse(k)`` as the ``k``-th sample.

    Members
    -------
    i : In(stream.Signature(framed_layout(complex_layout(width))))
        Time samples, frames of ``n``.
    o : Out(stream.Signature(framed_layout(complex_layout(width))))
        Frequency bins, frames of ``n``, natural order unless ``bit_reversed``.
    overflow : Out(1)
        Sticky: set when any saturation happened, cleared only by reset.

    Bit growth
    ----------
    Internal words are ``w = width + guard_bits`` bits per part; the input enters as
    ``x * 2**guard_bits``. A butterfly sum or difference has ``w + 1`` bits and drops
    ``scaling[s]`` of them back to ``w``. A twiddle product part (``ar*br - ai*bi``)
    has ``w + twiddle_width + 1`` bits and drops ``twiddle_width - 1``. The output
    drops the ``guard_bits``.

    Rounding/overflow
    -----------------
    Every drop uses ``rounding`` (:func:`amaradar.hdl.numerics.shift_right`) followed
    by saturation to ``w`` bits (``width`` at the output); any saturation sets
    ``overflow``. With ``scaling[s] = 1`` butterfly ``s`` cannot saturate; a
    twiddle product can, when a sample near full scale on a diagonal meets a
    45-degree twiddle (magnitude up to ``sqrt(2)`` times full scale): full-scale
    uniform random input saturates in some frames at large ``n``
    (``bench/results/fft_sqnr.json``); Gaussian input at -12 dBFS never does. The
    rounded output can saturate by one LSB at full scale. The twiddle for ``1`` is
    ``1 - 2**(1 - twiddle_width)``, the largest representable.

    Latency/throughput
    ------------------
    One sample per clock sustained, frames back to back. ``latency`` is the number
    of cycles from the transfer of a frame's first sample to its first output sample
    being offered, without stalls: ``n - 1`` cycles of feedback delay plus one per
    butterfly, 5 per twiddle multiplier, 1 per skid buffer after it and 1 for the
    output register, plus ``n + 2`` for the reorder RAM and its skid buffer (the RAM
    waits for the whole frame). ``i.ready`` depends combinationally on ``o.ready`` only through the
    stages up to the next skid buffer. Resources: delay FIFOs of ``n/2 + n/4 + ...
    + 1`` words of ``2*w`` bits (block RAM from 64 words), one ROM of ``M`` twiddles
    per multiplier (block sizes ``M = n, n/4, ...``), ``n`` words of reorder RAM, four
    real multipliers per twiddle multiplier, registered on their inputs and outputs
    for DSP mapping.

    Round-off (model, 100 frames, ``np.fft.fft / n`` of the same input): 16-bit data
    and twiddles, ``n = 1024``, complex Gaussian at -12 dBFS rms per part:
    57.4 dB rounding half to even, 52.2 dB truncating.

    Model
    -----
    :func:`amaradar.sim.models.compress.fft.fft`, bit-exact with the same parameters;
    :func:`amaradar.sim.models.compress.fft.fft_ideal` is the float reference.
    """

    @property
    def latency(self):
        """Cycles from a frame's first input transfer to its first output (no stalls)."""
        n = self.n
        stages = n.bit_length() - 1
        twiddles = (stages - 1) // 2
        return (n - 1) + stages + 6 * twiddles + 1 + (0 if self.bit_reversed else n + 2)

    def _build_stages(self):
        w = self.width + self.guard_bits
        common = dict(width=w, rounding=self.rounding)
        stages, block, index = [], self.n, 0
        while block >= 4:
            for span, rotate in ((block // 2, False), (block // 4, True)):
                stages.append(_Butterfly(span=span, shift=self._scaling[index], rotate=rotate,
                                         inverse=self.inverse, **common))
                index += 1
            if block > 4:
                stages.append(_Twiddle(block=block, twiddle_width=self.twiddle_width,
                                       inverse=self.inverse, **common))
                stages.append(SkidBuffer(complex_layout(w)))
            block //= 4
        if block == 2:
            stages.append(_Butterfly(span=1, shift=self._scaling[index], rotate=False,
                                     inverse=self.inverse, **common))
        if not self.bit_reversed:
            # The skid buffer registers the reorder RAM's output before the rounding.
            stages += [_Reorder(n=self.n, width=w), SkidBuffer(complex_layout(w))]
        return stages

    def elaborate(self, platform):
        m = Module()
        n, g = self.n, self.guard_bits
        stages = self._build_stages()
        for k, stage in enumerate(stages):
            m.submodules[f"stage{k}"] = stage
        for a, b in zip(stages, stages[1:]):
            wiring.connect(m, a.o, b.i)
        head, tail = stages[0], stages[-1]

        # Frame flags: one FIFO entry per frame in flight, pushed with its last sample.
        m.submodules.flags = flags = fifo.SyncFIFO(width=3, depth=4)
        in_pos, out_pos = Signal(range(n)), Signal(range(n))
        first = Signal()
        space = (in_pos != n - 1) | flags.w_rdy
        accept = self.i.valid & self.i.ready
        m.d.comb += [
            head.i.payload.i.eq(self.i.payload.data.i << g),
            head.i.payload.q.eq(self.i.payload.data.q << g),
            head.i.valid.eq(self.i.valid & space),
            self.i.ready.eq(head.i.ready & space),
            flags.w_data.eq(Cat(first, self.i.payload.last, self.i.payload.cpi_end)),
            flags.w_en.eq(accept & (in_pos == n - 1)),
        ]
        with m.If(accept):
            m.d.sync += in_pos.eq(Mux(in_pos == n - 1, 0, in_pos + 1))
            with m.If(in_pos == 0):
                m.d.sync += first.eq(self.i.payload.first)

        # Output register: drop the guard bits, saturate, attach the frame flags.
        en = ~self.o.valid | self.o.ready
        take = tail.o.valid & flags.r_rdy & en
        re, ovf_re = _round(tail.o.payload.i, g, self.rounding, self.width)
        im, ovf_im = _round(tail.o.payload.q, g, self.rounding, self.width)
        m.d.comb += [tail.o.ready.eq(flags.r_rdy & en), flags.r_en.eq(take & (out_pos == n - 1))]
        with m.If(en):
            m.d.sync += [
                self.o.valid.eq(tail.o.valid & flags.r_rdy),
                self.o.payload.data.i.eq(re), self.o.payload.data.q.eq(im),
                self.o.payload.first.eq((out_pos == 0) & flags.r_data[0]),
                self.o.payload.last.eq((out_pos == n - 1) & flags.r_data[1]),
                self.o.payload.cpi_end.eq((out_pos == n - 1) & flags.r_data[2]),
            ]
        with m.If(take):
            m.d.sync += out_pos.eq(Mux(out_pos == n - 1, 0, out_pos + 1))
        output_overflow = Signal()
        _sticky(m, output_overflow, take & (ovf_re | ovf_im))
        m.d.comb += self.overflow.eq(
            Cat(output_overflow, *(s.overflow for s in stages if hasattr(s, "overflow"))).any())
        return m
