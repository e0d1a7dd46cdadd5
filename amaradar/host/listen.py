"""``amaradar listen``: decode the report link from a serial port or a replay file.

The bytes are decoded as they arrive (:class:`amaradar.spec.link.Decoder`); a table of
what arrived (frames per type, CRC errors, resync bytes, the last status) is shown
on ``stdout`` — redrawn in place on a terminal, printed at each refresh that saw
new bytes otherwise, and once more at the end — and every detection becomes a row
of ``detections.csv`` in the output folder.

detections.csv
--------------
``cpi,pulse,time_s,range_m,range_bin,power_db,threshold_db``

cpi, pulse, range_bin
    The detection's fields as received (cpi wraps at 2**16).
time_s
    ``(cpi' * pulses + pulse) * PRI`` in seconds since CPI 0, where ``cpi'`` is
    the CPI counter unwrapped over the session (each backward jump of more than
    half the range counts one wrap).
range_m
    ``c / 2 * (range_bin - (N - 1)) / sample_rate`` in metres
    (c = 299 792 458 m/s): the range of the echo's leading edge, the matched
    filter's delay of ``N - 1`` samples removed, as ``amaradar sim`` computes it
    (N is the status frame's ``pulse_samples``).
power_db, threshold_db
    ``10 * log10`` of the power and threshold in LSB² of the detector input
    (``-inf`` for 0).

The radar parameters come from the options given (``sample_rate`` in Hz, ``pri``
in seconds, ``pulses`` per CPI) and, for those not given, from the configuration
words of the last status frame received (``sample_rate``, ``pri`` in sample
periods, ``pulses``; 0 means unknown); N comes from the status frames only. When
one that a column needs is unknown (for example before the first status frame),
that column is left empty. The numbers are written as ``amaradar sim`` writes
them, so both files agree row for row on the same detections.

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
from pathlib import Path

from ..spec.link import LINK_BAUD, Decoder, Detection, Status
from .writers.rows import DETECTION_CSV_COLUMNS, detection_range_m, detection_row, power_db

__all__ = ["ListenError", "run_listen"]

_CHUNK = 4096
_CPI_RANGE = 1 << 16


class ListenError(Exception):
    """Bad input to :func:`run_listen`; the message is one line for the user."""


def run_listen(*, port=None, baud=LINK_BAUD, replay=None, out_dir, stdout,
               sample_rate=None, pri=None, pulses=None, duration=None, refresh=0.5):
    """Decode the report link into ``out_dir/detections.csv`` while showing a live table.

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
    duration : float, optional
        Seconds to listen on ``port``; None listens until Ctrl-C.
    refresh : float
        Seconds between redraws of the table.

    Returns
    -------
    int
        0.

    Raises
    ------
    ListenError
        Both or neither of ``port``/``replay``, a missing or unusable port or
        file, an unsupported baud rate, a bad radar parameter, or an output
        folder that cannot be written.
    """
    if (port is None) == (replay is None):
        raise ListenError("give either a serial port or a replay file" if port is None
                          else "give a serial port or a replay file, not both")
    radar = _Radar(sample_rate=sample_rate, pri=pri, pulses=pulses)
    _positive("duration", duration, "seconds")
    if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
        raise ListenError(f"baud must be a positive whole number, not {baud!r}")
    if port is not None:
        source, name = _open_port(port, baud), f"port {port} at {baud} baud"
    else:
        source, name = _open_replay(replay), f"replay {replay}"
    try:
        csv_file = _open_csv(Path(out_dir))
    except ListenError:
        source.close()
        raise
    with source, csv_file:
        session = _Session(name, radar, csv.writer(csv_file, lineterminator="\n"), stdout)
        session.writer.writerow(DETECTION_CSV_COLUMNS)
        if port is not None:
            session.listen(source, duration, refresh, csv_file)
        else:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                session.take(session.decoder.feed(chunk))
        session.take(session.decoder.finish())
        session.screen.show(session.table())
    return 0


def _positive(name, value, unit):
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not value > 0 or math.isinf(value)):
        raise ListenError(f"{name} must be a positive number of {unit}, not {value!r}")


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


def _open_csv(out_dir):
    path = out_dir / "detections.csv"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return open(path, "w", newline="")
    except OSError as error:
        raise ListenError(f"cannot write {path}: {error.strerror}") from None


class _Radar:
    """Radar parameters (options first, then the last status) and CPI unwrapping."""

    def __init__(self, *, sample_rate, pri, pulses):
        _positive("sample_rate", sample_rate, "Hz")
        _positive("pri", pri, "seconds")
        if pulses is not None and (not isinstance(pulses, int) or isinstance(pulses, bool)
                                   or pulses < 1):
            raise ListenError(f"pulses must be a positive integer, not {pulses!r}")
        self.options = {"sample_rate": sample_rate, "pri": pri, "pulses": pulses}
        self.status = None
        self._last_cpi = None
        self._wraps = 0

    def _param(self, name):
        if self.options[name] is not None:
            return self.options[name]
        if self.status is None:
            return None
        if name == "pri":
            rate = self._param("sample_rate")
            return self.status.pri / rate if self.status.pri and rate else None
        return getattr(self.status, name) or None

    def unwrap(self, cpi):
        if self._last_cpi is not None and cpi < self._last_cpi - _CPI_RANGE // 2:
            self._wraps += 1
        self._last_cpi = cpi
        return cpi + self._wraps * _CPI_RANGE

    def row(self, det):
        cpi = self.unwrap(det.cpi)
        rate, pri, pulses = (self._param(n) for n in ("sample_rate", "pri", "pulses"))
        time_s = (cpi * pulses + det.pulse) * pri if pri and pulses else None
        n = self.status.pulse_samples if self.status is not None else 0
        range_m = detection_range_m(det.range_bin, n, rate) if rate and n else None
        return detection_row(det.cpi, det.pulse, time_s, range_m, det.range_bin, det.power,
                             det.threshold)


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
    def __init__(self, name, radar, writer, stdout):
        self.name = name
        self.radar = radar
        self.writer = writer
        self.decoder = Decoder()
        self.screen = _Screen(stdout)
        self.last_detection = None

    def take(self, messages):
        for message in messages:
            if isinstance(message, Detection):
                self.writer.writerow(self.radar.row(message))
                self.last_detection = message
            elif isinstance(message, Status):
                self.radar.unwrap(message.cpi)
                self.radar.status = message

    def listen(self, source, duration, refresh, csv_file):
        start = shown = time.monotonic()
        seen = -1
        try:
            while duration is None or time.monotonic() - start < duration:
                chunk = source.read(_CHUNK)
                if chunk:
                    self.take(self.decoder.feed(chunk))
                    csv_file.flush()
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
            f"  detection frames {d.counts['detection']:>8}   status frames {d.counts['status']:>6}",
        ]
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
