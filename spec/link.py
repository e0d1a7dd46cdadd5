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
Every multi-byte number on the link is unsigned and big-endian (most significant
byte first), the CRC included.

======  ======  ===========================================================
offset  bytes   content
======  ======  ===========================================================
0       2       sync word ``0xEB 0x90``
2       1       type: 0x01 detection, 0x02 status, 0x03 track (reserved),
                0x04 plot
3       1       length: number of payload bytes (fixed for each type)
4       length  payload (tables below)
4+len   2       CRC-16/CCITT-FALSE over type, length and payload
======  ======  ===========================================================

CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection of
input or output, no final XOR; the check value of ``b"123456789"`` is 0x29B1.

Detection payload (type 0x01, 18 bytes; a frame is 24 bytes)
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

Status payload (type 0x02, 30 bytes; a frame is 36 bytes)
---------------------------------------------------------
======  =====  ===============  ==============================================
offset  bytes  field            meaning
======  =====  ===============  ==============================================
0       2      cpi              CPI counter of the chain when the frame starts
2       1      flags            sticky overflow flags of the chain (bitfield)
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

The counters saturate at their largest value; they never wrap.

Plot payload (type 0x04, 19 bytes; a frame is 25 bytes)
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

Track (type 0x03) is reserved for the tracker; no payload is defined yet, so the
decoder treats it like any unknown type.

Decoding
--------
A frame is accepted only when its sync word is found, its type is known, its
length byte equals that type's payload length and its CRC is right. Anything else
is skipped one byte at a time and the search for the sync word starts again, so
the decoder resynchronises after lost, extra or corrupted bytes and never makes a
message out of a damaged frame.
"""

import binascii
from collections import namedtuple

from .records import DETECTION, PLOT, STATUS, field_names, link_fields

__all__ = [
    "LINK_BAUD", "SYNC", "CRC", "TYPE_DETECTION", "TYPE_STATUS", "TYPE_TRACK", "TYPE_PLOT",
    "HEADER_BYTES", "CRC_BYTES", "DETECTION_FIELDS", "STATUS_FIELDS", "PLOT_FIELDS",
    "Detection", "Status", "Plot", "crc16", "encode", "frame_bytes", "Decoder",
]

LINK_BAUD = 2_000_000
SYNC = b"\xeb\x90"
#: CRC-16/CCITT-FALSE, in the parameters of ``amaranth.lib.crc.Algorithm``, from
#: which the gateware framer elaborates its CRC processor.
CRC = {"crc_width": 16, "polynomial": 0x1021, "initial_crc": 0xFFFF,
       "reflect_input": False, "reflect_output": False, "xor_output": 0x0000}
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


Detection = namedtuple("Detection", field_names(DETECTION))
Detection.__doc__ = "A CFAR detection report (fields: see the detection payload table)."
Status = namedtuple("Status", field_names(STATUS))
Status.__doc__ = "A status heartbeat (fields: see the status payload table)."
Plot = namedtuple("Plot", field_names(PLOT))
Plot.__doc__ = "A plot of the range-Doppler chain (fields: see the plot payload table)."

# type number -> its message class, payload fields, payload length in bytes and name
_Layout = namedtuple("_Layout", "cls fields length name")
_LAYOUTS = {
    kind: _Layout(cls, fields, sum(n for _, n in fields), name)
    for kind, cls, fields, name in ((TYPE_DETECTION, Detection, DETECTION_FIELDS, "detection"),
                                    (TYPE_STATUS, Status, STATUS_FIELDS, "status"),
                                    (TYPE_PLOT, Plot, PLOT_FIELDS, "plot"))
}
_KIND_OF = {layout.cls: kind for kind, layout in _LAYOUTS.items()}


def crc16(data, crc=CRC["initial_crc"]):
    """CRC-16/CCITT-FALSE of ``data`` (bytes-like), continuing from ``crc``.

    The software model of :data:`CRC`: the standard library's CRC-CCITT
    (``binascii.crc_hqx``: polynomial 0x1021, MSB first, no final XOR), started
    from ``crc``.
    """
    return binascii.crc_hqx(data, crc)


def frame_bytes(kind):
    """Total bytes of a frame of type ``kind`` (sync, header, payload and CRC)."""
    return HEADER_BYTES + _LAYOUTS[kind].length + CRC_BYTES


def encode(message):
    """The frame of a :class:`Detection`, :class:`Status` or :class:`Plot`, as bytes.

    Raises ``TypeError`` for another object and ``ValueError`` when a field does not
    fit its bytes.
    """
    kind = _KIND_OF.get(type(message))
    if kind is None:
        raise TypeError(f"message must be a Detection, a Status or a Plot, "
                        f"not {type(message).__name__}")
    fields, length = _LAYOUTS[kind].fields, _LAYOUTS[kind].length
    payload = bytearray()
    for (name, size), value in zip(fields, message):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 8 * size:
            raise ValueError(f"{name} must be an integer from 0 to {(1 << 8 * size) - 1}, "
                             f"not {value!r}")
        payload += value.to_bytes(size, "big")
    body = bytes([kind, length]) + payload
    return SYNC + body + crc16(body).to_bytes(CRC_BYTES, "big")


def _decode_payload(cls, fields, payload):
    values, offset = [], 0
    for _, size in fields:
        values.append(int.from_bytes(payload[offset:offset + size], "big"))
        offset += size
    return cls(*values)


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
        Frames accepted per type: ``"detection"``, ``"status"``, ``"plot"``.
    crc_errors : int
        Candidate frames (sync word, known type, right length) whose CRC was wrong.
    resync_bytes : int
        Bytes skipped outside accepted frames: garbage, damaged and truncated frames.
        After :meth:`finish`, ``bytes == resync_bytes + bytes of accepted frames``.
    """

    def __init__(self):
        self._buf = bytearray()
        self.bytes = 0
        self.frames = 0
        self.counts = {layout.name: 0 for layout in _LAYOUTS.values()}
        self.crc_errors = 0
        self.resync_bytes = 0

    def feed(self, data):
        """Add ``data`` (bytes-like); return the list of messages it completed."""
        self._buf += data
        self.bytes += len(data)
        return self._scan(final=False)

    def finish(self):
        """End of stream: decode what can still be decoded and skip the rest."""
        return self._scan(final=True)

    def _scan(self, final):
        buf, pos, out = self._buf, 0, []
        while pos < len(buf):
            start = buf.find(SYNC, pos)
            if start < 0:
                # A sync word may still begin in the last len(SYNC) - 1 bytes.
                stop = len(buf) if final else max(pos, len(buf) - len(SYNC) + 1)
                self.resync_bytes += stop - pos
                pos = stop
                break
            self.resync_bytes += start - pos
            pos = start
            status = self._candidate(buf, pos)
            if status is None:
                if not final:
                    break
                status = False  # truncated by the end of the stream
            if status is False:
                self.resync_bytes += 1
                pos += 1
                continue
            message, end = status
            out.append(message)
            self.frames += 1
            self.counts[_LAYOUTS[_KIND_OF[type(message)]].name] += 1
            pos = end
        del buf[:pos]
        return out

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
        if crc16(body) != int.from_bytes(buf[end - CRC_BYTES:end], "big"):
            self.crc_errors += 1
            return False
        return _decode_payload(layout.cls, layout.fields, body[2:]), end
