"""In-place iterative FFT: one radix-2 butterfly and one complex multiplier, time-shared."""

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data
from amaranth.lib.memory import Memory

from .fft_core import FFTCore
from .fft_tables import twiddle_table
from ..formats import complex_layout
from ..numerics import saturate, shift_right

__all__ = ["IterativeFFT"]

# Cycles from a word's read to its result's write: read port, rotation, butterfly,
# (wait for the difference), scaling, saturation, multiplier operand, product,
# complex sum, rounding, saturation.
_PIPELINE = 11
_LOAD, _COMPUTE, _UNLOAD = range(3)


class IterativeFFT(FFTCore):
    """FFT of ``n`` points on one memory: load a frame, transform it in place, read it out.

    The transform is the radix-2^2 decimation-in-frequency FFT of
    :class:`amaradar.hdl.compress.fft.FFT`, bit for bit, computed by one radix-2 butterfly
    and one complex multiplier (four real multipliers) that visit the ``n``-word
    working memory ``log2(n)`` times. A frame is written into the memory at
    natural addresses (``i.ready`` is high only then); each pass then reads one word
    per clock, the butterfly combines the words at ``a`` and ``a + h`` (``h`` the
    pass's span), the odd passes rotate by ``∓j`` and multiply by the twiddles from
    a ROM of ``3n/4`` powers of ``W_n``, and the results are written back to the same
    addresses eleven cycles later; finally the bins are read out at bit-reversed
    addresses. One frame is in flight at a time. ``first`` of a frame's first sample
    and ``last``/``cpi_end`` of its last sample are carried to the first and last
    bin (the other bins have the flags clear). ``i.valid`` and ``o.ready`` may drop
    at any cycle.

    Parameters
    ----------
    n, width, twiddle_width, inverse, scaling, rounding, guard_bits, bit_reversed
        As for :class:`amaradar.hdl.compress.fft.FFT` (``n`` a power of two from 8 to 4096).

    Members
    -------
    i, o, overflow
        As for :class:`amaradar.hdl.compress.fft.FFT`: frames of ``n`` time samples in,
        frames of ``n`` bins out, sticky saturation flag.

    Bit growth
    ----------
    As :class:`amaradar.hdl.compress.fft.FFT`: internal words of ``w = width + guard_bits``
    bits per part; a butterfly result has ``w + 2`` bits before it drops
    ``scaling[s]`` bits and saturates to ``w``; a twiddle product part has
    ``w + twiddle_width + 1`` bits and drops ``twiddle_width - 1``; the output drops
    the guard bits. The memory holds ``n`` words of ``2*w`` bits, the ROM ``3n/4``
    words of ``2*twiddle_width`` bits.

    Rounding/overflow
    -----------------
    As :class:`amaradar.hdl.compress.fft.FFT`: every drop uses ``rounding`` and saturates;
    any saturation sets ``overflow``.

    Latency/throughput
    ------------------
    ``cycles_per_frame = 2*n + 1 + log2(n) * (n + 11)`` clocks per frame when the
    source and the sink never stall (``n`` to load, one to start, ``log2(n)`` passes
    of ``n`` reads plus the eleven-cycle pipeline drain, ``n`` to read out);
    ``samples_per_clock = n / cycles_per_frame`` (0.097 at ``n = 256``, 0.083 at
    ``n = 1024``). ``latency`` is the number of cycles from the transfer of a frame's
    first sample to its first bin being offered: ``cycles_per_frame - n + 3``.
    A butterfly takes two clocks (the memory has one read and one write port), so
    the multiplier works every clock on the odd passes and idles on the even ones.

    Model
    -----
    :func:`amaradar.sim.models.compress.fft_iterative.fft_iterative`, which equals
    :func:`amaradar.sim.models.compress.fft.fft` with the same parameters.
    """

    @property
    def cycles_per_frame(self):
        """Clocks per frame when neither side stalls."""
        n = self.n
        return 2 * n + 1 + (n.bit_length() - 1) * (n + _PIPELINE)

    @property
    def samples_per_clock(self):
        """Sustained throughput: ``n / cycles_per_frame``."""
        return self.n / self.cycles_per_frame

    @property
    def latency(self):
        """Cycles from a frame's first input transfer to its first bin (no stalls)."""
        return self.cycles_per_frame - self.n + 3

    def elaborate(self, platform):
        m = Module()
        n, g, tw = self.n, self.guard_bits, self.twiddle_width
        w = self.width + g
        bits = n.bit_length() - 1
        layout = complex_layout(w)

        m.submodules.ram = ram = Memory(shape=unsigned(2 * w), depth=n, init=[])
        write, read = ram.write_port(), ram.read_port(domain="sync")
        t_re, t_im = twiddle_table(n, twiddle_width=tw, inverse=self.inverse)
        mask = (1 << tw) - 1
        m.submodules.rom = rom = Memory(
            shape=unsigned(2 * tw), depth=len(t_re),
            init=[(int(a) & mask) | ((int(b) & mask) << tw) for a, b in zip(t_re, t_im)])
        rom_read = rom.read_port(domain="sync")
        word = data.View(layout, read.data)

        phase = Signal(range(3), init=_LOAD)
        count = Signal(range(n + _PIPELINE))
        stage = Signal(range(bits))
        overflow = Signal(4)
        m.d.comb += self.overflow.eq(overflow.any())

        # Load: sample k to address k.
        accept = self.i.valid & self.i.ready
        first, last, cpi_end = Signal(), Signal(), Signal()
        m.d.comb += self.i.ready.eq((phase == _LOAD) & (count < n))
        with m.If(accept):
            m.d.sync += count.eq(count + 1)
            with m.If(count == 0):
                m.d.sync += first.eq(self.i.payload.first)
            with m.If(count == n - 1):
                m.d.sync += [last.eq(self.i.payload.last), cpi_end.eq(self.i.payload.cpi_end)]

        # Compute: pass ``stage`` reads word ``count`` of its butterfly order at
        # count < n and writes it back _PIPELINE cycles later.
        span = Signal(bits)             # h, one-hot
        low = Signal(bits)              # h - 1
        twiddled = stage[0] & ~span[0]  # odd pass with h >= 2
        butterfly = count[1:bits]
        upper = ((butterfly & ~low) << 1) | (butterfly & low)
        address = Mux(count[0], upper | span, upper)
        half = (upper & (span << 1)).any()
        # Twiddle exponent * n/(4h) of the word: n3 * n/(4h) * (0, 2, 1, 3)[quarter].
        step = ((butterfly & low) << stage)[1:]
        index = Mux(count[0], Mux(half, step + (step << 1), step << 1), Mux(half, step, 0))

        tags = [Signal(data.StructLayout({"valid": 1, "lower": 1, "rotate": 1,
                                          "address": bits, "index": bits}), name=f"tag{k}")
                for k in range(_PIPELINE + 1)]
        computing = phase == _COMPUTE
        m.d.comb += [
            tags[0].valid.eq(computing & (count < n)), tags[0].lower.eq(count[0]),
            tags[0].rotate.eq(stage[0] & half & count[0]), tags[0].address.eq(address),
            tags[0].index.eq(index),
        ]
        m.d.sync += [b.eq(a) for a, b in zip(tags, tags[1:])]

        # Butterfly. Tag 1: the word on the read port, rotated if it must be, into
        # ``fetched``. Tag 2: the upper word waits in ``held``; with the lower one the
        # exact sum goes on in ``raw`` and the difference waits in ``pending``.
        # Tag 4: ``raw`` drops the pass's scaling bit into ``scaled``. Tag 5: saturation
        # into ``result``.
        wide = complex_layout(w + 2)
        fetched, held = Signal(complex_layout(w + 1)), Signal(complex_layout(w + 1))
        raw, pending, result = Signal(wide), Signal(wide), Signal(layout)
        # The lower word times -j is (q, -i); times +j (inverse) it is (-q, i).
        rot_re, rot_im = (-word.q, word.i) if self.inverse else (word.q, -word.i)
        m.d.sync += [fetched.i.eq(Mux(tags[1].rotate, rot_re, word.i)),
                     fetched.q.eq(Mux(tags[1].rotate, rot_im, word.q))]
        with m.If(tags[2].lower):
            m.d.sync += [raw.i.eq(held.i + fetched.i), raw.q.eq(held.q + fetched.q),
                         pending.i.eq(held.i - fetched.i), pending.q.eq(held.q - fetched.q)]
        with m.Else():
            m.d.sync += [held.eq(fetched), raw.eq(pending)]
        shift = Const(sum(s << k for k, s in enumerate(self._scaling)), bits).bit_select(stage, 1)
        scaled = Signal(complex_layout(w + 2))
        m.d.sync += [scaled.i.eq(Mux(shift, shift_right(raw.i, 1, self.rounding), raw.i)),
                     scaled.q.eq(Mux(shift, shift_right(raw.q, 1, self.rounding), raw.q))]
        s_re, ovf_s_re = saturate(scaled.i, w)
        s_im, ovf_s_im = saturate(scaled.q, w)
        m.d.sync += result.eq(Cat(s_re, s_im))
        with m.If(tags[5].valid & (ovf_s_re | ovf_s_im)):
            m.d.sync += overflow[0].eq(1)

        # Twiddle multiplier. Tag 6: ``result`` and the ROM address. Tag 7: operands
        # into the products. Tag 8: the complex sums. Tag 9: rounding. Tag 10:
        # saturation (or the untouched word on even passes) into ``written``.
        twiddle = data.View(complex_layout(tw), rom_read.data)
        operand, written = Signal(layout), Signal(layout)
        bypass = [Signal(layout, name=f"bypass_{k}") for k in range(3)]
        products = [Signal(w + tw, name=f"product_{k}") for k in range(4)]
        prr, pqq, prq, pqr = [p.as_signed() for p in products]
        sums = Signal(complex_layout(w + tw + 1))
        rounded = Signal(complex_layout(w + 3))
        re, ovf_re = saturate(rounded.i, w)
        im, ovf_im = saturate(rounded.q, w)
        m.d.comb += rom_read.addr.eq(tags[6].index)
        m.d.sync += [
            operand.eq(result),
            products[0].eq(operand.i * twiddle.i), products[1].eq(operand.q * twiddle.q),
            products[2].eq(operand.i * twiddle.q), products[3].eq(operand.q * twiddle.i),
            bypass[0].eq(operand),
            sums.i.eq(prr - pqq), sums.q.eq(prq + pqr), bypass[1].eq(bypass[0]),
            rounded.i.eq(shift_right(sums.i, tw - 1, self.rounding)),
            rounded.q.eq(shift_right(sums.q, tw - 1, self.rounding)), bypass[2].eq(bypass[1]),
            written.eq(Mux(twiddled, Cat(re, im), bypass[2])),
        ]
        with m.If(twiddled & tags[10].valid & (ovf_re | ovf_im)):
            m.d.sync += overflow[1].eq(1)

        with m.If(computing):
            m.d.sync += count.eq(count + 1)
            with m.If(count == n + _PIPELINE - 1):
                m.d.sync += [count.eq(0), stage.eq(stage + 1), span.eq(span >> 1), low.eq(low >> 1)]
                with m.If(stage == bits - 1):
                    m.d.sync += phase.eq(_UNLOAD)

        # Unload: three registers (read port, ``bin``, output) with one enable.
        en = ~self.o.valid | self.o.ready
        issue = (phase == _UNLOAD) & en
        position = count[:bits]
        flags = data.StructLayout({"valid": 1, "first": 1, "last": 1, "cpi_end": 1})
        staged, binned = Signal(flags), Signal(flags)
        bin_ = Signal(layout)
        o_re, ovf_o_re = saturate(shift_right(bin_.i, g, self.rounding), self.width)
        o_im, ovf_o_im = saturate(shift_right(bin_.q, g, self.rounding), self.width)
        with m.If(en):
            m.d.sync += [
                staged.valid.eq(issue), staged.first.eq(first & (position == 0)),
                staged.last.eq(last & (position == n - 1)),
                staged.cpi_end.eq(cpi_end & (position == n - 1)),
                binned.eq(staged), bin_.eq(word),
                self.o.valid.eq(binned.valid),
                self.o.payload.data.i.eq(o_re), self.o.payload.data.q.eq(o_im),
                self.o.payload.first.eq(binned.first), self.o.payload.last.eq(binned.last),
                self.o.payload.cpi_end.eq(binned.cpi_end),
            ]
            with m.If(binned.valid & (ovf_o_re | ovf_o_im)):
                m.d.sync += overflow[2].eq(1)
        with m.If(issue):
            m.d.sync += count.eq(count + 1)
            with m.If(count == n - 1):
                m.d.sync += [count.eq(0), phase.eq(_LOAD)]

        # Start a transform once the frame is in and the read port's word has moved
        # on to the output register (the passes reuse the read port).
        with m.If((phase == _LOAD) & (count == n) & ~staged.valid):
            m.d.sync += [phase.eq(_COMPUTE), count.eq(0), stage.eq(0),
                         span.eq(n >> 1), low.eq((n >> 1) - 1)]

        load_data = Cat((self.i.payload.data.i << g)[:w], (self.i.payload.data.q << g)[:w])
        m.d.comb += [
            read.addr.eq(Mux(computing, address, position if self.bit_reversed else position[::-1])),
            read.en.eq(computing | en),
            write.addr.eq(Mux(computing, tags[_PIPELINE].address, count[:bits])),
            write.data.eq(Mux(computing, written, load_data)),
            write.en.eq(Mux(computing, tags[_PIPELINE].valid, accept)),
        ]
        return m
