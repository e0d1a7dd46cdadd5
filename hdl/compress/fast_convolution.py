"""Pulse compression by fast convolution: overlap-save with two streaming FFTs."""

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .fast_convolution_plan import fast_convolution_plan
from .fft import FFT
from ..formats import ADC_WIDTH, COEF_WIDTH, MF_OUT_WIDTH, complex_layout, framed_layout
from ..numerics import check_rounding, saturate, shift_right

__all__ = ["FastConvolution"]

# Segments in flight between the segmenter and the output selector: the two FFTs
# hold at most two frames each, the multiplier a few samples.
_DESCRIPTORS = 8


def _framed(width):
    return stream.Signature(framed_layout(complex_layout(width)))


class _Segmenter(wiring.Component):
    """Range lines in, overlap-save segments of ``n`` samples out.

    Each segment is ``P - 1`` replayed samples (the previous segment's last new
    samples, read back from a ring buffer; zeros for a line's first segment), then
    up to ``S`` new input samples, then zeros to ``n`` if the line ended. One
    descriptor per segment goes to ``desc``: whether it starts a line, how many
    new samples it holds, and the line's ``last``/``cpi_end`` if it ends one.
    """

    def __init__(self, *, n, taps, input_width, width):
        self._n, self._taps, self._shift = n, taps, width - input_width
        self._ring = 1 << (taps - 2).bit_length()
        self.desc_layout = data.StructLayout({"first": 1, "count": range(n), "last": 1,
                                               "cpi_end": 1})
        super().__init__({"i": In(_framed(input_width)), "o": Out(_framed(width)),
                          "desc": Out(stream.Signature(self.desc_layout))})

    def elaborate(self, platform):
        m = Module()
        n, replay = self._n, self._taps - 1
        m.submodules.ring = ring = Memory(shape=self.i.payload.data.shape(), depth=self._ring,
                                          init=[])
        write, read = ring.write_port(), ring.read_port(domain="comb")
        head = Signal(range(self._ring))          # next ring address to write
        pos = Signal(range(n))                    # position in the segment
        fresh = Signal(init=1)                    # the segment starts a line
        ended = Signal()                          # the line ended: pad to n
        en = ~self.o.valid | self.o.ready
        new = (pos >= replay) & ~ended
        accept = Signal()
        done = Signal()                           # the new samples of the segment are over
        m.d.comb += [
            read.addr.eq(head - replay + pos),
            accept.eq(new & self.i.valid & en & self.desc.ready),
            self.i.ready.eq(new & en & self.desc.ready),
            done.eq(accept & (self.i.payload.last | (pos == n - 1))),
            write.addr.eq(head), write.data.eq(self.i.payload.data), write.en.eq(accept),
            self.desc.valid.eq(done),
            self.desc.payload.first.eq(fresh),
            self.desc.payload.count.eq(pos - replay),
            self.desc.payload.last.eq(self.i.payload.last),
            self.desc.payload.cpi_end.eq(self.i.payload.cpi_end),
        ]
        step = Signal()
        m.d.comb += step.eq(Mux(new, accept, en))
        with m.If(en):
            m.d.sync += self.o.valid.eq(Mux(new, accept, 1))
            sample = self.o.payload.data
            with m.If(new):
                m.d.sync += [sample.i.eq(self.i.payload.data.i << self._shift),
                             sample.q.eq(self.i.payload.data.q << self._shift)]
            with m.Elif((pos < replay) & ~fresh):
                m.d.sync += [sample.i.eq(read.data.i << self._shift),
                             sample.q.eq(read.data.q << self._shift)]
            with m.Else():
                m.d.sync += sample.as_value().eq(0)
        with m.If(accept):
            m.d.sync += head.eq(head + 1)
            with m.If(self.i.payload.last):
                m.d.sync += ended.eq(1)
        with m.If(step):
            m.d.sync += pos.eq(Mux(pos == n - 1, 0, pos + 1))
            with m.If(pos == n - 1):
                m.d.sync += [fresh.eq(ended | (accept & self.i.payload.last)), ended.eq(0)]
        return m


class _SpectrumMultiplier(wiring.Component):
    """``bin * H[bin] / 2**shift``, rounded and saturated, for bins in order.

    ``H`` sits in a RAM initialised with the plan's spectrum and written through
    the ``write`` port. Four cycles with one global enable: input and RAM read,
    operand registers, the four real products, the complex sum and rounding.
    """

    def __init__(self, *, spectrum, width, coef_width, shift, rounding):
        self._spectrum, self._width, self._cw = spectrum, width, coef_width
        self._shift, self._rounding = shift, rounding
        n = len(spectrum)
        super().__init__({
            "i": In(_framed(width)), "o": Out(_framed(width)), "overflow": Out(1),
            "write_addr": In(range(n)), "write_data": In(complex_layout(coef_width)),
            "write_en": In(1)})

    def elaborate(self, platform):
        m = Module()
        w, cw, n = self._width, self._cw, len(self._spectrum)
        m.submodules.ram = ram = Memory(shape=complex_layout(cw), depth=n, init=[
            {"i": int(h.real), "q": int(h.imag)} for h in self._spectrum])
        read, write = ram.read_port(domain="sync"), ram.write_port()
        m.d.comb += [write.addr.eq(self.write_addr), write.data.eq(self.write_data),
                     write.en.eq(self.write_en)]
        bin_ = Signal(range(n))
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en),
                     read.addr.eq(bin_), read.en.eq(en)]
        with m.If(self.i.valid & en):
            m.d.sync += bin_.eq(bin_ + 1)
        held = Signal.like(self.i.payload)
        x, h = Signal(complex_layout(w)), Signal(complex_layout(cw))
        flags, held_flags = Signal(3), Signal(3)
        live = Signal(3)
        xr_hr, xi_hi, xr_hi, xi_hr = (Signal(signed(w + cw), name=name)
                                      for name in ("xr_hr", "xi_hi", "xr_hi", "xi_hr"))
        re, ovf_re = saturate(shift_right(xr_hr - xi_hi, self._shift, self._rounding), w)
        im, ovf_im = saturate(shift_right(xr_hi + xi_hr, self._shift, self._rounding), w)
        carried = Cat(held.first, held.last, held.cpi_end)
        with m.If(en):
            m.d.sync += [
                held.eq(self.i.payload), live[0].eq(self.i.valid),
                x.eq(held.data), h.eq(read.data), flags.eq(carried), live[1].eq(live[0]),
                xr_hr.eq(x.i * h.i), xi_hi.eq(x.q * h.q), xr_hi.eq(x.i * h.q), xi_hr.eq(x.q * h.i),
                held_flags.eq(flags), live[2].eq(live[1]),
                self.o.valid.eq(live[2]), self.o.payload.data.i.eq(re), self.o.payload.data.q.eq(im),
                Cat(self.o.payload.first, self.o.payload.last, self.o.payload.cpi_end).eq(held_flags),
            ]
            with m.If(live[2] & (ovf_re | ovf_im)):
                m.d.sync += self.overflow.eq(1)
        return m


class FastConvolution(wiring.Component):
    """Pulse compression by overlap-save fast convolution, per range line.

    The same filter as :class:`amaradar.hdl.compress.matched_filter.MatchedFilter`: output
    sample ``k`` of a line is ``≈ sum_{j=0}^{min(k, P-1)} taps[j] * x[k-j] /
    2**output_shift``, every line filtered as if preceded by zeros, one output
    sample per input sample, ``first``/``last``/``cpi_end`` on the same samples as
    at the input. It is not bit-identical to the FIR (it rounds in other places);
    it has its own bit-exact model.

    Segmenting: ``P`` taps, FFT size ``n >= 2P``, step ``S = n - P + 1``. Each
    segment is ``P - 1`` samples replayed from a ring buffer of the input (zeros
    for the first segment of a line: the history is cleared per line), ``S`` new
    input samples, and zeros after the end of a line. It goes through a forward
    FFT, a multiplication by the stored spectrum ``H`` of the taps (the conjugate
    of the windowed pulse's spectrum, with its time reversal a linear phase), an
    inverse FFT; of the ``n`` results the first ``P - 1`` (circular wrap-around)
    are dropped and the next ``S`` (fewer at the end of a line) are the output.
    Lines are delimited by ``last`` (and may have any length >= 1); a line of
    ``L`` samples makes ``ceil(L / S)`` segments.

    Parameters
    ----------
    taps : sequence of complex int
        The ``P`` matched-filter taps (2 ... ``n/2``), parts in ``signed(16)`` or
        wider (see :func:`amaradar.sim.models.compress.matched_filter.matched_filter_taps`).
    n : int
        FFT size, a power of two from 8 to 4096, at least ``2P``.
    input_width : int
        Bits per part of the input (default ``formats.ADC_WIDTH``).
    output_width : int
        Bits per part of the output (default ``formats.MF_OUT_WIDTH``).
    output_shift : int
        The output scale: ``conv(x, taps) / 2**output_shift``, as the
        MatchedFilter's ``output_shift``
        (:func:`amaradar.sim.models.compress.matched_filter.safe_output_shift`).
    coef_width : int
        Bits per part of a stored spectrum word (default ``formats.COEF_WIDTH``).
    fft_width : int
        Bits per part of the FFTs' data (default 18; the FFTs carry 2 guard bits
        more inside).
    twiddle_width : int
        Bits per part of the FFTs' twiddles (default 18).
    rounding : {"half_even", "truncate"}
        How every dropped bit rounds.

    Members
    -------
    i : In(stream.Signature(framed_layout(complex_layout(input_width))))
        ADC samples; lines end at ``last``.
    o : Out(stream.Signature(framed_layout(complex_layout(output_width))))
        One compressed sample per input sample, with the input's flags.
    overflow : Out(1)
        Sticky: set when anything saturated (FFTs, product, output), cleared only
        by reset.
    spectrum_addr : In(range(n))
    spectrum_data : In(complex_layout(coef_width))
    spectrum_we : In(1)
        Write port of the spectrum RAM (initialised with the taps' spectrum at
        elaboration): ``H[spectrum_addr] = spectrum_data`` at a clock edge with
        ``spectrum_we`` high. Natural bin order, the scale of
        :func:`amaradar.sim.models.compress.fast_convolution.fast_convolution_spectrum`. Tie
        ``spectrum_we`` low to keep the elaborated spectrum; a write during a
        segment affects the segments whose bin passes the multiplier afterwards.

    Bit growth
    ----------
    Input parts enter the forward FFT as ``x << (fft_width - input_width)``; the
    forward FFT drops a bit per stage (``1/n``); the product ``X * H`` (``fft_width
    + coef_width + 1`` bits per part, exact) drops ``coef_width - 2`` (a gain of
    up to 2: ``1/n`` leaves a spread echo's spectrum far below full scale); the inverse
    FFT grows in its first stages and drops a bit in each of its last
    ``sum(plan.inverse_scaling)``;
    the output drops ``final_shift`` bits. ``plan`` holds these numbers; their sum
    makes the gain exactly ``2**-output_shift`` (module docstring of
    :mod:`amaradar.sim.models.compress.fast_convolution`).

    Rounding/overflow
    -----------------
    Every drop rounds with ``rounding`` and saturates (FFT stages, twiddles and
    outputs as in :class:`amaradar.hdl.compress.fft.FFT`; the product to ``fft_width``; the
    output to ``output_width``); every saturation sets ``overflow``. A full-scale
    LFM echo does not saturate anything with the ``safe_output_shift`` scale; a
    full-scale continuous tone on one bin can saturate the product or the inverse
    FFT (the FIR's worst case is spread over time, the FFT's over frequency).

    Latency/throughput
    ------------------
    The FFTs stream one sample per clock and there is no faster clock: a segment
    takes ``n`` cycles for ``S = n - P + 1`` new samples, so the sustained rate is
    ``S / n`` input (and output) samples per clock; ``i.ready`` is low during the
    ``P - 1`` replay cycles of every segment and the padding at the end of each
    line. Upstream stalls absorb it (the chain's sources hold ``valid`` until
    ``ready``). ``latency``: cycles from the transfer of a line's first input
    sample to its first output sample being offered, without stalls; the first
    output comes out only after the whole segment went through the forward FFT's
    reorder and the inverse FFT. Resources: two FFT cores (``2*floor(log2(n)/2)``
    complex twiddle multipliers), one complex spectrum multiplier (4 real
    multipliers), ``n`` words of spectrum RAM, a ring buffer of ``P - 1`` (rounded
    up to a power of two) input samples.

    Model
    -----
    :func:`amaradar.sim.models.compress.fast_convolution.fast_convolution`, bit-exact;
    :func:`amaradar.sim.models.compress.fast_convolution.fast_convolution_ideal` is the float model.
    """

    def __init__(self, *, taps, n, input_width=ADC_WIDTH, output_width=MF_OUT_WIDTH,
                 output_shift=0, coef_width=COEF_WIDTH, fft_width=18, twiddle_width=18,
                 rounding="half_even"):
        check_rounding(rounding)
        self.plan = fast_convolution_plan(taps, n=n, input_width=input_width,
                                          output_width=output_width, output_shift=output_shift,
                                          coef_width=coef_width, fft_width=fft_width)
        fft_args = dict(n=n, width=fft_width, twiddle_width=twiddle_width, rounding=rounding)
        self.n, self.input_width, self.output_width = n, input_width, output_width
        self.coef_width, self.fft_width, self.rounding = coef_width, fft_width, rounding
        self._forward = forward = FFT(scaling=self.plan.forward_scaling, **fft_args)
        self._inverse = inverse = FFT(inverse=True, scaling=self.plan.inverse_scaling, **fft_args)
        # Measured from the line's first input transfer (the segment's P-th sample;
        # the replay before it does not wait for the input): the two cores, the
        # multiplier's 4 cycles and the segmenter's and selector's registers.
        self.latency = forward.latency + inverse.latency + 6
        super().__init__({
            "i": In(_framed(input_width)), "o": Out(_framed(output_width)), "overflow": Out(1),
            "spectrum_addr": In(range(n)), "spectrum_data": In(complex_layout(coef_width)),
            "spectrum_we": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        n, taps, fw = self.n, self.plan.taps, self.fft_width
        m.submodules.segmenter = seg = _Segmenter(n=n, taps=taps, input_width=self.input_width,
                                                  width=fw)
        m.submodules.forward = forward = self._forward
        m.submodules.multiplier = mul = _SpectrumMultiplier(
            spectrum=self.plan.spectrum, width=fw, coef_width=self.coef_width,
            shift=self.plan.product_shift, rounding=self.rounding)
        m.submodules.inverse = inverse = self._inverse
        m.submodules.descriptors = desc = fifo.SyncFIFO(
            width=len(seg.desc.payload.as_value()), depth=_DESCRIPTORS)
        wiring.connect(m, wiring.flipped(self.i), seg.i)
        wiring.connect(m, seg.o, forward.i)
        wiring.connect(m, forward.o, mul.i)
        wiring.connect(m, mul.o, inverse.i)
        m.d.comb += [
            desc.w_data.eq(seg.desc.payload.as_value()), desc.w_en.eq(seg.desc.valid),
            seg.desc.ready.eq(desc.w_rdy),
            mul.write_addr.eq(self.spectrum_addr), mul.write_data.eq(self.spectrum_data),
            mul.write_en.eq(self.spectrum_we),
        ]

        # Selector: keep positions P-1 ... P-1+count of each inverse-FFT frame.
        info = Signal(seg.desc.payload.shape())
        m.d.comb += info.as_value().eq(desc.r_data)
        pos = Signal(range(n))
        offset = pos - (taps - 1)
        keep = (pos >= taps - 1) & (offset <= info.count)
        en = ~self.o.valid | self.o.ready
        tail = inverse.o
        take = tail.valid & desc.r_rdy & Mux(keep, en, 1)
        m.d.comb += [tail.ready.eq(desc.r_rdy & Mux(keep, en, 1)),
                     desc.r_en.eq(take & (pos == n - 1))]
        re, ovf_re = saturate(shift_right(tail.payload.data.i, self.plan.final_shift, self.rounding),
                              self.output_width)
        im, ovf_im = saturate(shift_right(tail.payload.data.q, self.plan.final_shift, self.rounding),
                              self.output_width)
        end = offset == info.count
        with m.If(en):
            m.d.sync += [
                self.o.valid.eq(take & keep),
                self.o.payload.data.i.eq(re), self.o.payload.data.q.eq(im),
                self.o.payload.first.eq(info.first & (offset == 0)),
                self.o.payload.last.eq(info.last & end),
                self.o.payload.cpi_end.eq(info.cpi_end & end),
            ]
        with m.If(take):
            m.d.sync += pos.eq(Mux(pos == n - 1, 0, pos + 1))
        output_overflow = Signal()
        with m.If(take & keep & (ovf_re | ovf_im)):
            m.d.sync += output_overflow.eq(1)
        m.d.comb += self.overflow.eq(output_overflow | forward.overflow | mul.overflow
                                     | inverse.overflow)
        return m
