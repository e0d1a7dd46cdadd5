"""Turns reports (CFAR detections, plots or track reports) and status heartbeats into
the framed byte stream of the report link."""

from amaranth import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.utils import ceil_log2
from amaranth.lib import crc as crc_lib, data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ...spec.link import (CRC, CRC_BYTES, STATUS_FIELDS, SYNC, TYPE_DETECTION, TYPE_PLOT,
                          TYPE_STATUS, TYPE_TRACK)
from ..formats import record_layout
from ...spec.records import DETECTION, PLOT, RESET_FLAG, TRACK, link_fields
from ...spec.checks import check_integer

__all__ = ["ReportFramer"]

# Status fields that the framer counts itself; the others are input ports.
_COUNTERS = ("dropped_cap", "dropped_full")
# record name -> (its fields, its frame type)
_REPORTS = {"detection": (DETECTION, TYPE_DETECTION), "plot": (PLOT, TYPE_PLOT),
            "track": (TRACK, TYPE_TRACK)}
assert all(f.bits <= 8 * f.link_bytes for fields, _ in _REPORTS.values() for f in fields if f.bits)


def _frame_bytes(kind, fields, values):
    """The bytes of a frame without its CRC, in link order: 8-bit values (a signed
    field sign-extended to its bytes, an unsigned one zero-extended)."""
    length = sum(size for _, size in fields)
    out = [Const(byte, 8) for byte in (*SYNC, kind, length)]
    for name, size in fields:
        value = Value.cast(values[name])
        pad = max(0, 8 * size - len(value))
        fill = value[-1].replicate(pad) if value.shape().signed else Const(0, pad)
        value = Cat(value.as_unsigned(), fill)
        out += [value.word_select(size - 1 - k, 8) for k in range(size)]
    return out


class ReportFramer(wiring.Component):
    """Frames reports and status heartbeats into the byte stream of the report link.

    The byte layout is the one documented in ``amaradar.spec.link``. Each accepted
    report (a detection of the range-only chain, a plot of the range-Doppler
    chain or a track report of the tracker, as ``record`` says) becomes one frame
    of its type. Unless ``status_frames`` is False, a status frame is sent once right after
    reset (so the host learns the configuration at power-up, and that a reset
    happened: that frame, and only that one, has the ``reset`` bit of ``flags`` set)
    and once after every ``heartbeat`` strobe.

    The radar chain is never stalled: ``i.ready`` is always 1. Instead:

    * **Cap.** Of the reports of one CPI only the first ``cap`` are framed; the
      rest are counted in ``dropped_cap``. A new CPI starts whenever a report's
      ``cpi`` differs from the previous report's.
    * **Queue.** Reports that passed the cap wait in a ``depth``-entry FIFO
      (``SyncFIFOBuffered``) while the byte output is back-pressured (a UART is much
      slower than the chain); one that finds the FIFO full is dropped and counted in
      ``dropped_full``. The report being sent keeps its entry until its last
      byte: the frame's bytes are read from the queue's output, not copied.

    Parameters
    ----------
    record : str
        ``"detection"`` (``amaradar.spec.records.DETECTION``), ``"plot"`` (``PLOT``)
        or ``"track"`` (``TRACK``).
    cap : int
        Most report frames per CPI, at least 1.
    depth : int
        Reports the queue holds, the one being sent included, at least 1.
    **widths : int
        The record's width parameters (``range_bits`` and ``power_bits`` of a
        detection; ``range_pos_bits``, ``doppler_pos_bits`` and ``power_bits`` of a
        plot; those of ``hdl.track.tracker.track_layout`` of a track), each from 1 to
        the bits of its field on the link.
    status_frames : bool
        Send status frames (and have the ``heartbeat`` and status ports). A framer
        without them frames reports only, for a link whose status frames another
        framer sends (``frame_arbiter.FrameArbiter`` merges the two).

    Members
    -------
    i : In(stream.Signature(formats.record_layout(record, **widths)))
        Reports; ``i.ready`` is constant 1.
    o : Out(stream.Signature(8))
        Frame bytes, in link order.
    heartbeat : In(1)
        With ``status_frames``. Strobe: send a status frame (e.g. at the end of each CPI). Strobes while a
        status frame waits to start request that one frame only.
    cpi, flags, preset, dropped_samples, range_bins, pulses, sample_rate, pri, pulse_samples : In(8 * bytes)
        With ``status_frames``. Status of the chain, copied into a status frame when the frame starts; the
        widths are those of the status payload table of ``amaradar.spec.link``. The
        frame's ``flags`` is ``flags`` ORed with the ``reset`` bit
        (``records.RESET_FLAG``) in the first frame after reset.
    dropped_cap : Out(32)
        Reports dropped by the cap since reset; saturates at 2**32 - 1.
    dropped_full : Out(32)
        Reports dropped because the queue was full; saturates at 2**32 - 1.

    Bit growth
    ----------
    None: fields are extended to their byte widths (signed ones with their sign).

    Rounding/overflow
    -----------------
    Nothing is rounded. Drops are counted, and the counters saturate.

    Latency/throughput
    ------------------
    Accepts a report every clock. Emits one byte per clock while ``o.ready`` is
    high, with one idle clock between frames. A waiting status frame goes before
    waiting reports; its fields are sampled at the clock it starts, so it is sent
    at most one frame after its ``heartbeat``.

    Model
    -----
    ``amaradar.sim.models.link.report_framer.report_framer`` (exact bytes when the queue never
    overflows).
    """

    def __init__(self, *, record="detection", cap, depth=16, status_frames=True, **widths):
        if record not in _REPORTS:
            raise ValueError(f"record must be one of {sorted(_REPORTS)}, not {record!r}")
        fields, self._type = _REPORTS[record]
        limits = {f.width_param: 8 * f.link_bytes for f in fields if f.width_param}
        for name, value in widths.items():
            check_integer(name, value, 1, limits.get(name))
        check_integer("cap", cap, 1)
        check_integer("depth", depth, 1)
        self._fields = link_fields(fields)
        self._layout = record_layout(fields, **widths)
        self._cap = cap
        self._depth = depth
        self._status_frames = bool(status_frames)
        members = {
            "i": In(stream.Signature(self._layout)),
            "o": Out(stream.Signature(8)),
        }
        if self._status_frames:
            members["heartbeat"] = In(1)
        for name, size in STATUS_FIELDS:
            if name in _COUNTERS:
                members[name] = Out(8 * size)
            elif self._status_frames:
                members[name] = In(8 * size)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = queue = SyncFIFOBuffered(width=self._layout.size, depth=self._depth)
        m.submodules.crc = crc = crc_lib.Algorithm(**CRC)(data_width=8).create()

        def count(counter):
            with m.If(counter != (1 << len(counter)) - 1):
                m.d.sync += counter.eq(counter + 1)

        # Cap per CPI, then the queue.
        det = self.i.payload
        seen = Signal()
        cur_cpi = Signal.like(det.cpi)
        taken = Signal(range(self._cap + 1))
        new_cpi = ~seen | (det.cpi != cur_cpi)
        passed = self.i.valid & (new_cpi | (taken < self._cap))
        m.d.comb += [
            self.i.ready.eq(1),
            queue.w_data.eq(det),
            queue.w_en.eq(passed),
        ]
        with m.If(self.i.valid):
            m.d.sync += [seen.eq(1), cur_cpi.eq(det.cpi)]
            with m.If(new_cpi):
                m.d.sync += taken.eq(1)
            with m.Elif(taken < self._cap):
                m.d.sync += taken.eq(taken + 1)
            with m.Else():
                count(self.dropped_cap)
        with m.If(passed & ~queue.w_rdy):
            count(self.dropped_full)

        # Serializer: the byte at ``index`` of the frame, picked from the queue's
        # output (the report keeps its entry until its last byte) or from the
        # status fields held when the frame started; the CRC appended at the end.
        status = {name: Signal(8 * size, name=f"status_{name}") for name, size in STATUS_FIELDS}
        queued = data.View(self._layout, queue.r_data)
        bodies = {True: _frame_bytes(TYPE_STATUS, STATUS_FIELDS, status),
                  False: _frame_bytes(self._type, self._fields,
                                      {name: getattr(queued, name) for name, _ in self._fields})}
        index = Signal(range(max(map(len, bodies.values())) + CRC_BYTES + 1))   # of the next byte
        byte = Signal(8)                                                        # of the frame body
        is_status = Signal()
        crc_at = Mux(is_status, len(bodies[True]), len(bodies[False]))
        in_crc = index > crc_at
        status_pending = Signal(init=self._status_frames)
        first_status = Signal(init=1)
        accept = self.o.valid & self.o.ready
        # the CRC, most significant byte first
        crc_bytes = Array(crc.crc.word_select(CRC_BYTES - 1 - k, 8) for k in range(CRC_BYTES))
        m.d.comb += [
            self.o.payload.eq(Mux(in_crc, crc_bytes[(index - 1 - crc_at)[:ceil_log2(CRC_BYTES)]],
                                  byte)),
            crc.data.eq(byte),
            crc.valid.eq(accept & (index > len(SYNC)) & ~in_crc),
        ]

        def start(kind):
            m.d.comb += crc.start.eq(1)
            m.d.sync += [byte.eq(SYNC[0]), index.eq(1), is_status.eq(kind == TYPE_STATUS),
                         self.o.valid.eq(1)]

        with m.If(self.o.valid):
            with m.If(self.o.ready):
                m.d.sync += [index.eq(index + 1),
                             byte.eq(Mux(is_status, Array(bodies[True])[index],
                                         Array(bodies[False])[index]))]
                with m.If(index == crc_at + CRC_BYTES):
                    m.d.sync += self.o.valid.eq(0)
                    m.d.comb += queue.r_en.eq(~is_status)
        if self._status_frames:
            with m.Elif(status_pending):
                start(TYPE_STATUS)
                values = {name: getattr(self, name) for name, _ in STATUS_FIELDS
                          if name not in _COUNTERS}
                values.update(dropped_cap=self.dropped_cap, dropped_full=self.dropped_full,
                              flags=self.flags | Mux(first_status, RESET_FLAG, 0))
                m.d.sync += [status[name].eq(value) for name, value in values.items()]
                m.d.sync += [status_pending.eq(0), first_status.eq(0)]
        with m.Elif(queue.r_rdy):
            start(self._type)
        if self._status_frames:
            with m.If(self.heartbeat):
                m.d.sync += status_pending.eq(1)
        return m
