"""Live ASTERIX from the report link: ``amaradar listen --asterix-udp HOST:PORT``.

The reports of each CPI (detections or plots, and the tracks that go with plots)
are held until the CPI ends — a report of another CPI arrives, or the stream ends
(a status frame does not end it: the boards send the reports of a CPI while the
next one runs) — and then sent as the datagrams :func:`amaradar.host.asterix.asterix_records` makes
of them (one per CPI, more if they overflow one), the first with the system
configuration message. The radar timing comes from the link (the status frame,
or the options that override it; the LFM's carrier and bandwidth only from the
options); a CPI that ends before it is known is not sent,
and counted. A track goes out in its plot's record only when the CPI's frames
arrived whole: if the decoder skipped bytes before one of the CPI's frames, or a
frame began on the last byte of the one before (either way a byte was lost; a lost
or damaged frame shifts the plot indices that tracks name; a gap before a CPI's
first frame counts for the CPI before it too), or a track names a plot that did
not arrive, it goes out in a record of its own.

With a :class:`amaradar.host.feed_auth.FeedSealer` every datagram goes out sealed
(sequence number and MAC, :mod:`amaradar.host.feed_auth`), its ASTERIX payload kept
within what a UDP datagram holds with the envelope around it.
"""

import socket
from types import SimpleNamespace

import numpy as np

from ..spec.link import Detection, Plot, Track
from ..spec.physics import SPEED_OF_LIGHT
from .asterix import MAX_DATAGRAM, asterix_records
from .feed_auth import OVERHEAD_BYTES

__all__ = ["parse_udp_address", "AsterixUdp"]


def parse_udp_address(text):
    """``(host, port)`` of ``"HOST:PORT"`` (``[v6]:PORT`` for an IPv6 literal), the host
    resolved; ``ValueError`` with one line otherwise."""
    host, sep, port = str(text).rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"asterix-udp must be HOST:PORT with a port from 1 to 65535, "
                         f"not {str(text)!r}")
    try:
        info = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)
    except socket.gaierror as error:
        raise ValueError(f"asterix-udp host {host!r} cannot be resolved: {error.strerror}") \
            from None
    return info[0][0], info[0][4]


def _columns(messages, cls, cpi):
    """The fields of ``messages`` (all of class ``cls``) as int64 columns, ``cpi`` the
    session's (unwrapped) CPI."""
    columns = {name: np.array([getattr(m, name) for m in messages], dtype=np.int64)
               for name in cls._fields}
    columns["cpi"][:] = cpi
    return columns


def _plot_links(tracks, plots, whole):
    """``tracks`` with their links to the CPI's plots cut (``plot`` = 0: a record of its
    own) where they cannot be trusted: all of them unless the CPI arrived ``whole``,
    and any naming a plot beyond the ``plots`` that arrived or one already claimed."""
    seen = set()
    for row, plot in enumerate(tracks["plot"]):
        if not whole or plot > plots or plot in seen:
            tracks["plot"][row] = 0
        elif plot:
            seen.add(int(plot))
    return tracks


def _radar(timing, cpi, lfm):
    """What ``asterix_records`` needs of a scenario, from the link's timing and ``lfm``
    (``(carrier_hz, bandwidth_hz)`` of an up-sweep, or None)."""
    fs, pri_s, pulses, n = timing
    carrier, bandwidth = lfm or (None, None)
    return SimpleNamespace(radar=SimpleNamespace(
        sample_rate_hz=fs, pri_s=pri_s, pulses_per_cpi=pulses, pulse_samples=n,
        pulse_width_s=n / fs, range_bin_m=SPEED_OF_LIGHT / (2 * fs),
        unambiguous_range_m=SPEED_OF_LIGHT * pri_s / 2, cpis=cpi + 1,
        waveform=None if lfm is None else "lfm", bandwidth_hz=bandwidth,
        unambiguous_velocity_mps=None if lfm is None else SPEED_OF_LIGHT / carrier / pri_s / 4))


class AsterixUdp:
    """Sends each CPI's reports as ASTERIX datagrams to ``address`` (``parse_udp_address``).

    Attributes
    ----------
    datagrams : int
        Datagrams sent.
    unsent_cpis : int
        CPIs whose reports were dropped: the timing was unknown, or the send failed.
    skipped : int
        Reports left out of the records (range outside I048/040).
    sealer : FeedSealer or None
        Seals each datagram when given (``sealer.next_sequence`` numbers the next).
    lfm : tuple or None
        ``(carrier_hz, bandwidth_hz)`` of the radar's up-sweep LFM: a tracked plot's RHO
        is then corrected for the range-Doppler coupling as in ``amaradar sim``; None
        (a phase code, or not known) leaves it as measured.
    """

    def __init__(self, address, site, *, simulated=False, sealer=None, lfm=None):
        family, self.address = address
        self.socket = socket.socket(family, socket.SOCK_DGRAM)
        self.site, self.simulated, self.sealer, self.lfm = site, simulated, sealer, lfm
        self.datagrams = self.unsent_cpis = self.skipped = 0
        self._cpi, self._reports, self._tracks, self._configured = None, [], [], False
        self._damaged = False

    def report(self, cpi, message, timing, gap):
        """Hold ``message`` (a Detection, Plot or Track of the session's CPI ``cpi``, after
        the decoder's ``gap`` before its frame), first sending the CPI held if this one is
        another."""
        self._damaged = self._damaged or gap != 0
        if self._cpi is not None and cpi != self._cpi:
            self.flush(timing)
            self._damaged = gap != 0
        self._cpi = cpi
        (self._tracks if isinstance(message, Track) else self._reports).append(message)

    def flush(self, timing):
        """Send the CPI held (``timing``: ``(sample_rate, pri_s, pulses, pulse_samples)``
        or None when unknown)."""
        cpi, reports, tracks = self._cpi, self._reports, self._tracks
        self._cpi, self._reports, self._tracks = None, [], []
        if cpi is None or not (reports or tracks):
            return
        if timing is None:
            self.unsent_cpis += 1
            return
        kind = Plot if tracks or isinstance(reports[0], Plot) else Detection
        columns = _columns([m for m in reports if isinstance(m, kind)], kind, cpi)
        track_columns = _plot_links(_columns(tracks, Track, cpi), len(columns["cpi"]),
                                    not self._damaged) if tracks else None
        room = MAX_DATAGRAM - (0 if self.sealer is None else OVERHEAD_BYTES)
        datagrams = asterix_records(_radar(timing, cpi, self.lfm), self.site, columns,
                                    "plots" if kind is Plot else "detections",
                                    tracks=track_columns, simulated=self.simulated, cpis=[cpi],
                                    configuration=not self._configured,
                                    max_datagram=room)
        self.skipped += datagrams.skipped
        try:
            for datagram in datagrams:
                self.socket.sendto(datagram if self.sealer is None else self.sealer.seal(datagram),
                                   self.address)
                self.datagrams += 1
        except OSError:
            self.unsent_cpis += 1
            return
        self._configured = True

    def close(self):
        self.socket.close()
