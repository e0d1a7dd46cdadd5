"""Where the radar stands and when it starts: the ``[site]`` section of a scenario file.

The scenario (:mod:`amaradar.sim.world.scenario`) says what the radar is and what
it sees; the site says where it is and what it is called on a surveillance
network, which the field formats need (ASTERIX data source and time of day,
SigMF time stamp and position)::

    [site]                      # optional, every key optional; the defaults:
    name = "amaradar"           # free text, written into the recordings
    sac = 0                     # ASTERIX System Area Code, 0 to 255
    sic = 1                     # ASTERIX System Identification Code, 0 to 255
    latitude_deg = 0.0          # WGS-84, -90 to 90
    longitude_deg = 0.0         # WGS-84, -180 to 180
    altitude_m = 0.0            # metres above the ellipsoid, -32768 to 32767
    azimuth_deg = 0.0           # boresight, clockwise from north, 0 to < 360
    beamwidth_deg = 2.0         # two-way -3 dB beamwidth, > 0 to 360
    start_utc = "2026-01-01T00:00:00Z"   # time zero
    time_offset_s = 0.0         # the first transmit pulse, s after start_utc, >= 0

``start_utc`` is an RFC 3339 time with its offset (``Z`` or e.g. ``+02:00``,
converted to UTC), as a string or as a TOML offset date-time; a time without an
offset is refused. The radar looks along one fixed beam: every report is at the
boresight azimuth, and the beamwidth bounds the window it covers.

Several sites are ``[[site]]`` tables (two or more, :func:`parse_sites`): names
unique and usable as folder names; ``start_utc`` is the first site's for all
(time zero of the common time base; a later site may repeat it, not change it);
``time_offset_s`` is when each site's first pulse goes out, so sites need not be
synchronised.
"""

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

__all__ = ["SiteError", "Site", "SITE_KEYS", "parse_site", "site_from_document", "load_site",
           "parse_sites", "load_sites", "format_utc"]

_DEFAULT_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
_DAY_S = 86400


class SiteError(ValueError):
    """A ``[site]`` section that cannot be used; the message is one line naming the key."""


def format_utc(moment):
    """``moment`` (an aware datetime) in UTC as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``."""
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


@dataclass(frozen=True)
class Site:
    """The radar's site (see the module docstring for the keys, units and defaults)."""
    name: str = "amaradar"
    sac: int = 0
    sic: int = 1
    latitude_deg: float = 0.0
    longitude_deg: float = 0.0
    altitude_m: float = 0.0
    azimuth_deg: float = 0.0
    beamwidth_deg: float = 2.0
    start_utc: datetime = field(default=_DEFAULT_START)
    time_offset_s: float = 0.0

    @property
    def first_pulse_utc(self):
        """When the first transmit pulse goes out: ``start_utc + time_offset_s``."""
        return self.start_utc + timedelta(seconds=self.time_offset_s)

    @property
    def start_posix_s(self):
        """The first pulse in seconds since 1970-01-01T00:00:00Z."""
        return self.start_utc.timestamp() + self.time_offset_s

    @property
    def start_time_of_day_s(self):
        """Seconds from the UTC midnight before ``start_utc`` to the first pulse."""
        t = self.start_utc.astimezone(timezone.utc)
        return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond * 1e-6 + self.time_offset_s

    def time_of_day_s(self, t):
        """UTC time of day (s, in ``[0, 86400)``) of ``t`` seconds after the first pulse."""
        return (self.start_time_of_day_s + t) % _DAY_S

    def as_dict(self):
        """The site as a ``[site]`` table (``start_utc`` as text), for JSON and TOML."""
        return {"name": self.name, "sac": self.sac, "sic": self.sic,
                "latitude_deg": self.latitude_deg, "longitude_deg": self.longitude_deg,
                "altitude_m": self.altitude_m, "azimuth_deg": self.azimuth_deg,
                "beamwidth_deg": self.beamwidth_deg, "start_utc": format_utc(self.start_utc),
                "time_offset_s": self.time_offset_s}


#: key -> (kind, low, high, high inclusive, what is allowed in words)
SITE_KEYS = {
    "name": (str, None, None, None, "a non-empty string"),
    "sac": (int, 0, 255, True, "an integer from 0 to 255"),
    "sic": (int, 0, 255, True, "an integer from 0 to 255"),
    "latitude_deg": (float, -90.0, 90.0, True, "a number from -90 to 90"),
    "longitude_deg": (float, -180.0, 180.0, True, "a number from -180 to 180"),
    "altitude_m": (float, -32768.0, 32767.0, True, "a number from -32768 to 32767"),
    "azimuth_deg": (float, 0.0, 360.0, False, "a number from 0 to below 360"),
    "beamwidth_deg": (float, 0.0, 360.0, True, "a number above 0 and at most 360"),
    "start_utc": (datetime, None, None, None,
                  'an RFC 3339 time with its offset, e.g. "2026-01-01T00:00:00Z"'),
    "time_offset_s": (float, 0.0, 86400.0, True, "a number from 0 to 86400"),
}
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(key, value, where="site"):
    kind, low, high, high_inclusive, allowed = SITE_KEYS[key]
    given = value

    def fail():
        raise SiteError(f"{where}.{key} must be {allowed}, not {given!r}")
    if kind is str:
        if not isinstance(value, str) or not value.strip():
            fail()
        return value
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            fail()
        return value
    if kind is float:
        if not _number(value):
            fail()
        value = float(value)
        above_low = value > low if key == "beamwidth_deg" else value >= low
        below_high = value <= high if high_inclusive else value < high
        if not (above_low and below_high):
            fail()
        return value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            fail()
    if not isinstance(value, datetime) or value.utcoffset() is None:
        fail()
    return value.astimezone(timezone.utc)


def parse_site(table=None, where="site"):
    """Check a parsed ``[site]`` table and return a :class:`Site` (``None``: the defaults).

    Raises :class:`SiteError` with one line naming the offending key.
    """
    if table is None:
        return Site()
    if not isinstance(table, dict):
        raise SiteError(f"[{where}] must be a table, not {type(table).__name__}")
    unknown = sorted(set(table) - set(SITE_KEYS))
    if unknown:
        raise SiteError(f"unknown key {where}.{unknown[0]} (allowed: {', '.join(SITE_KEYS)})")
    return Site(**{key: _check(key, value, where) for key, value in table.items()})


def parse_sites(tables):
    """Check the ``[[site]]`` tables of a multi-site scenario: a tuple of :class:`Site`,
    every one with the first's ``start_utc``.

    Raises :class:`SiteError` with one line naming the offending table and key.
    """
    if not isinstance(tables, list) or len(tables) < 2:
        raise SiteError("[[site]] must be two or more tables (one site: a single [site])")
    sites = [parse_site(table, f"site[{i}]") for i, table in enumerate(tables)]
    names = set()
    for i, (table, site) in enumerate(zip(tables, sites)):
        if not _FOLDER_NAME.fullmatch(site.name):
            raise SiteError(f"site[{i}].name must be a folder name (letters, digits, '.', '_', "
                            f"'-', not starting with '.', '_' or '-', at most 64), not {site.name!r}")
        if site.name in names:
            raise SiteError(f"site[{i}].name {site.name!r} is already a site's: names must be unique")
        names.add(site.name)
        if "start_utc" in table and site.start_utc != sites[0].start_utc:
            raise SiteError(f"site[{i}].start_utc must equal site[0].start_utc (the common time "
                            f"zero; time_offset_s offsets a site), not {format_utc(site.start_utc)!r}")
    return tuple(replace(site, start_utc=sites[0].start_utc) for site in sites)


def site_from_document(doc):
    """The :class:`Site` of a parsed scenario document (its ``[site]`` table, if any)."""
    table = doc.get("site")
    if isinstance(table, list):
        raise SiteError(f"the scenario has {len(table)} [[site]] tables; one site is needed here "
                        "(a single [site])")
    return parse_site(table)


def load_site(path=None):
    """The :class:`Site` of a scenario file (``None``: the built-in scenario, which has
    no ``[site]``: the defaults).

    Raises :class:`SiteError` for an unreadable file, bad TOML or a bad ``[site]``.
    """
    if path is None:
        return Site()
    return site_from_document(_read_document(path))


def load_sites(path):
    """The sites of a scenario file with ``[[site]]`` tables (:func:`parse_sites`), or
    ``None`` when it has none (a single-site scenario)."""
    doc = _read_document(path)
    return parse_sites(doc["site"]) if isinstance(doc.get("site"), list) else None


def _read_document(path):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise SiteError(f"cannot read scenario file {str(path)!r}: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SiteError(f"{str(path)} is not valid TOML: {e}") from None
