"""Doppler filter bank: slow-time window and an M-point FFT per range bin, one sample per clock."""

import operator

from amaranth import Cat, Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..compress.fft import FFT
from ..compress.fft_tables import check_fft_parameters
from ..formats import COEF_WIDTH, complex_layout, framed_layout
from ..numerics import saturate, shift_right
from ..stream.pipeline import delay, multiply, product_latency
from ...spec.checks import check_integer

__all__ = ["DopplerFilter", "MIN_PULSES", "MAX_PULSES", "doppler_parameters"]

MIN_PULSES, MAX_PULSES = 8, 256


def doppler_parameters(*, pulses, width, window, coef_width, output_width, twiddle_width,
                       scaling, guard_bits):
    """Check the parameters that the gateware and its model share.

    Returns
    -------
    coefficients : tuple of int
        The window ROM: ``(-1)**m * window[m]``, ``signed(coef_width)``.
    scaling : tuple of int
        The FFT's schedule, one shift per radix-2 stage.
    output_width : int
        ``width`` if ``output_width`` is None.
    shift : int
        Bits the window stage drops from ``x * c``:
        ``coef_width - 1 - (output_width - width)`` (negative: a left shift).
    """
    check_integer("pulses", pulses, MIN_PULSES, MAX_PULSES)
    if pulses & (pulses - 1):
        raise ValueError(f"pulses must be a power of two, not {pulses}")
    check_integer("width", width, 2, 24)
    output_width = width if output_width is None else output_width
    check_integer("output_width", output_width, 2, 24)
    check_integer("coef_width", coef_width, 2, 24)
    scaling = check_fft_parameters(pulses, output_width, twiddle_width, scaling, "half_even",
                                   guard_bits)
    if isinstance(window, (str, bytes)):
        raise TypeError(f"window must be a sequence of integers, not {window!r}")
    try:
        values = list(window)
    except TypeError:
        raise TypeError(f"window must be a sequence of integers, not {window!r}") from None
    if len(values) != pulses:
        raise ValueError(f"window must have pulses = {pulses} values, not {len(values)}")
    top = (1 << (coef_width - 1)) - 1
    words = []
    for m, value in enumerate(values):
        if isinstance(value, bool):
            raise TypeError(f"window must hold integers; window[{m}] is {value!r}")
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"window must hold integers; window[{m}] is {value!r}") from None
        if not 0 <= value <= top:
            raise ValueError(f"window[{m}] = {value} is outside 0 ... 2**(coef_width - 1) - 1 "
                             f"= {top}")
        words.append(-value if m % 2 else value)
    return tuple(words), scaling, output_width, coef_width - 1 - (output_width - width)


class DopplerFilter(wiring.Component):
    """Doppler filter bank: window each slow-time line, FFT it, zero Doppler in the middle.

    For each range bin the ``M`` pulses of the CPI (a slow-time line from the
    corner turn) are weighted by the slow-time window and transformed by an
    ``M``-point FFT (:class:`amaradar.hdl.compress.fft.FFT`). The window ROM holds
    ``c[m] = (-1)**m * window[m]``: multiplying by ``(-1)**m = exp(j pi m)``
    shifts the spectrum by ``M/2`` bins, so the FFT's natural-order output is
    already in ``fftshift`` order. Output ``d = 0 ... M-1`` of a range bin is the
    Doppler filter centred at ``f = (d - M/2) * PRF / M``: zero Doppler at
    ``d = M/2``, a closing target (``f > 0``) above it, ``-PRF/2`` at ``d = 0``;
    a tone at ``f`` peaks in ``d = M/2 + round(f M / PRF)`` (modulo ``M``).

    The pulse index ``m`` (and the FFT's frame) counts input samples modulo ``M``
    from reset: every line must have exactly ``M`` samples, with ``first`` on
    pulse 0 and ``last`` on pulse ``M - 1``; ``misframed`` reports a line that
    does not.

    Parameters
    ----------
    pulses : int
        ``M``, pulses per CPI, a power of two from 8 to 256.
    width : int
        Bits per part of the input samples (signed), 2 ... 24.
    window : sequence of int
        ``M`` unsigned window words ``0 ... 2**(coef_width - 1) - 1``, the largest
        standing for 1 (see
        :func:`amaradar.sim.models.doppler.doppler_filter.doppler_window`).
    coef_width : int
        Bits of the signed ROM word ``c[m]`` (default ``formats.COEF_WIDTH``).
    output_width : int, optional
        Bits per part of the FFT and the output, 2 ... 24 (default ``width``).
    twiddle_width : int
        Bits per part of the FFT's twiddles (default ``formats.COEF_WIDTH``).
    scaling : sequence of {0, 1}, length log2(M), optional
        The FFT's shifts per radix-2 stage (default 1 each: ``1/M`` in all).
    guard_bits : int
        The FFT's extra internal fraction bits (default 2).

    Members
    -------
    i : In(stream.Signature(framed_layout(complex_layout(width))))
        Slow-time lines: for each range bin its ``M`` pulses in order, ``first``
        on pulse 0, ``last`` on pulse ``M - 1``, ``cpi_end`` on the CPI's last
        sample.
    o : Out(stream.Signature(framed_layout(complex_layout(output_width))))
        For each range bin its ``M`` Doppler bins, ``d = 0 ... M-1``: ``first`` on
        ``d = 0`` and ``last`` on ``d = M-1`` (each copied from pulse 0's ``first``
        and pulse ``M-1``'s ``last``), ``cpi_end`` on the range bin's ``d = M-1``
        when its pulse ``M - 1`` had it.
    overflow : Out(1)
        Sticky: any saturation, in the window stage or in the FFT.
    misframed : Out(1)
        Sticky: an input sample's ``first`` or ``last`` disagreed with its pulse
        index (``first`` exactly on ``m = 0``, ``last`` exactly on ``m = M-1``).
        The data path does not resynchronise; reset it.

    Attributes
    ----------
    latency : int
        Cycles from a line's first input transfer to its first Doppler bin being
        offered, without stalls.
    window_shift : int
        Bits dropped after the window product (negative: shifted left).
    coefficients : tuple of int
        The window ROM, ``(-1)**m * window[m]``.

    Bit growth
    ----------
    The window product ``x * c`` is exact (``width + coef_width`` bits). The
    window stage scales it by ``2**(output_width - width) / 2**(coef_width - 1)``,
    so a full-scale input with window word ``2**(coef_width-1) - 1`` is a
    full-scale FFT input: it drops ``window_shift`` bits. The FFT keeps
    ``output_width`` bits per part (``output_width + guard_bits`` inside) and
    drops ``scaling`` as :class:`~amaradar.hdl.compress.fft.FFT` documents; with
    the default the output is ``X[d] = 2**(output_width-width) / M * sum_m x[m]
    w[m] exp(-2j pi (d - M/2) m / M)`` plus round-off.

    Rounding/overflow
    -----------------
    The window stage rounds half to even (:func:`amaradar.hdl.numerics.shift_right`)
    and saturates to ``signed(output_width)``. The scaled product lies within
    ``±(2**(output_width-1) - 2**(output_width-coef_width))``, so the saturation
    can engage only when ``coef_width > output_width``: then a part of
    ``-2**(width-1)`` on an odd pulse whose word is (close to) the largest rounds
    up to ``2**(output_width-1)``. The FFT rounds every dropped bit half to even
    and saturates (see its docstring for when). Any saturation sets ``overflow``.

    Latency/throughput
    ------------------
    One sample per clock sustained, range bins back to back. Window stage: the
    sample and the ROM word (synchronous read) in registers, the two real
    products in ``d = pipeline.product_latency`` stages (2 for operands of up to
    18 bits), rounding and saturation into the FFT's input register:
    ``d + 2`` cycles. ``latency = d + 2 + FFT.latency`` (the FFT waits for the
    whole line). ``i.ready`` is the window stage's enable, ``~v | r`` of its
    output register into the FFT, so it depends combinationally on the FFT's
    first stages (up to their first skid buffer), not on ``o.ready`` directly.
    Resources: an ``M``-word ROM of ``coef_width`` bits, two real multipliers
    (registered, DSP-mapped, more pieces above 18 bits), and the FFT's: delay
    FIFOs of ``M/2 + M/4 + ... + 1`` words, ``M`` words of reorder RAM and
    ``floor((log2(M) - 1) / 2)`` complex multipliers.

    Model
    -----
    :func:`amaradar.sim.models.doppler.doppler_filter.doppler_filter` (bit-exact),
    :func:`amaradar.sim.models.doppler.doppler_filter.doppler_filter_ideal` (float).
    """

    def __init__(self, *, pulses, width, window, coef_width=COEF_WIDTH, output_width=None,
                 twiddle_width=COEF_WIDTH, scaling=None, guard_bits=2):
        coefficients, scaling, output_width, shift = doppler_parameters(
            pulses=pulses, width=width, window=window, coef_width=coef_width,
            output_width=output_width, twiddle_width=twiddle_width, scaling=scaling,
            guard_bits=guard_bits)
        self.pulses, self.width, self.coef_width = pulses, width, coef_width
        self.output_width, self.twiddle_width = output_width, twiddle_width
        self.guard_bits = guard_bits
        self.scaling = scaling
        self.coefficients = coefficients
        self.window_shift = shift
        self._fft = FFT(n=pulses, width=output_width, twiddle_width=twiddle_width,
                        scaling=scaling, rounding="half_even", guard_bits=guard_bits)
        self._product_latency = product_latency(signed(width), signed(coef_width))
        self.latency = self._product_latency + 2 + self._fft.latency
        super().__init__({
            "i": In(stream.Signature(framed_layout(complex_layout(width)))),
            "o": Out(stream.Signature(framed_layout(complex_layout(output_width)))),
            "overflow": Out(1),
            "misframed": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        pulses, shift = self.pulses, self.window_shift
        m.submodules.fft = fft = self._fft
        wiring.connect(m, fft.o, wiring.flipped(self.o))

        m.submodules.rom = rom = Memory(shape=signed(self.coef_width), depth=pulses,
                                        init=self.coefficients)
        read = rom.read_port(domain="sync")

        # One enable for the window stage, whose output register is the FFT's input.
        en = Signal()
        take = Signal()
        m.d.comb += [en.eq(~fft.i.valid | fft.i.ready),
                     self.i.ready.eq(en),
                     take.eq(self.i.valid & en)]

        # Stage 0: the sample and its window word (the ROM's registered read).
        pulse = Signal(range(pulses))          # wraps at M, a power of two
        m.d.comb += [read.addr.eq(pulse), read.en.eq(en)]
        sample = Signal(complex_layout(self.width), reset_less=True)
        flags = Signal(3, reset_less=True)
        valid = Signal()
        payload = self.i.payload
        with m.If(en):
            m.d.sync += [sample.eq(payload.data), valid.eq(self.i.valid),
                         flags.eq(Cat(payload.first, payload.last, payload.cpi_end))]
        with m.If(take):
            m.d.sync += pulse.eq(pulse + 1)
            with m.If((payload.first != (pulse == 0)) | (payload.last != (pulse == pulses - 1))):
                m.d.sync += self.misframed.eq(1)

        # Stages 1 ... d: the two real products; then rounding and saturation.
        products = [multiply(m, en, getattr(sample, part), read.data, f"product_{part}")[0]
                    for part in ("i", "q")]
        valid_d = delay(m, en, valid, self._product_latency, "valid", reset_less=False)
        flags_d = delay(m, en, flags, self._product_latency, "flags")
        parts, overflows = [], []
        for product in products:
            scaled = shift_right(product, shift, "half_even") if shift >= 0 else product << -shift
            part, over = saturate(scaled, self.output_width)
            parts.append(part)
            overflows.append(over)
        with m.If(en):
            m.d.sync += [
                fft.i.valid.eq(valid_d),
                fft.i.payload.data.i.eq(parts[0]), fft.i.payload.data.q.eq(parts[1]),
                fft.i.payload.first.eq(flags_d[0]), fft.i.payload.last.eq(flags_d[1]),
                fft.i.payload.cpi_end.eq(flags_d[2]),
            ]
        window_overflow = Signal()
        with m.If(en & valid_d & (overflows[0] | overflows[1])):
            m.d.sync += window_overflow.eq(1)
        m.d.comb += self.overflow.eq(window_overflow | fft.overflow)
        return m
