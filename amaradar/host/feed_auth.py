"""Authenticated site feeds: a sealed envelope around each ASTERIX datagram.

A site's datagram is sent as (big-endian, 32 bytes more than the ASTERIX payload)::

    offset  size  field
    0       3     magic  b"AMR"
    3       1     version  1
    4       1     SAC of the sending site
    5       1     SIC of the sending site
    6       8     sequence number, unsigned
    14      2     payload length in bytes
    16      n     payload (the ASTERIX datagram, unchanged)
    16 + n  16    MAC: HMAC-SHA256 of bytes 0 … 16 + n − 1 with the site's key,
                  truncated to its first 128 bits

The MAC is Python's standard ``hmac`` over ``hashlib.sha256`` (OpenSSL's SHA-256
underneath), checked with ``hmac.compare_digest`` (constant time): it ships with
Python, is maintained with it, and needs no third-party package for one keyed
hash. A 128-bit tag is the truncation RFC 4868 uses for HMAC-SHA-256 in IPsec
(there to 128 bits too): a forger's chance per try is 2⁻¹²⁸.

Keys are files, never options: one line of hexadecimal digits, at least 64 of
them (32 bytes; :func:`load_key`), made by :func:`write_new_key` (``amaradar keygen``)
from the operating system's random source. A centre holds a folder of them, one
per site, named ``SAC-SIC.key`` in decimal (``25-1.key``; :func:`load_key_folder`).

The sender (:class:`FeedSealer`) numbers its datagrams from the time it starts, in
microseconds since 1970, then one up per datagram: a site that restarts with the
same key goes on above the numbers it used before (unless it sent more than one
datagram per microsecond, or its clock went back), so the centre does not take its
fresh stream for a replay, and nothing needs to be stored between runs.

The receiver (:class:`FeedVerifier`) keeps, per site, the highest sequence number
it accepted and a bitmap of the ``window`` numbers below it (RFC 4303's
anti-replay window): constant memory per site, late datagrams inside the window
accepted once, duplicates and older ones dropped. The MAC is checked before the
window, so ``replayed`` and ``out_of_window`` count only authentic datagrams, and
only an authentic datagram moves the window.
"""

import enum
import hashlib
import hmac
import os
import re
import struct
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

__all__ = ["MAGIC", "VERSION", "MAC_BYTES", "HEADER_BYTES", "OVERHEAD_BYTES", "MIN_KEY_BYTES",
           "FeedKeyError", "Rejection", "Accepted", "seal", "FeedSealer", "FeedVerifier",
           "load_key", "load_key_folder", "write_new_key"]

MAGIC = b"AMR"
VERSION = 1
MAC_BYTES = 16
MIN_KEY_BYTES = 32
_HEADER = struct.Struct(">3sBBBQH")
HEADER_BYTES = _HEADER.size
OVERHEAD_BYTES = HEADER_BYTES + MAC_BYTES
_MAX_PAYLOAD = (1 << 16) - 1
_SEQUENCE_END = 1 << 64
_KEY_NAME = re.compile(r"(\d{1,3})-(\d{1,3})\.key")


class FeedKeyError(ValueError):
    """A key file or folder that cannot be used; the message is one line naming it."""


class Rejection(enum.StrEnum):
    """Why :meth:`FeedVerifier.verify` dropped a datagram."""
    CORRUPT = "corrupt"               # too short, bad magic or version, bad length
    FOREIGN = "foreign"               # a site with no key
    FORGED = "forged"                 # the MAC does not match the site's key
    REPLAYED = "replayed"             # authentic, its sequence number already accepted
    OUT_OF_WINDOW = "out_of_window"   # authentic, older than the replay window


class Accepted(NamedTuple):
    """An authentic datagram seen for the first time."""
    site: tuple        # (SAC, SIC)
    sequence: int
    payload: bytes


def _mac(key, message):
    return hmac.new(key, message, hashlib.sha256).digest()[:MAC_BYTES]


def _check_site(site):
    sac, sic = site
    for name, value in (("SAC", sac), ("SIC", sic)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
            raise ValueError(f"site {name} must be an integer from 0 to 255, not {value!r}")
    return int(sac), int(sic)


def _check_key(key):
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a feed key must be at least {MIN_KEY_BYTES} bytes")
    return key


def seal(site, sequence, payload, key):
    """The envelope of ``payload`` (bytes, at most 65535) from ``site`` ``(SAC, SIC)``
    numbered ``sequence`` (0 … 2⁶⁴ − 1), authenticated with ``key``."""
    sac, sic = _check_site(site)
    if not 0 <= sequence < _SEQUENCE_END:
        raise ValueError(f"sequence must be from 0 to 2**64 - 1, not {sequence!r}")
    if len(payload) > _MAX_PAYLOAD:
        raise ValueError(f"payload must be at most {_MAX_PAYLOAD} bytes, not {len(payload)}")
    message = _HEADER.pack(MAGIC, VERSION, sac, sic, sequence, len(payload)) + bytes(payload)
    return message + _mac(_check_key(key), message)


class FeedSealer:
    """Seals one site's datagrams with increasing sequence numbers.

    Parameters
    ----------
    site : (int, int)
        The sending site's SAC and SIC.
    key : bytes
        The site's key (:func:`load_key`).
    first_sequence : int, optional
        The first datagram's number; default: now, in microseconds since 1970.

    Attributes
    ----------
    next_sequence : int
        The number the next datagram gets.
    """

    def __init__(self, site, key, *, first_sequence=None):
        self.site, self.key = _check_site(site), _check_key(key)
        self.next_sequence = time.time_ns() // 1000 if first_sequence is None else first_sequence

    def seal(self, payload):
        """``payload`` in its envelope, numbered ``next_sequence``, which goes up by one."""
        datagram = seal(self.site, self.next_sequence, payload, self.key)
        self.next_sequence += 1
        return datagram


class _Window:
    """RFC 4303 anti-replay state of one site: the highest number accepted and a bitmap
    whose bit ``i`` says ``top − i`` was accepted."""
    __slots__ = ("top", "bits")

    def __init__(self):
        self.top, self.bits = None, 0

    def check(self, sequence, size):
        """None if ``sequence`` is new and inside the window, else the rejection."""
        if self.top is None or sequence > self.top:
            return None
        age = self.top - sequence
        if age >= size:
            return Rejection.OUT_OF_WINDOW
        return Rejection.REPLAYED if self.bits >> age & 1 else None

    def mark(self, sequence, size):
        """Record ``sequence`` (which :meth:`check` passed) as accepted."""
        if self.top is None or sequence > self.top:
            shift = size if self.top is None else min(sequence - self.top, size)
            self.bits = (self.bits << shift | 1) & ((1 << size) - 1)
            self.top = sequence
        else:
            self.bits |= 1 << (self.top - sequence)


class FeedVerifier:
    """Checks the envelopes of datagrams from the sites whose keys it holds.

    Parameters
    ----------
    keys_by_site : dict
        ``{(SAC, SIC): key}`` (:func:`load_key_folder`).
    window : int
        Replay window in sequence numbers (bits of state per site), 1 … 65536;
        an authentic datagram at least ``window`` below the highest number
        accepted from its site is ``out_of_window``.

    Attributes
    ----------
    counts : collections.Counter
        Datagrams per outcome: ``"accepted"`` and each :class:`Rejection`.
    site_counts : dict
        ``{(SAC, SIC): Counter}``, the same per site with a key (every outcome but
        ``corrupt`` and ``foreign``).
    """

    def __init__(self, keys_by_site, *, window=1024):
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 65536:
            raise ValueError(f"window must be an integer from 1 to 65536, not {window!r}")
        self.keys = {_check_site(site): _check_key(key) for site, key in keys_by_site.items()}
        self.window = window
        self.counts = Counter({outcome: 0 for outcome in ["accepted", *Rejection]})
        self.site_counts = {site: Counter() for site in self.keys}
        self._windows = {site: _Window() for site in self.keys}

    def verify(self, datagram):
        """:class:`Accepted` for an authentic, new ``datagram`` (bytes), else the
        :class:`Rejection`; either is counted."""
        site, outcome = self._outcome(bytes(datagram))
        counted = "accepted" if isinstance(outcome, Accepted) else outcome
        self.counts[counted] += 1
        if site in self.site_counts:
            self.site_counts[site][counted] += 1
        return outcome

    def _outcome(self, datagram):
        """``(site or None, outcome)`` of ``datagram``."""
        if len(datagram) < OVERHEAD_BYTES:
            return None, Rejection.CORRUPT
        magic, version, sac, sic, sequence, length = _HEADER.unpack_from(datagram)
        if magic != MAGIC or version != VERSION or len(datagram) != OVERHEAD_BYTES + length:
            return None, Rejection.CORRUPT
        site = (sac, sic)
        key = self.keys.get(site)
        if key is None:
            return site, Rejection.FOREIGN
        body, tag = datagram[:-MAC_BYTES], datagram[-MAC_BYTES:]
        if not hmac.compare_digest(_mac(key, body), tag):
            return site, Rejection.FORGED
        window = self._windows[site]
        rejection = window.check(sequence, self.window)
        if rejection is not None:
            return site, rejection
        window.mark(sequence, self.window)
        return site, Accepted(site, sequence, body[HEADER_BYTES:])


def load_key(path):
    """The key in the file ``path``: one line of at least 64 hexadecimal digits (an even
    number), surrounding white space ignored; :class:`FeedKeyError` otherwise."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FeedKeyError(f"key file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise FeedKeyError(f"key file {str(path)!r} is a folder") from None
    except OSError as error:
        raise FeedKeyError(f"cannot read key file {str(path)!r}: {error.strerror}") from None
    text = data.strip()
    allowed = f"one line of at least {2 * MIN_KEY_BYTES} hexadecimal digits (an even number)"
    if not re.fullmatch(rb"[0-9a-fA-F]+", text) or len(text) % 2:
        raise FeedKeyError(f"key file {str(path)!r} must hold {allowed}")
    key = bytes.fromhex(text.decode())
    if len(key) < MIN_KEY_BYTES:
        raise FeedKeyError(f"key file {str(path)!r} holds {len(key)} bytes; it must hold {allowed}")
    return key


def load_key_folder(folder):
    """``{(SAC, SIC): key}`` of the ``SAC-SIC.key`` files in ``folder`` (other files are
    ignored); :class:`FeedKeyError` for a bad key, a bad name or no key at all."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FeedKeyError(f"key folder {str(folder)!r} is not a folder")
    keys = {}
    for path in sorted(folder.glob("*.key")):
        match = _KEY_NAME.fullmatch(path.name)
        if match is None or max(int(match[1]), int(match[2])) > 255:
            raise FeedKeyError(f"key file {str(path)!r} must be named SAC-SIC.key, "
                            f"SAC and SIC from 0 to 255 (e.g. 25-1.key)")
        keys[int(match[1]), int(match[2])] = load_key(path)
    if not keys:
        raise FeedKeyError(f"key folder {str(folder)!r} holds no SAC-SIC.key file")
    return keys


def write_new_key(path):
    """Write a new random key (32 bytes from ``os.urandom``, as hex) to ``path``, readable
    by its owner only; :class:`FeedKeyError` if ``path`` exists or cannot be written."""
    text = os.urandom(MIN_KEY_BYTES).hex() + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FeedKeyError(f"key file {str(path)!r} exists; a key is never overwritten") from None
    except OSError as error:
        raise FeedKeyError(f"cannot write key file {str(path)!r}: {error.strerror}") from None
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
    except OSError as error:
        os.unlink(path)
        raise FeedKeyError(f"cannot write key file {str(path)!r}: {error.strerror}") from None
