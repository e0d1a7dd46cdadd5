"""``amaradar listen``: decode the report link from a serial port or a replay file.

The bytes are decoded as they arrive (:class:`amaradar.spec.link.Decoder`); a table of
what arrived (frames per type, CRC errors, resync bytes, the resets the status
frames' ``reset`` flag tells, the last status) is shown
on ``stdout`` — redrawn in place on a terminal, printed at each refresh that saw
new bytes otherwise, and once more at the end — and every report becomes a row in
the output folder: a detection or a plot a row of ``detections.csv`` (in the
schema of the first of the two to arrive: a link carries one chain's reports; the
other kind is counted as skipped), a track a row of ``tracks.csv`` (written once a
track frame arrives). A report that the last status frame makes impossible (a
pulse, range or Doppler beyond the chain's, an unknown track status) is counted as
implausible and not written: a second check behind the CRC.

detections.csv
--------------
``cpi,pulse,time_s,range_m,range_bin,power_db,threshold_db``

cpi, pulse, range_bin
    The detection's fields as received (cpi wraps at 2**16).
time_s
    ``(cpi' * pulses + pulse) * PRI`` in seconds since CPI 0, where ``cpi'`` is
    the CPI counter unwrapped over the session (each backward jump of more than
    half the range counts one wrap). A board that resets counts from CPI 0 again
    and says so (a status frame with the ``reset`` flag): ``cpi'`` then goes on
    from the CPI after the last one heard, so ``time_s`` never runs backwards (the
    time the board spent restarting is not known to the link and not counted).
range_m
    ``c / 2 * (range_bin - (N - 1)) / sample_rate`` in metres
    (c = 299 792 458 m/s): the range of the echo's leading edge, the matched
    filter's delay of ``N - 1`` samples removed, as ``amaradar sim`` computes it
    (N is the status frame's ``pulse_samples``).
power_db, threshold_db
    ``10 * log10`` of the power and threshold in LSB² of the detector input
    (``-inf`` for 0).

Plots (range-Doppler chain) are written as ``amaradar sim`` writes them
(``amaradar.host.writers.plot_outputs``):
``cpi,pulse,time_s,range_m,radial_velocity_mps,range_bin,doppler_bin,power_db,threshold_db``,
``time_s`` at the CPI's middle pulse ``(cpi' * pulses + pulses // 2) * PRI``;
``radial_velocity_mps`` needs the carrier (``carrier`` in Hz; the status frame
does not carry it) and is empty without it.

tracks.csv
----------
``cpi,time_s,track_id,status,range_m,radial_velocity_mps``, as ``amaradar sim``
writes it (``amaradar.host.writers.track_outputs``): ``time_s`` and ``range_m`` as
for a plot, ``radial_velocity_mps = range_rate * 2**-16 * c / (2 * pulses * L)``
with ``L`` the status frame's ``range_bins`` (samples per line).

The radar parameters come from the options given (``sample_rate`` in Hz, ``pri``
in seconds, ``pulses`` per CPI) and, for those not given, from the configuration
words of the last status frame received (``sample_rate``, ``pri`` in sample
periods, ``pulses``; 0 means unknown); N comes from the status frames only. When
one that a column needs is unknown (for example before the first status frame),
that column is left empty. The numbers are written as ``amaradar sim`` writes
them, so both files agree row for row on the same detections.

ASTERIX
-------
With ``asterix_udp`` the reports also go out live as ASTERIX CAT034/CAT048
datagrams, one per CPI once it ends (:mod:`amaradar.host.asterix_udp`), with the
``site`` given (default: the defaults of ``[site]``, with ``start_utc`` the time
listen starts). With ``key`` (the site's key file) every datagram goes out sealed
(:mod:`amaradar.host.feed_auth`), as SAC/SIC of the ``site``, numbered from the time
listen starts in microseconds.

Running and stopping
--------------------
A replay file is read to its end, then the function returns 0 whatever the file
held. A serial port is read until ``duration`` seconds have passed (forever when
None) or until Ctrl-C, then the function returns 0. Bad input raises
:class:`ListenError` before anything is written.
"""

import csv
import math
import os
import termios
import time
import tty
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from ..spec.link import LINK_BAUD, Decoder, Detection, Plot, Status, Track
from ..spec.records import RESET_FLAG
from ..spec.physics import SPEED_OF_LIGHT
from ..spec.records import POSITION_FRAC
from .asterix_udp import AsterixUdp, parse_udp_address
from .feed_auth import FeedKeyError, FeedSealer, load_key
from .site import Site
from .writers.rows import (DETECTION_CSV_COLUMNS, PLOT_CSV_COLUMNS, TRACK_CSV_COLUMNS,
                           TRACK_STATUS_NAMES,
                           detection_range_m, detection_row, plot_row, plot_velocity_mps,
                           power_db, track_row, track_velocity_mps)

__all__ = ["ListenError", "run_listen"]

_CHUNK = 4096
_CPI_RANGE = 1 << 16


class ListenError(Exception):
    """Bad input to :func:`run_listen`; the message is one line for the user."""


def run_listen(*, port=None, baud=LINK_BAUD, replay=None, out_dir, stdout,
               sample_rate=None, pri=None, pulses=None, carrier=None, duration=None, refresh=0.5,
               asterix_udp=None, site=None, simulated=False, key=None, bandwidth=None):
    """Decode the report link into ``out_dir/detections.csv`` (and ``tracks.csv``) while
    showing a live table.

    Parameters
    ----------
    port : str or path-like, optional
        Serial device (e.g. ``/dev/ttyUSB0``), set to raw 8N1 at ``baud``.
    baud : int
        Baud rate of ``port``; one that ``termios`` knows (9600, 115200, ...).
    replay : str or path-like, optional
        File of recorded link bytes, read instead of a port. Give exactly one of
        ``port`` and ``replay``.
    out_dir : str or path-like
        Folder for ``detections.csv``; created if missing.
    stdout : text stream
        Where the table goes.
    sample_rate : float, optional
        ADC sample rate in Hz; overrides the status frames.
    pri : float, optional
        Pulse repetition interval in seconds; overrides the status frames.
    pulses : int, optional
        Range lines per CPI; overrides the status frames.
    carrier : float, optional
        Carrier frequency in Hz, for the radial velocity of plots.
    duration : float, optional
        Seconds to listen on ``port``; None listens until Ctrl-C.
    refresh : float
        Seconds between redraws of the table.
    asterix_udp : str, optional
        ``HOST:PORT`` to send each CPI's reports to as ASTERIX datagrams.
    site : Site, optional
        The radar's site for ASTERIX (default: see the module docstring).
    simulated : bool
        Mark the ASTERIX reports simulated (a board playing its on-chip echo source).
    key : str or path-like, optional
        With ``asterix_udp``: the site's key file (:func:`amaradar.host.feed_auth.load_key`);
        every datagram then goes out sealed.
    bandwidth : float, optional
        With ``asterix_udp`` and ``carrier``: the swept bandwidth in Hz of the radar's
        up-sweep LFM (the pulse width is the status frame's), so that a tracked plot's
        RHO is corrected for the range-Doppler coupling as ``amaradar sim`` corrects it.

    Returns
    -------
    int
        0.

    Raises
    ------
    ListenError
        Both or neither of ``port``/``replay``, a missing or unusable port or
        file, an unsupported baud rate, a bad radar parameter, a key without
        ``asterix_udp`` or a bad key file, a bandwidth without ``asterix_udp`` and
        ``carrier``, or an output folder that cannot be written.
    """
    if (port is None) == (replay is None):
        raise ListenError("give either a serial port or a replay file" if port is None
                          else "give a serial port or a replay file, not both")
    radar = _Radar(sample_rate=sample_rate, pri=pri, pulses=pulses, carrier=carrier)
    _positive("duration", duration, "seconds")
    if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
        raise ListenError(f"baud must be a positive whole number, not {baud!r}")
    address = None
    if asterix_udp is not None:
        try:
            address = parse_udp_address(asterix_udp)
        except ValueError as error:
            raise ListenError(str(error)) from None
    _positive("bandwidth", bandwidth, "Hz")
    if bandwidth is not None and (address is None or carrier is None):
        raise ListenError("bandwidth needs asterix-udp and carrier: it corrects the ASTERIX "
                          "plots' range for the coupling of a range rate")
    if key is not None:
        if address is None:
            raise ListenError("key needs asterix-udp: it seals the ASTERIX datagrams")
        try:
            key = load_key(key)
        except FeedKeyError as error:
            raise ListenError(str(error)) from None
    if port is not None:
        source, name = _open_port(port, baud), f"port {port} at {baud} baud"
    else:
        source, name = _open_replay(replay), f"replay {replay}"
    try:
        reports = _Reports(Path(out_dir))
    except ListenError:
        source.close()
        raise
    if address is not None:
        site = site or replace(Site(), start_utc=datetime.now(timezone.utc))
        sealer = None if key is None else FeedSealer((site.sac, site.sic), key)
        sender = AsterixUdp(address, site, simulated=simulated, sealer=sealer,
                            lfm=None if bandwidth is None else (carrier, bandwidth))
    else:
        sender = None
    with source, reports:
        session = _Session(name, radar, reports, stdout, sender)
        if port is not None:
            session.listen(source, duration, refresh)
        else:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                session.take(session.decoder.feed(chunk))
        session.take(session.decoder.finish())
        if sender is not None:
            sender.flush(radar.timing())
            sender.close()
        session.screen.show(session.table())
    return 0


#: the ranges of the radar options: beyond them a row's numbers overflow or mean nothing
_LIMITS = {"sample_rate": (1.0, 1e12), "pri": (1e-9, 3600.0), "carrier": (1.0, 1e13),
           "bandwidth": (1.0, 1e12)}


def _positive(name, value, unit):
    """Check that ``value`` (None: not given) is a finite number > 0, within ``_LIMITS``."""
    if value is None:
        return
    low, high = _LIMITS.get(name, (0.0, math.inf))
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
            or not low <= value <= high or math.isinf(value)):
        allowed = f"from {low:g} to {high:g}" if name in _LIMITS else "a positive number of"
        raise ListenError(f"{name} must be {allowed} {unit}, not {value!r}")


def _open_port(port, baud):
    speed = getattr(termios, f"B{baud}", None) if isinstance(baud, int) else None
    if speed is None:
        raise ListenError(f"baud rate {baud!r} is not one the serial driver supports")
    try:
        fd = os.open(port, os.O_RDONLY | os.O_NOCTTY)
    except FileNotFoundError:
        raise ListenError(f"serial port {port} does not exist") from None
    except OSError as error:
        raise ListenError(f"cannot open serial port {port}: {error.strerror}") from None
    try:
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[2] |= termios.CLOCAL | termios.CREAD
        attrs[4] = attrs[5] = speed
        attrs[6][termios.VMIN] = 0
        attrs[6][termios.VTIME] = 1  # read() returns after 0.1 s without bytes
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except termios.error:
        os.close(fd)
        raise ListenError(f"{port} is not a serial port") from None
    return os.fdopen(fd, "rb", buffering=0)


def _open_replay(replay):
    try:
        return open(replay, "rb")
    except FileNotFoundError:
        raise ListenError(f"replay file {replay} does not exist") from None
    except OSError as error:
        raise ListenError(f"cannot read replay file {replay}: {error.strerror}") from None


def _open_csv(path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", newline="")
    except OSError as error:
        raise ListenError(f"cannot write {path}: {error.strerror}") from None


class _Reports:
    """The session's CSV files: ``detections.csv``, opened at once, its header that of
    the first detection or plot (the detection schema if none came); ``tracks.csv``
    from the first track on."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self._files = [_open_csv(out_dir / "detections.csv")]
        self._detections = csv.writer(self._files[0], lineterminator="\n")
        self._tracks = None
        self.kind = None          # Detection or Plot: what detections.csv holds
        self.skipped = 0          # reports of the other kind

    def report(self, message, row):
        """Write ``row`` of a Detection or a Plot ``message`` to ``detections.csv``."""
        if self.kind is None:
            self.kind = type(message)
            self._detections.writerow(PLOT_CSV_COLUMNS if self.kind is Plot
                                      else DETECTION_CSV_COLUMNS)
        if type(message) is self.kind:
            self._detections.writerow(row)
        else:
            self.skipped += 1

    def track(self, row):
        if self._tracks is None:
            self._files.append(_open_csv(self.out_dir / "tracks.csv"))
            self._tracks = csv.writer(self._files[-1], lineterminator="\n")
            self._tracks.writerow(TRACK_CSV_COLUMNS)
        self._tracks.writerow(row)

    def flush(self):
        for f in self._files:
            f.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.kind is None:
            self._detections.writerow(DETECTION_CSV_COLUMNS)
        for f in self._files:
            f.close()


class _Radar:
    """Radar parameters (options first, then the last status) and CPI unwrapping."""

    def __init__(self, *, sample_rate, pri, pulses, carrier):
        _positive("sample_rate", sample_rate, "Hz")
        _positive("pri", pri, "seconds")
        _positive("carrier", carrier, "Hz")
        self.carrier = carrier
        if pulses is not None and (not isinstance(pulses, int) or isinstance(pulses, bool)
                                   or not 1 <= pulses < 1 << 16):
            raise ListenError(f"pulses must be an integer from 1 to 65535, not {pulses!r}")
        self.options = {"sample_rate": sample_rate, "pri": pri, "pulses": pulses}
        self.status = None
        self._last_cpi = None
        self._wraps = 0
        self._base = 0                    # the session's CPI of the board's CPI 0

    def _param(self, name):
        if self.options[name] is not None:
            return self.options[name]
        if self.status is None:
            return None
        if name == "pri":
            rate = self._param("sample_rate")
            return self.status.pri / rate if self.status.pri and rate else None
        return getattr(self.status, name) or None

    def peek(self, cpi):
        """What :meth:`unwrap` will make of ``cpi``, without taking it."""
        wrap = self._last_cpi is not None and cpi < self._last_cpi - _CPI_RANGE // 2
        return self._base + cpi + (self._wraps + wrap) * _CPI_RANGE

    def unwrap(self, cpi):
        """The session's CPI of the link's ``cpi`` (a backward jump of more than half the
        range counts a wrap)."""
        unwrapped = self.peek(cpi)
        self._wraps, self._last_cpi = (unwrapped - self._base) // _CPI_RANGE, cpi
        return unwrapped

    def restart(self, cpi):
        """The board reset and counts from ``cpi`` again: the session's count goes on
        after the last CPI heard."""
        if self._last_cpi is not None:
            self._base = self.peek(self._last_cpi) + 1 - cpi
            self._wraps, self._last_cpi = 0, None

    def _range_m(self, cell):
        """Range of a (fractional) range cell, the filter delay removed; None if unknown."""
        rate = self._param("sample_rate")
        n = self.status.pulse_samples if self.status is not None else 0
        return detection_range_m(cell, n, rate) if rate and n else None

    def _time_s(self, cpi, pulse):
        """Time of ``pulse`` of the session's CPI ``cpi`` (unwrapped); None if unknown."""
        pri, pulses = self._param("pri"), self._param("pulses")
        return (cpi * pulses + (pulses // 2 if pulse is None else pulse)) * pri \
            if pri and pulses else None

    def timing(self):
        """``(sample_rate, pri_s, pulses, pulse_samples)``, or None while one is unknown."""
        values = (self._param("sample_rate"), self._param("pri"), self._param("pulses"),
                  self.status.pulse_samples if self.status is not None else 0)
        return values if all(values) else None

    def row(self, det):
        """The ``detections.csv`` row of a Detection."""
        time_s = self._time_s(self.unwrap(det.cpi), det.pulse)
        return detection_row(det.cpi, det.pulse, time_s, self._range_m(det.range_bin),
                             det.range_bin, det.power, det.threshold)

    def plot_row(self, plot):
        """The ``detections.csv`` row of a Plot (time and range at the CPI's middle pulse)."""
        time_s = self._time_s(self.unwrap(plot.cpi), None)
        pri, pulses = self._param("pri"), self._param("pulses")
        velocity = None
        if pri and pulses and self.carrier:
            velocity = plot_velocity_mps(plot.doppler_pos, pulses, pri,
                                         SPEED_OF_LIGHT / self.carrier)
        return plot_row(plot.cpi, time_s, self._range_m(plot.range_pos / (1 << POSITION_FRAC)),
                        velocity, plot.range_pos, plot.doppler_pos, pulses or 1, plot.power,
                        plot.threshold)

    def track_row(self, track):
        """The ``tracks.csv`` row of a Track."""
        time_s = self._time_s(self.unwrap(track.cpi), None)
        pulses = self._param("pulses")
        line = self.status.range_bins if self.status is not None else 0
        velocity = track_velocity_mps(track.range_rate, pulses, line) if pulses and line else None
        return track_row(track.cpi, time_s, track.track_id, track.status,
                         self._range_m(track.range_pos / (1 << POSITION_FRAC)), velocity)


def _plausible(message, status):
    """Whether a report's fields fit the chain that the last ``status`` frame describes
    (its ``range_bins`` L and ``pulses`` M; 0 or no status: unknown, not checked): a
    detection's pulse below M and range bin below L; a plot's or track's range below L
    cells; a plot's Doppler below M bins; a track's status a known one. A frame whose
    CRC passed by chance seldom also passes these."""
    if status is None:
        return True
    length, pulses = status.range_bins, status.pulses
    cells = length << POSITION_FRAC
    if isinstance(message, Detection):
        return (not pulses or message.pulse < pulses) and \
            (not length or message.range_bin < length)
    if isinstance(message, Plot):
        return (not length or message.range_pos < cells) and \
            (not pulses or message.doppler_pos < pulses << POSITION_FRAC)
    return message.status < len(TRACK_STATUS_NAMES) and (not length or message.range_pos < cells)


class _Screen:
    """Shows the table: redrawn in place on a terminal, appended otherwise."""

    def __init__(self, stdout):
        self.stdout = stdout
        self.tty = hasattr(stdout, "isatty") and stdout.isatty()
        self._lines = 0

    def show(self, lines):
        if self._lines:
            self.stdout.write(f"\x1b[{self._lines}F\x1b[J" if self.tty else "\n")
        self.stdout.write("\n".join(lines) + "\n")
        self.stdout.flush()
        self._lines = len(lines)


class _Session:
    def __init__(self, name, radar, reports, stdout, sender=None):
        self.name = name
        self.radar = radar
        self.reports = reports
        self.decoder = Decoder()
        self.screen = _Screen(stdout)
        self.sender = sender
        self.last_detection = None
        self.implausible = 0
        self.resets = 0

    def take(self, messages):
        """Write and send ``messages``, which the decoder's last call returned; a report
        that the last status frame makes impossible is counted, not written."""
        for message, gap in zip(messages, self.decoder.gaps):
            if not isinstance(message, Status) and not _plausible(message, self.radar.status):
                self.implausible += 1
                continue
            if self.sender is not None and not isinstance(message, Status):
                self.sender.report(self.radar.peek(message.cpi), message, self.radar.timing(),
                                   gap)
            if isinstance(message, Detection):
                self.reports.report(message, self.radar.row(message))
                self.last_detection = message
            elif isinstance(message, Plot):
                self.reports.report(message, self.radar.plot_row(message))
            elif isinstance(message, Track):
                self.reports.track(self.radar.track_row(message))
            elif isinstance(message, Status):
                if message.flags & RESET_FLAG:
                    self.resets += 1
                    self.radar.restart(message.cpi)
                self.radar.unwrap(message.cpi)
                self.radar.status = message

    def listen(self, source, duration, refresh):
        start = shown = time.monotonic()
        seen = -1
        try:
            while duration is None or time.monotonic() - start < duration:
                chunk = source.read(_CHUNK)
                if chunk:
                    self.take(self.decoder.feed(chunk))
                    self.reports.flush()
                if time.monotonic() - shown >= refresh and self.decoder.bytes != seen:
                    self.screen.show(self.table())
                    shown, seen = time.monotonic(), self.decoder.bytes
        except KeyboardInterrupt:
            pass

    def table(self):
        d = self.decoder
        lines = [
            f"amaradar listen: {self.name}",
            f"  bytes {d.bytes:>10}   frames {d.frames:>8}   CRC errors {d.crc_errors:>6}"
            f"   resync bytes {d.resync_bytes:>8}",
            f"  detection frames {d.counts['detection']:>8}   status frames {d.counts['status']:>6}"
            f"   resets {self.resets:>4}",
            f"  plot frames {d.counts['plot']:>13}   track frames {d.counts['track']:>7}"
            + (f"   skipped (other chain's kind) {self.reports.skipped}"
               if self.reports.skipped else "")
            + (f"   implausible {self.implausible}" if self.implausible else ""),
        ]
        if self.sender is not None:
            lines.append(f"  ASTERIX datagrams sent {self.sender.datagrams:>6}   CPIs unsent "
                         f"{self.sender.unsent_cpis:>4}   reports out of range {self.sender.skipped}"
                         + ("" if self.sender.sealer is None else
                            f"   sealed, next sequence {self.sender.sealer.next_sequence}"))
        s = self.radar.status
        if s is None:
            lines.append("  last status: none yet")
        else:
            lines += [
                f"  last status: cpi {s.cpi}  preset {s.preset}  flags 0x{s.flags:02x}"
                f"  dropped samples {s.dropped_samples}",
                f"               reports dropped: cap {s.dropped_cap}, queue full {s.dropped_full}",
                f"               {s.range_bins} range bins  {s.pulses} pulses/CPI"
                f"  {s.sample_rate} Hz  PRI {s.pri} samples  pulse {s.pulse_samples} samples",
            ]
        det = self.last_detection
        if det is not None:
            lines.append(f"  last detection: cpi {det.cpi} pulse {det.pulse} range bin {det.range_bin}"
                         f"  power {power_db(det.power):.1f} dB  threshold {power_db(det.threshold):.1f} dB")
        return lines
