"""Corner turn: range lines in, slow-time sequences of each range bin out, in one buffer."""

from amaranth import Array, Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

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
    bank_depth : int
        Words per block-RAM bank, a power of two (2048: on the ECP5, four DP16KD
        of 2048 x 9 bits hold a bank of 2 x 18-bit words).

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
    ``k`` is read, so ``K`` CPIs take ``(K+1)*L*M + 4 + mux_levels`` cycles with
    neither side stalled. Reading of a CPI starts in the cycle its last sample is
    written, and the writer never overtakes the reader: sample ``j`` is accepted
    only once the reader has issued step ``j`` of the previous CPI in an earlier
    cycle, otherwise ``i.ready`` is low (writes and reads reach the banks one
    cycle after their step, so a word is read before it is overwritten).
    ``latency = L*M + 4 + mux_levels`` cycles from the transfer of a CPI's first
    sample to the offer of its first output, without stalls: the read address
    register, the bank's read register (in the block RAM), the bank's data
    register, ``mux_levels = ceil(log4(banks))`` levels of registered 4:1
    multiplexers (see Memory) and the output queue (two). A read is issued only
    while fewer than ``queue_depth = 6 + mux_levels`` words are between issue and
    output transfer (a credit count), so the read pipeline never waits on
    ``o.ready`` and the output queue, an ``amaranth.lib.fifo.SyncFIFOBuffered`` of
    ``queue_depth`` words, never overflows; that depth is one round trip, so the
    credit does not slow an unstalled output. The block holds at most
    ``L*M + queue_depth`` words. ``i.ready`` depends on registers only.

    Memory: ``banks = ceil(L*M / bank_depth)`` ``amaranth.lib.memory.Memory`` of
    ``bank_depth`` words of ``2*width`` bits (the last one shorter if need be;
    one write port, one read port whose register is the block RAM's), which
    Yosys maps to block RAM, marked ``no_rw_check`` (no read meets a write to its
    word in one cycle, so no read-during-write logic follows the block RAM); word
    ``a`` is in bank ``a // bank_depth``; the addresses, the write data and each
    bank's write enable are registered before their fan-out. ECP5 LFE5U-85F: a bank of 2048
    words of 2 x 18 bits is four DP16KD of 2048 x 9 bits, no multiplexer, and the
    208 DP16KD hold up to 106,496 words, so 4096 range bins x 16 pulses x 36 bits
    (32 banks, 128 blocks) fit as one buffer, where two (ping-pong) would need
    256 blocks. Gowin GW1NR-9: 26 BSRAM of 512 x 36 hold up to 13,312 such words.
    iCE40UP5K: the 30 EBR of 256 x 16 hold at most 7,680 words of 16 bits (3,840
    of 32), not enough for a useful CPI beside the rest of the chain; its 4 SPRAM
    (16,384 x 16 each, single-port) would need an ``SB_SPRAM256KA`` instance and,
    being single-port, two samples per word or half rate: not done here. Logic:
    the two address accumulators with their strides, two position counters, one
    comparator, the credit count, the banks' data registers, the multiplexers
    and the queue (LUT RAM).

    Model
    -----
    :func:`amaradar.sim.models.doppler.corner_turn.corner_turn` (well-framed
    lines) and :func:`amaradar.sim.models.doppler.corner_turn.corner_turn_stream`
    (any framing, with the per-sample framing errors), bit-exact;
    :func:`amaradar.sim.models.doppler.corner_turn.corner_turn_addresses` gives
    the buffer addresses.
    """

    def __init__(self, *, line_length, pulses, width, bank_depth=2048):
        self.line_length = check_integer("line_length", line_length, 2)
        self.pulses = check_integer("pulses", pulses, 2, 4096)
        self.width = check_integer("width", width, 1, 32)
        self.bank_depth = check_integer("bank_depth", bank_depth, 1)
        if bank_depth & (bank_depth - 1):
            raise ValueError(f"bank_depth must be a power of two, not {bank_depth}")
        self.depth = self.line_length * self.pulses
        self.banks = -(-self.depth // bank_depth)
        self.mux_levels = -(-ceil_log2(self.banks) // 2)
        self.latency = self.depth + 4 + self.mux_levels
        self.queue_depth = 6 + self.mux_levels
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

        mode = Signal(range(3), init=_NORMAL)
        loaded = Signal()          # a complete CPI is in the buffer and being read
        column = Signal(range(L))  # writer's range bin r
        write_step = Signal()
        read_step = Signal()

        w_index, w_address = _address_sequence(m, write_step, n=n, line_length=L,
                                               first_stride=1, name="write")
        r_index, r_address = _address_sequence(m, read_step, n=n, line_length=L,
                                               first_stride=L, name="read")

        # Writer: sample j may go to its word once the reader of the previous CPI
        # has issued step j in an earlier cycle (or no CPI is waiting to be read).
        free = Signal()
        take = Signal()
        m.d.comb += [
            free.eq(~loaded | (w_index < r_index)),
            self.i.ready.eq(Mux(mode == _NORMAL, free, mode == _DROP)),
            take.eq(self.i.valid & self.i.ready),
            write_step.eq(Mux(mode == _NORMAL, take, (mode == _PAD) & free)),
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

        # Reader: starts a CPI in the cycle its last sample is written. A read is
        # issued only on credit (room in the output queue when it arrives there),
        # so the pipeline behind it never stalls.
        completes = write_step & at_end
        pulse = Signal(range(M))
        credit = Signal(range(self.queue_depth + 1), init=self.queue_depth)
        m.d.comb += read_step.eq((credit != 0) & (loaded | completes))
        m.d.sync += credit.eq(credit - read_step + (self.o.valid & self.o.ready))
        with m.If(read_step):
            m.d.sync += pulse.eq(Mux(pulse == M - 1, 0, pulse + 1))
        with m.If(completes):
            m.d.sync += loaded.eq(1)
        with m.Elif(read_step & (r_index == n - 1)):
            m.d.sync += loaded.eq(0)

        # Both addresses, the write data and each bank's write enable are registered
        # before their fan-out to the banks; a write lands one cycle after its step,
        # a read one cycle after its issue, so a word is still read before it is
        # overwritten.
        word_bits = exact_log2(self.bank_depth)
        write_address = Signal.like(w_address)
        write_data = Signal.like(sample.data)
        read_address = Signal.like(r_address)
        m.d.sync += [
            write_address.eq(w_address),
            write_data.eq(Mux(mode == _NORMAL, sample.data, 0)),
            read_address.eq(r_address),
        ]
        outputs = []
        for b in range(self.banks):
            bank = Memory(shape=complex_layout(self.width), init=[], attrs={"no_rw_check": 1},
                          depth=min(self.bank_depth, n - b * self.bank_depth))
            m.submodules["ram" if self.banks == 1 else f"ram{b}"] = bank
            write, read = bank.write_port(), bank.read_port(domain="comb")
            write_en = Signal(name=f"bank{b}_write")
            m.d.sync += write_en.eq(write_step & (w_address[word_bits:] == b))
            m.d.comb += [
                write.en.eq(write_en),
                write.addr.eq(write_address),
                write.data.eq(write_data),
                read.addr.eq(read_address),
            ]
            # the first register goes into the block RAM's read port, the second
            # takes the block RAM's slow clock-to-output alone
            word = Signal(2 * self.width, name=f"bank{b}_word")
            data = Signal(2 * self.width, name=f"bank{b}_data")
            m.d.sync += [word.eq(read.data), data.eq(word)]
            outputs.append(data)

        # Beside each read travel its valid, first, last, cpi_end and bank, one
        # register per stage: the address register, the block RAM's read register,
        # the bank's data register, then each level of 4:1 multiplexers.
        flags = Cat(read_step, pulse == 0, pulse == M - 1, r_index == n - 1)
        tags = []
        for stage in range(3 + self.mux_levels):
            tag = Signal(len(flags) + ceil_log2(self.banks), name=f"tag{stage}")
            m.d.sync += tag.eq(tags[-1] if tags else Cat(flags, r_address[word_bits:]))
            tags.append(tag)
        for level in range(self.mux_levels):
            select = tags[2 + level][len(flags) + 2 * level:][:2]
            merged = []
            for g in range(0, len(outputs), 4):
                data = Signal(2 * self.width, name=f"mux{level}_{g // 4}")
                m.d.sync += data.eq(Array(outputs[g:g + 4])[select])
                merged.append(data)
            outputs = merged

        m.submodules.queue = queue = SyncFIFOBuffered(
            width=len(flags) - 1 + 2 * self.width, depth=self.queue_depth)
        arrived = tags[-1]
        payload = self.o.payload
        m.d.comb += [
            queue.w_en.eq(arrived[0]),
            queue.w_data.eq(Cat(outputs[0], arrived[1:len(flags)])),
            self.o.valid.eq(queue.r_rdy),
            queue.r_en.eq(self.o.ready),
            Cat(payload.data, payload.first, payload.last, payload.cpi_end).eq(queue.r_data),
        ]
        return m
