"""Corner turn: range lines in, slow-time sequences of each range bin out, in one buffer."""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..formats import complex_layout, framed_layout
from ...spec.checks import check_integer

__all__ = ["CornerTurn"]

_NORMAL, _PAD, _DROP = 0, 1, 2


def _address_sequence(m, step, *, n, line_length, first_stride, name):
    """Registers stepping through ``a(j) = j * s mod (n - 1)``, ``a(n - 1) = n - 1``.

    Returns ``(index, address)``: ``index`` is ``j``, ``address`` is ``a(j)``; both
    advance on ``step``. After the sequence's last step the stride becomes
    ``s * line_length mod (n - 1)``, which is the address the sequence held at
    ``j = line_length`` (captured then, so no multiplier is needed).
    """
    index = Signal(range(n), name=f"{name}_index")
    address = Signal(range(n), name=f"{name}_address")
    stride = Signal(range(n - 1), init=first_stride, name=f"{name}_stride")
    next_stride = Signal(range(n - 1), name=f"{name}_next_stride")
    total = Signal(range(2 * (n - 1)), name=f"{name}_sum")
    m.d.comb += total.eq(address + stride)
    with m.If(step):
        with m.If(index == n - 1):
            m.d.sync += [index.eq(0), address.eq(0), stride.eq(next_stride)]
        with m.Else():
            m.d.sync += index.eq(index + 1)
            with m.If(index == n - 2):
                m.d.sync += address.eq(n - 1)
            with m.Else():
                m.d.sync += address.eq(Mux(total >= n - 1, total - (n - 1), total))
        with m.If(index == line_length):
            m.d.sync += next_stride.eq(address)
    return index, address


class CornerTurn(wiring.Component):
    """Corner turn (range x pulse transpose) of complex samples in one in-place buffer.

    A CPI enters as ``M`` range lines of ``L`` samples, sample ``(m, r)`` (pulse
    ``m``, range bin ``r``) at input position ``j = m*L + r``. It leaves bin-major:
    for each range bin ``r = 0 ... L-1`` the ``M`` samples ``(0, r) ... (M-1, r)``,
    at output position ``t = r*M + m``: each output "line" is the slow-time sequence
    of one range bin, which Doppler processing needs.

    The buffer holds one CPI, ``N = L*M`` words, not two: each sample of CPI
    ``k+1`` is written to the word that CPI ``k``'s reader has just freed. CPI 0 is
    written at ``a_0(j) = j``. Reading CPI ``k`` at step ``t`` needs the sample at
    ``j = P(t) = t*L mod (N-1)`` (``P(N-1) = N-1``), so CPI ``k+1``'s sample ``j``
    goes to ``a_{k+1}(j) = a_k(P(j))``, which gives
    ``a_k(j) = j * L**k mod (N-1)`` for ``j < N-1`` and ``a_k(N-1) = N-1``; CPI
    ``k`` is read in the order ``a_{k+1}``. ``L`` is prime to ``N-1 = L*M-1``, so
    every stride ``L**k mod (N-1)`` is non-zero and every ``a_k`` a permutation.
    The writer and the reader each step an accumulator that adds its stride
    modulo ``N-1`` per sample (one compare-and-subtract), and at the end of a CPI
    take as the next stride ``L * stride mod (N-1)``, which is the accumulator's
    value at ``j = L``.

    Parameters
    ----------
    line_length : int
        ``L``, samples (range bins) per range line, ``>= 2``.
    pulses : int
        ``M``, range lines (pulses) per CPI, ``2 ... 4096``.
    width : int
        Bits of each of ``i`` and ``q``, ``1 ... 32``.

    Members
    -------
    i : In(stream.Signature(framed_layout(complex_layout(width))))
        Range lines: ``first`` on a line's sample 0, ``last`` on its sample
        ``L-1``, ``cpi_end`` together with ``last`` on the CPI's final line.
    o : Out(stream.Signature(framed_layout(complex_layout(width))))
        Bin-major samples: ``first`` on ``m = 0``, ``last`` on ``m = M-1``,
        ``cpi_end`` on ``(r, m) = (L-1, M-1)``. The output framing comes from the
        block's own counters and is always exactly ``L*M`` samples per CPI.
    framing_error : Out(1)
        Sticky: an input sample's ``first``, ``last`` or ``cpi_end`` disagreed
        with the position the block's counters gave it (``first`` iff ``r = 0``,
        ``last`` iff ``r = L-1``, ``cpi_end`` iff ``(m, r) = (M-1, L-1)``).

    Framing
    -------
    The block counts positions itself; the input's markers are only checked,
    except for the end of a CPI (a sample with both ``last`` and ``cpi_end``),
    where the block resynchronises:

    - a CPI that ends early, at ``j < N-1``, is completed with zero samples
      (written at one per clock while ``i.ready`` is low);
    - a CPI still running at ``j = N-1`` is cut there: sample ``N-1`` ends it and
      the input is consumed and dropped up to and including the next sample with
      ``last`` and ``cpi_end``; the one after it starts a new CPI.

    Both raise ``framing_error``. Within a CPI a misplaced ``first``/``last`` (or
    ``cpi_end`` without ``last``) raises the flag and nothing else: the sample
    keeps the position the counters gave it.

    Bit growth
    ----------
    None: samples are stored and returned unchanged.

    Rounding/overflow
    -----------------
    None: no bits are dropped. A short CPI is completed with zeros and the
    excess of a long one dropped, both flagged by ``framing_error``.

    Latency/throughput
    ------------------
    One sample per clock in and out, sustained: CPI ``k+1`` is written while CPI
    ``k`` is read, so ``K`` CPIs take ``(K+1)*L*M + 1`` cycles with neither side
    stalled. Reading of a CPI starts in the cycle its last sample is written (if
    the output pipeline moves then; else as soon as it does) and the writer never overtakes the reader: sample ``j``
    is accepted only once the reader has read step ``j`` of the previous CPI in
    an earlier cycle, otherwise ``i.ready`` is low (so a read and a write never
    meet on one address in one cycle). ``latency = L*M + 1`` cycles from the
    transfer of a CPI's first sample to the offer of its first output, without
    stalls: the memory's synchronous read port and one output register, both on
    the enable ``~o.valid | o.ready``. ``i.ready`` depends on registers only.

    Memory: one ``amaranth.lib.memory.Memory`` of ``L*M`` words of ``2*width``
    bits (one write port, one synchronous read port), which Yosys maps to block
    RAM. ECP5 LFE5U-85F: 208 DP16KD of 512 x 36 bits hold up to 106,496 words of
    2 x 18 bits, so 4096 range bins x 16 pulses x 36 bits (128 blocks) fit as one
    buffer, where two (ping-pong) would need 256 blocks. Gowin GW1NR-9: 26 BSRAM
    of 512 x 36 hold up to 13,312 such words. iCE40UP5K: the 30 EBR of 256 x 16
    hold at most 7,680 words of 16 bits (3,840 of 32), not enough for a useful
    CPI beside the rest of the chain; its 4 SPRAM (16,384 x 16 each,
    single-port) would need an ``SB_SPRAM256KA`` instance and, being single-port,
    two samples per word or half rate: not done here. Logic: the two address
    accumulators with their strides, two position counters, one comparator.

    Model
    -----
    :func:`amaradar.sim.models.doppler.corner_turn.corner_turn` (well-framed
    lines) and :func:`amaradar.sim.models.doppler.corner_turn.corner_turn_stream`
    (any framing, with the per-sample framing errors), bit-exact;
    :func:`amaradar.sim.models.doppler.corner_turn.corner_turn_addresses` gives
    the buffer addresses.
    """

    def __init__(self, *, line_length, pulses, width):
        self.line_length = check_integer("line_length", line_length, 2)
        self.pulses = check_integer("pulses", pulses, 2, 4096)
        self.width = check_integer("width", width, 1, 32)
        self.depth = self.line_length * self.pulses
        self.latency = self.depth + 1
        layout = framed_layout(complex_layout(self.width))
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(layout)),
            "framing_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        L, M, n = self.line_length, self.pulses, self.depth
        sample = self.i.payload

        m.submodules.ram = ram = Memory(shape=complex_layout(self.width), depth=n, init=[])
        write, read = ram.write_port(), ram.read_port(domain="sync")

        mode = Signal(range(3), init=_NORMAL)
        loaded = Signal()          # a complete CPI is in the buffer and being read
        column = Signal(range(L))  # writer's range bin r
        write_step = Signal()
        read_step = Signal()
        en = Signal()

        w_index, w_address = _address_sequence(m, write_step, n=n, line_length=L,
                                               first_stride=1, name="write")
        r_index, r_address = _address_sequence(m, read_step, n=n, line_length=L,
                                               first_stride=L, name="read")

        # Writer: sample j may go to its word once the reader of the previous CPI
        # has read step j in an earlier cycle (or no CPI is waiting to be read).
        free = Signal()
        take = Signal()
        m.d.comb += [
            free.eq(~loaded | (w_index < r_index)),
            self.i.ready.eq(Mux(mode == _NORMAL, free, mode == _DROP)),
            take.eq(self.i.valid & self.i.ready),
            write_step.eq(Mux(mode == _NORMAL, take, (mode == _PAD) & free)),
            write.en.eq(write_step),
            write.addr.eq(w_address),
            write.data.eq(Mux(mode == _NORMAL, sample.data, 0)),
        ]
        at_end = w_index == n - 1
        ends = sample.last & sample.cpi_end
        with m.If(write_step):
            m.d.sync += column.eq(Mux(column == L - 1, 0, column + 1))
        with m.If(take & (mode == _NORMAL)):
            with m.If((sample.first != (column == 0)) | (sample.last != (column == L - 1)) |
                      (sample.cpi_end != at_end)):
                m.d.sync += self.framing_error.eq(1)
            with m.If(at_end & ~ends):
                m.d.sync += mode.eq(_DROP)
            with m.Elif(~at_end & ends):
                m.d.sync += mode.eq(_PAD)
        with m.If((mode == _PAD) & write_step & at_end):
            m.d.sync += mode.eq(_NORMAL)
        with m.If(take & (mode == _DROP) & ends):
            m.d.sync += mode.eq(_NORMAL)

        # Reader: starts a CPI in the cycle its last sample is written. The read
        # port's data and the output register advance on one enable.
        completes = write_step & at_end
        pulse = Signal(range(M))
        valid1 = Signal()
        flags1 = Signal(3)
        m.d.comb += [
            en.eq(~self.o.valid | self.o.ready),
            read_step.eq(en & (loaded | completes)),
            read.en.eq(en),
            read.addr.eq(r_address),
        ]
        with m.If(read_step):
            m.d.sync += pulse.eq(Mux(pulse == M - 1, 0, pulse + 1))
        with m.If(completes):
            m.d.sync += loaded.eq(1)
        with m.Elif(read_step & (r_index == n - 1)):
            m.d.sync += loaded.eq(0)
        with m.If(en):
            m.d.sync += [
                valid1.eq(read_step),
                flags1.eq(Mux(read_step, Cat(pulse == 0, pulse == M - 1, r_index == n - 1), 0)),
                self.o.valid.eq(valid1),
                self.o.payload.data.eq(read.data),
                self.o.payload.first.eq(flags1[0]),
                self.o.payload.last.eq(flags1[1]),
                self.o.payload.cpi_end.eq(flags1[2]),
            ]
        return m
