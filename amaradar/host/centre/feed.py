"""The sites' ASTERIX, decoded for the centre: CAT048 track reports as :class:`SiteReport`.

Decoded with ``libasterix`` (the library that encodes them, :mod:`amaradar.host.asterix`).
A record is a report of a site track when it has I048/161 (track number), I048/040
(RHO: the range, 1/256 NM), I048/140 (time of day, 1/128 s) and I048/200 (the radial
velocity as a ground speed along the beam: heading the boresight when the range
opens, the boresight + 180 degree when it closes). I048/170 CNF = 1 marks a
tentative track and I048/020 TYP = 0 a coasting one (no detection: the range is
the site tracker's prediction); the centre uses neither as a measurement.
Records of CAT034 and plots without a track are skipped.

Time: a report's time is its time of day less the first site's ``start_utc`` time
of day, unwrapped into ``[-12 h, 12 h)`` (runs shorter than 12 hours, across
midnight too).

Which site sent a datagram: :func:`screen_plain` trusts the records' SAC/SIC. A
screen that authenticates datagrams (a sequence number and a MAC per site) has the
same signature: ``screen(datagram) -> (site name or None, payload)`` or a one-line
rejection reason; records whose SAC/SIC are not the screened site's are rejected.
"""

from collections import Counter
from dataclasses import dataclass

from ..asterix import NAUTICAL_MILE_M
from ..feed_auth import Accepted

__all__ = ["SiteReport", "FeedDecoder", "screen_plain", "read_ast"]

_DAY_S = 86400.0
_TOD_LSB = 1 / 128
_RHO_M = NAUTICAL_MILE_M / 256
_GSP_MPS = NAUTICAL_MILE_M / (1 << 14)


@dataclass(frozen=True)
class SiteReport:
    """One report of a site track: ``time_s`` in the centre's time, ``range_m``,
    ``range_rate_mps`` (negative closing); ``measured``: a confirmed track updated by a
    detection (not tentative, not coasting); ``simulated``: I048/020 SIM set."""
    site: str
    track_number: int
    time_s: float
    range_m: float
    range_rate_mps: float
    measured: bool
    simulated: bool = False


def screen_plain(datagram):
    """Accept every datagram and name no site: the records' SAC/SIC tell."""
    return None, datagram


def authenticated_screen(verifier, sites):
    """A screen that passes only what ``verifier`` (:class:`~amaradar.host.feed_auth.FeedVerifier`)
    accepts, named by the site its envelope was sealed for; its rejection reasons
    (``corrupt``, ``foreign``, ``forged``, ``replayed``, ``out_of_window``) are counted."""
    names = {(site.sac, site.sic): site.name for site in sites}

    def screen(datagram):
        outcome = verifier.verify(datagram)
        if not isinstance(outcome, Accepted):
            return str(outcome)
        if outcome.site not in names:
            return "foreign"
        return names[outcome.site], outcome.payload
    return screen


def _uint(item, name):
    return item.variation.get_item(name).as_uint()


class FeedDecoder:
    """Decode the datagrams of known ``sites`` (Site objects, the first one the time
    reference) into :class:`SiteReport` lists.

    Attributes
    ----------
    counts : collections.Counter
        ``(site name, what)``: ``records``, ``reports`` (track reports kept) per site;
        ``(None, reason)`` for rejected datagrams and records: ``undecodable``,
        ``foreign source`` (SAC/SIC of no known site), ``mismatched source``, or a
        screen's reason.
    """

    def __init__(self, sites):
        self.sites = {(s.sac, s.sic): s for s in sites}
        if len(self.sites) != len(sites):
            raise ValueError("two sites share a SAC/SIC: the centre cannot tell their feeds apart")
        self.reference_tod_s = sites[0].start_time_of_day_s
        self.counts = Counter()
        import asterix.generated as gen
        from asterix.base import Bits, RawDatablock
        self._cat048, self._bits, self._raw = gen.Cat_048_1_32, Bits, RawDatablock

    def time_s(self, tod_raw):
        """Centre time (s) of a time of day in 1/128 s."""
        return (tod_raw * _TOD_LSB - self.reference_tod_s + _DAY_S / 2) % _DAY_S - _DAY_S / 2

    def decode(self, datagram, screen=screen_plain):
        """The reports of one datagram; rejections are counted, never raised."""
        screened = screen(datagram)
        if isinstance(screened, str):
            self.counts[(None, screened)] += 1
            return []
        named, payload = screened
        blocks = self._raw.parse(self._bits.from_bytes(payload))
        if isinstance(blocks, ValueError):
            self.counts[(None, "undecodable")] += 1
            return []
        out = []
        for block in blocks:
            if block.get_category() != 48:
                continue
            records = self._cat048.cv_uap.parse(block.get_raw_records())
            if isinstance(records, ValueError):
                self.counts[(None, "undecodable")] += 1
                continue
            for record in records:
                report = self._report(record, named)
                if report is not None:
                    out.append(report)
        return out

    def _report(self, record, named):
        source = record.get_item("010")
        site = None if source is None else \
            self.sites.get((_uint(source, "SAC"), _uint(source, "SIC")))
        if site is None:
            self.counts[(None, "foreign source")] += 1
            return None
        if named is not None and named != site.name:
            self.counts[(None, "mismatched source")] += 1
            return None
        self.counts[(site.name, "records")] += 1
        items = {key: record.get_item(key) for key in ("161", "040", "140", "200", "170", "020")}
        if any(items[key] is None for key in ("161", "040", "140", "200")):
            return None
        heading = _uint(items["200"], "HDG") * 360 / (1 << 16)
        closing = abs((heading - site.azimuth_deg + 180) % 360 - 180) > 90
        speed = _uint(items["200"], "GSP") * _GSP_MPS
        tentative = items["170"] is not None and _uint(items["170"], "CNF") == 1
        coasting = items["020"] is not None and _uint(items["020"], "TYP") == 0
        self.counts[(site.name, "reports")] += 1
        return SiteReport(site=site.name, track_number=_uint(items["161"], "TRN"),
                          time_s=self.time_s(items["140"].as_uint()),
                          range_m=_uint(items["040"], "RHO") * _RHO_M,
                          range_rate_mps=-speed if closing else speed,
                          measured=not (tentative or coasting),
                          simulated=items["020"] is not None and _uint(items["020"], "SIM") == 1)


def read_ast(path):
    """The datagrams of a raw ``.ast`` file, one data block each (its length field cuts
    them); ``ValueError`` with one line if the file is not ASTERIX."""
    data = open(path, "rb").read()
    blocks, at = [], 0
    while at < len(data):
        if len(data) - at < 3:
            raise ValueError(f"{path}: {len(data) - at} stray bytes at the end (not ASTERIX)")
        length = int.from_bytes(data[at + 1:at + 3], "big")
        if length < 3 or at + length > len(data):
            raise ValueError(f"{path}: byte {at} does not start an ASTERIX data block")
        blocks.append(data[at:at + length])
        at += length
    return blocks
