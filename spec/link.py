"""The report link: framed, CRC-protected messages from the gateware to the host.

This docstring is the one description of the byte protocol. The gateware framer
(``amaradar.hdl.link.report_framer``) builds its frames from the tables in this module,
and the host decodes them with :class:`Decoder`.

Line
----
UART, 8 data bits, no parity, 1 stop bit, at :data:`LINK_BAUD` (2,000,000) baud on
every board: 200,000 bytes per second.

Frame
-----
Every multi-byte number on the link is big-endian (most significant byte first),
the CRC included, and unsigned but for the fields a table marks signed (two's
complement).

======  ======  ===========================================================
offset  bytes   content
======  ======  ===========================================================
0       2       sync word ``0xEB 0x90``
2       1       type: 0x01 detection, 0x02 status, 0x03 track, 0x04 plot
3       1       length: number of payload bytes (fixed for each type)
4       length  payload (tables below)
4+len   4       CRC-32/ISO-HDLC over type, length and payload
======  ======  ===========================================================

CRC-32/ISO-HDLC (the CRC-32 of Ethernet, zlib and PNG): polynomial 0x04C11DB7,
initial value 0xFFFFFFFF, input and output reflected, final XOR 0xFFFFFFFF; the
check value of ``b"123456789"`` is 0xCBF43926. Like every number on the link it
is sent big-endian. A damaged frame of up to 5 flipped bits always fails it (its
Hamming distance is 6 for up to 268 data bits; the longest body here, the status
frame's, has 256); anything else, a random frame included, passes it with
probability 2**-32. Behind the CRC, ``amaradar listen`` drops reports that the
last status frame makes impossible (``amaradar.host.listen``), so a random frame
becomes a report with probability 2**-32 times the fraction of random payloads that
are plausible; ``bench/bench_listen_fuzz.py`` computes it per type
(``false_accept.theory`` in ``bench/results/listen_fuzz.json``).

Detection payload (type 0x01, 18 bytes; a frame is 26 bytes)
------------------------------------------------------------
======  =====  ==========  ===================================================
offset  bytes  field       meaning
======  =====  ==========  ===================================================
0       2      cpi         CPI counter (``formats.CPI_WIDTH`` bits, wraps)
2       2      pulse       range line within the CPI (``formats.PULSE_WIDTH``)
4       2      range_bin   sample index in the range line (up to 16 bits)
6       6      power       power of the cell, LSB² of the detector input
12      6      threshold   CFAR threshold it exceeded, same unit (up to 48 bits)
======  =====  ==========  ===================================================

Status payload (type 0x02, 30 bytes; a frame is 38 bytes)
---------------------------------------------------------
======  =====  ===============  ==============================================
offset  bytes  field            meaning
======  =====  ===============  ==============================================
0       2      cpi              CPI counter of the chain when the frame starts
2       1      flags            sticky overflow flags of the chain (bitfield,
                                ``records.STATUS_FLAGS``; a range-Doppler
                                chain's flags are ORed into them as
                                ``records.DOPPLER_STATUS_FLAGS`` says); bit 5,
                                ``reset``,
                                is set in the first status frame after a
                                reset (power-up included), and only there
3       1      preset           echo-source preset playing in CPI ``cpi``
                                (0 on a board without presets)
4       4      dropped_samples  samples the chain lost (e.g. ADC input overrun)
8       4      dropped_cap      detections dropped by the per-CPI report cap
12      4      dropped_full     detections dropped because the queue was full
16      2      range_bins       samples per range line L (0: unknown)
18      2      pulses           range lines per CPI M (0: unknown)
20      4      sample_rate      ADC sample rate in Hz (0: unknown)
24      4      pri              pulse repetition interval in sample periods
                                (0: unknown)
28      2      pulse_samples    transmit pulse length N in samples (0: unknown);
                                the matched filter delays an echo by N - 1
                                samples, so a detection at ``range_bin`` is an
                                echo whose leading edge arrived
                                ``range_bin - (N - 1)`` samples after the
                                transmit pulse's, at range
                                ``c / 2 * (range_bin - (N - 1)) / sample_rate``
======  =====  ===============  ==============================================

The counters saturate at their largest value; they never wrap. After a reset the
gateware starts afresh: its CPI counter and its drop counters restart from 0, and its
first status frame (sent right after the reset) carries the ``reset`` flag, so a
host can tell a reset from a CPI counter that wrapped or a lost frame.

Plot payload (type 0x04, 19 bytes; a frame is 27 bytes)
-------------------------------------------------------
======  =====  ===========  ==================================================
offset  bytes  field        meaning
======  =====  ===========  ==================================================
0       2      cpi          CPI counter (``CPI_WIDTH`` bits, wraps)
2       3      range_pos    interpolated range cell, in 1/256 sample
5       2      doppler_pos  interpolated Doppler cell, in 1/256 bin, modulo
                            M * 256, zero Doppler at M/2
7       6      power        power of the plot's peak cell
13      6      threshold    CFAR threshold at the peak cell
======  =====  ===========  ==================================================

Track payload (type 0x03, 20 bytes; a frame is 28 bytes)
--------------------------------------------------------
One per live track per CPI, as the tracker reports them (``amaradar.spec.records.TRACK``).

======  =====  ==========  ===================================================
offset  bytes  field       meaning
======  =====  ==========  ===================================================
0       2      cpi         CPI whose plots updated the track (wraps)
2       4      track_id    unique within a run, in order of initiation
6       1      status      0 tentative, 1 confirmed, 2 coasting
7       4      range_pos   range after the update, in 1/256 sample
11      4      range_rate  **signed**: range rate in 2**-16 sample per CPI,
                           negative closing, unambiguous once unfolded
15      1      unfolded    1 once the rate comes from the unfolded Doppler
16      1      age         updates so far (saturating)
17      1      misses      consecutive CPIs without a plot
18      2      plot        1 + index of the CPI's plot that updated the track,
                           0 if none
======  =====  ==========  ===================================================

Decoding
--------
A frame is accepted only when its sync word is found, its type is known, its
length byte equals that type's payload length and its CRC is right. Anything else
is skipped one byte at a time and the search for the sync word starts again, so
the decoder resynchronises after lost, extra or corrupted bytes and never makes a
message out of a damaged frame.

One overlap is allowed: when a frame's last byte is lost and the next frame's first
byte (0xEB) takes its place, the frame is still right, and the next frame's sync word
begins on its last byte. The decoder tries that one place before searching on, so
the intact frame after it is not lost too. In an undamaged stream a frame never ends
where a sync word begins (the next byte is 0xEB, not 0x90).
"""

import zlib
from collections import namedtuple

from .records import DETECTION, PLOT, STATUS, TRACK, field_names, link_fields

__all__ = [
    "LINK_BAUD", "SYNC", "CRC", "TYPE_DETECTION", "TYPE_STATUS", "TYPE_TRACK", "TYPE_PLOT",
    "HEADER_BYTES", "CRC_BYTES", "DETECTION_FIELDS", "STATUS_FIELDS", "PLOT_FIELDS",
    "TRACK_FIELDS", "Detection", "Status", "Plot", "Track", "crc32", "encode", "frame_bytes",
    "Decoder",
]

LINK_BAUD = 2_000_000
SYNC = b"\xeb\x90"
#: CRC-32/ISO-HDLC, in the parameters of ``amaranth.lib.crc.Algorithm``, from
#: which the gateware framer elaborates its CRC processor.
CRC = {"crc_width": 32, "polynomial": 0x04C11DB7, "initial_crc": 0xFFFFFFFF,
       "reflect_input": True, "reflect_output": True, "xor_output": 0xFFFFFFFF}
TYPE_DETECTION = 0x01
TYPE_STATUS = 0x02
TYPE_TRACK = 0x03
TYPE_PLOT = 0x04
HEADER_BYTES = len(SYNC) + 2
CRC_BYTES = CRC["crc_width"] // 8

#: ``(field, bytes)`` of the detection payload, in link order.
DETECTION_FIELDS = link_fields(DETECTION)
#: ``(field, bytes)`` of the status payload, in link order.
STATUS_FIELDS = link_fields(STATUS)
#: ``(field, bytes)`` of the plot payload, in link order.
PLOT_FIELDS = link_fields(PLOT)
#: ``(field, bytes)`` of the track payload, in link order.
TRACK_FIELDS = link_fields(TRACK)


Detection = namedtuple("Detection", field_names(DETECTION))
Detection.__doc__ = "A CFAR detection report (fields: see the detection payload table)."
Status = namedtuple("Status", field_names(STATUS))
Status.__doc__ = "A status heartbeat (fields: see the status payload table)."
Plot = namedtuple("Plot", field_names(PLOT))
Plot.__doc__ = "A plot of the range-Doppler chain (fields: see the plot payload table)."
Track = namedtuple("Track", field_names(TRACK))
Track.__doc__ = "A track report of the tracker (fields: see the track payload table)."

# type number -> its message class, payload fields, the signed ones, payload length, name
_Layout = namedtuple("_Layout", "cls fields signed length name")
_LAYOUTS = {
    kind: _Layout(cls, link_fields(record), frozenset(f.name for f in record if f.signed),
                  sum(f.link_bytes for f in record), name)
    for kind, cls, record, name in ((TYPE_DETECTION, Detection, DETECTION, "detection"),
                                    (TYPE_STATUS, Status, STATUS, "status"),
                                    (TYPE_TRACK, Track, TRACK, "track"),
                                    (TYPE_PLOT, Plot, PLOT, "plot"))
}
_KIND_OF = {layout.cls: kind for kind, layout in _LAYOUTS.items()}


def crc32(data, crc=0):
    """CRC-32/ISO-HDLC of ``data`` (bytes-like), continuing the CRC ``crc`` of the
    bytes before it (0, the CRC of no bytes, to start).

    The software model of :data:`CRC`: the standard library's ``zlib.crc32``.
    """
    return zlib.crc32(data, crc)


def frame_bytes(kind):
    """Total bytes of a frame of type ``kind`` (sync, header, payload and CRC)."""
    return HEADER_BYTES + _LAYOUTS[kind].length + CRC_BYTES


def encode(message):
    """The frame of a :class:`Detection`, :class:`Status`, :class:`Track` or :class:`Plot`,
    as bytes.

    Raises ``TypeError`` for another object and ``ValueError`` when a field does not
    fit its bytes.
    """
    kind = _KIND_OF.get(type(message))
    if kind is None:
        raise TypeError(f"message must be a Detection, a Status, a Track or a Plot, "
                        f"not {type(message).__name__}")
    layout = _LAYOUTS[kind]
    payload = bytearray()
    for (name, size), value in zip(layout.fields, message):
        signed = name in layout.signed
        low = -(1 << (8 * size - 1)) if signed else 0
        high = low + (1 << 8 * size) - 1
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{name} must be an integer from {low} to {high}, not {value!r}")
        payload += value.to_bytes(size, "big", signed=signed)
    length = layout.length
    body = bytes([kind, length]) + payload
    return SYNC + body + crc32(body).to_bytes(CRC_BYTES, "big")


def _decode_payload(layout, payload):
    values, offset = [], 0
    for name, size in layout.fields:
        values.append(int.from_bytes(payload[offset:offset + size], "big",
                                     signed=name in layout.signed))
        offset += size
    return layout.cls(*values)


class Decoder:
    """Incremental decoder of the report link.

    Feed it bytes in chunks of any size; it returns the messages completed by each
    chunk and keeps an incomplete frame for the next one.

    Attributes
    ----------
    bytes : int
        Bytes fed so far.
    frames : int
        Frames accepted (a message was returned for each).
    counts : dict of str to int
        Frames accepted per type: ``"detection"``, ``"status"``, ``"track"``, ``"plot"``.
    crc_errors : int
        Candidate frames (sync word, known type, right length) whose CRC was wrong.
    resync_bytes : int
        Bytes skipped outside accepted frames: garbage, damaged and truncated frames.
    overlaps : int
        Frames that began on the last byte of the frame before (see Decoding above).
        After :meth:`finish`,
        ``bytes == resync_bytes + bytes of accepted frames - overlaps``.
    gaps : list of int
        For each message the last :meth:`feed` or :meth:`finish` returned, the bytes
        skipped just before its frame (0: it followed the previous frame directly;
        -1: it began on that frame's last byte).
    """

    def __init__(self):
        self._buf = bytearray()
        self.bytes = 0
        self.frames = 0
        self.counts = {layout.name: 0 for layout in _LAYOUTS.values()}
        self.crc_errors = 0
        self.resync_bytes = 0
        self.overlaps = 0
        self.gaps = []
        self._gap = 0
        self._after_frame = False   # the buffer's first byte ended an accepted frame

    def feed(self, data):
        """Add ``data`` (bytes-like); return the list of messages it completed."""
        self._buf += data
        self.bytes += len(data)
        return self._scan(final=False)

    def finish(self):
        """End of stream: decode what can still be decoded and skip the rest."""
        return self._scan(final=True)

    def _skip(self, count):
        self.resync_bytes += count
        self._gap += count

    def _scan(self, final):
        buf, out = self._buf, []
        pos = 1 if self._after_frame else 0
        self.gaps = []
        while pos < len(buf):
            if self._after_frame and buf[pos - 1:pos + 1] == SYNC:
                status = self._candidate(buf, pos - 1)
                if status is None and not final:
                    break
                if status:
                    self.overlaps += 1
                    self._gap -= 1
                    pos = self._accept(out, *status)
                    continue
            self._after_frame = False
            start = buf.find(SYNC, pos)
            if start < 0:
                # A sync word may still begin in the last len(SYNC) - 1 bytes.
                stop = len(buf) if final else max(pos, len(buf) - len(SYNC) + 1)
                self._skip(stop - pos)
                pos = stop
                break
            self._skip(start - pos)
            pos = start
            status = self._candidate(buf, pos)
            if status is None:
                if not final:
                    break
                status = False  # truncated by the end of the stream
            if status is False:
                self._skip(1)
                pos += 1
                continue
            pos = self._accept(out, *status)
        if final:
            self._after_frame = False
        del buf[:pos - 1 if self._after_frame else pos]
        return out

    def _accept(self, out, message, end):
        """Take the frame of ``message`` ending at ``end``; return ``end``."""
        out.append(message)
        self.gaps.append(self._gap)
        self._gap = 0
        self.frames += 1
        self.counts[_LAYOUTS[_KIND_OF[type(message)]].name] += 1
        self._after_frame = True
        return end

    def _candidate(self, buf, pos):
        """``(message, end)`` for a valid frame at ``pos``, False if invalid, None if incomplete."""
        if len(buf) - pos < HEADER_BYTES:
            return None
        kind, length = buf[pos + len(SYNC)], buf[pos + len(SYNC) + 1]
        layout = _LAYOUTS.get(kind)
        if layout is None or length != layout.length:
            return False
        end = pos + HEADER_BYTES + length + CRC_BYTES
        if end > len(buf):
            return None
        body = buf[pos + len(SYNC):end - CRC_BYTES]
        if crc32(body) != int.from_bytes(buf[end - CRC_BYTES:end], "big"):
            self.crc_errors += 1
            return False
        return _decode_payload(layout, body[2:]), end
