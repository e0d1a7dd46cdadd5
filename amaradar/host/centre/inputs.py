"""What ``amaradar centre`` reads: the sites, the feeds, the truth. Errors are
:class:`CentreInputError`, one line naming the file or option."""

import csv
import json
import socket
import time

from ..asterix_udp import parse_udp_address
from ..site import SITE_KEYS, SiteError, load_site, parse_site
from .feed import read_ast

__all__ = ["CentreInputError", "load_sites_json", "load_site_files", "load_feeds",
           "read_truth", "receive_udp", "TRUTH_COLUMNS"]

TRUTH_COLUMNS = ("time_s", "target", "east_m", "north_m", "up_m", "east_mps", "north_mps",
                 "up_mps")


class CentreInputError(ValueError):
    """A bad input of the centre: one line."""


def _pairs(option, values):
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise CentreInputError(f"{option} must be NAME=FILE, not {value!r}")
        if name in out:
            raise CentreInputError(f"{option}: site {name!r} given twice")
        out[name] = path
    return out


def load_sites_json(path):
    """The sites of ``sites.json``: a list of ``Site.as_dict()`` tables, ``{"sites":
    [...]}`` or ``{name: table}`` (in order); keys other than a site's (e.g. its ENU
    position) are ignored."""
    try:
        doc = json.loads(open(path).read())
    except OSError as e:
        raise CentreInputError(f"--sites {str(path)!r}: {e.strerror}") from None
    except ValueError as e:
        raise CentreInputError(f"--sites {str(path)!r} is not JSON: {e}") from None
    tables = doc
    if isinstance(doc, dict):
        tables = doc["sites"] if "sites" in doc else \
            [{"name": name, **t} if isinstance(t, dict) else t for name, t in doc.items()]
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise CentreInputError(f"--sites {str(path)!r} must hold a non-empty list of site tables")
    try:
        return [parse_site({k: v for k, v in t.items() if k in SITE_KEYS}) for t in tables]
    except SiteError as e:
        raise CentreInputError(f"--sites {str(path)!r}: {e}") from None


def load_site_files(values):
    """The sites of ``--site NAME=FILE.toml`` options (each file's ``[site]``, named NAME)."""
    sites = []
    for name, path in _pairs("--site", values).items():
        try:
            site = load_site(path)
        except SiteError as e:
            raise CentreInputError(f"--site {name}: {e}") from None
        sites.append(parse_site({**site.as_dict(), "name": name}))
    return sites


def load_feeds(values, sites):
    """``{site name: datagrams}`` of ``--feed NAME=FILE.ast`` options."""
    names = {s.name for s in sites}
    feeds = {}
    for name, path in _pairs("--feed", values).items():
        if name not in names:
            raise CentreInputError(f"--feed {name}={path}: no site {name!r} "
                                   f"(sites: {', '.join(sorted(names))})")
        try:
            feeds[name] = read_ast(path)
        except OSError as e:
            raise CentreInputError(f"--feed {name}={path}: {e.strerror}") from None
        except ValueError as e:
            raise CentreInputError(f"--feed {e}") from None
    return feeds


def read_truth(path):
    """The rows of ``truth.csv`` (``TRUTH_COLUMNS``) as dicts of floats."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in TRUTH_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise CentreInputError(f"--truth {str(path)!r} has no column {missing[0]!r} "
                                       f"(needed: {','.join(TRUTH_COLUMNS)})")
            return [{k: float(row[k]) for k in TRUTH_COLUMNS} for row in reader]
    except OSError as e:
        raise CentreInputError(f"--truth {str(path)!r}: {e.strerror}") from None
    except ValueError as e:
        if isinstance(e, CentreInputError):
            raise
        raise CentreInputError(f"--truth {str(path)!r}: {e}") from None


def receive_udp(address, duration_s):
    """The datagrams that reach ``address`` ("HOST:PORT", bound) within ``duration_s``,
    yielded as they arrive (the port is bound at the first ``next``)."""
    try:
        family, where = parse_udp_address(address)
    except ValueError as e:
        raise CentreInputError(f"--udp: {e}") from None
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind(where)
    except OSError as e:
        sock.close()
        raise CentreInputError(f"--udp {address}: cannot listen there: {e.strerror}") from None
    end = time.monotonic() + duration_s
    with sock:
        while (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                yield sock.recv(65535)
            except socket.timeout:
                break
