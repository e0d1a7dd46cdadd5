"""The centre's ASTERIX decoding: the track reports that go in come out, with the
range rate's sign from the heading, tentative and coasting tracks marked, time
unwrapped across midnight, and foreign, mismatched and damaged datagrams counted."""

import math

import pytest

from amaradar.host.asterix import asterix_records
from amaradar.host.centre.feed import FeedDecoder
from amaradar.host.site import parse_site
from test_asterix import PLOTS, R, SCENARIO, SITE, TRACKS, range_m, track_velocity


@pytest.fixture()
def datagrams():
    return asterix_records(SCENARIO, SITE, PLOTS, "plots", tracks=TRACKS)


def test_track_reports(datagrams):
    decoder = FeedDecoder([SITE])
    reports = [r for d in datagrams for r in decoder.decode(d)]
    assert [(r.track_number, r.measured) for r in reports] == \
        [(5, False), (5, True), (4100 % 4096, False), (5, False)]
    confirmed = reports[1]
    middle = (R.pulses_per_cpi + R.pulses_per_cpi // 2) * R.pri_s     # CPI 1, after midnight
    assert abs(confirmed.time_s - middle) <= 1 / 128
    assert abs(confirmed.range_m - range_m(2997)) <= 1852 / 256
    assert confirmed.range_rate_mps < 0
    assert abs(confirmed.range_rate_mps - track_velocity(TRACKS["range_rate"][1])) <= 1852 / 2 ** 14
    assert decoder.counts[(SITE.name, "reports")] == 4


def test_rejections_are_counted(datagrams):
    other = parse_site({"name": "other", "sac": 7, "sic": 7})
    decoder = FeedDecoder([other, SITE])
    assert decoder.decode(datagrams[0], lambda d: ("other", d)) == []
    assert decoder.decode(b"\x30\x00\x09" + bytes(3)) == []
    assert decoder.decode(datagrams[0], lambda d: "bad MAC") == []
    foreign = FeedDecoder([other])
    assert foreign.decode(datagrams[0]) == []
    records = 2                                   # CPI 0 has two plots
    assert foreign.counts[(None, "foreign source")] == records
    assert decoder.counts[(None, "mismatched source")] == records
    assert decoder.counts[(None, "undecodable")] == 1
    assert decoder.counts[(None, "bad MAC")] == 1


def test_two_sites_with_one_source_are_refused():
    with pytest.raises(ValueError, match="share a SAC/SIC"):
        FeedDecoder([SITE, parse_site({**SITE.as_dict(), "name": "twin"})])


def test_reports_fused_as_they_arrive_match_the_whole_file():
    """The Stepper on one CPI's datagrams at a time, the second site's a CPI late,
    gives the picture of the whole feeds at once."""
    from amaradar.host.centre.centre import CentreConfig
    from amaradar.host.centre.geometry import site_positions
    from amaradar.host.centre.replay import Stepper, decode_feeds
    from test_centre import SITES, THREE, feeds
    data = feeds(THREE)
    decoder = FeedDecoder(SITES)
    rows = {"whole": [], "live": []}

    def stepper(name):
        return Stepper(site_positions(SITES), CentreConfig(),
                       lambda t, centre: rows[name].extend(centre.rows(t)))
    whole = stepper("whole")
    whole.add(decode_feeds(decoder, data))
    whole.finish()
    live = stepper("live")
    for north_datagram, south_datagram in zip(data["north"], [None] + list(data["south"])):
        for datagram in (north_datagram, south_datagram):
            if datagram is not None:
                live.add(decoder.decode(datagram))
    live.finish()

    def at(name, time_s):
        return [r for r in rows[name] if abs(r["time_s"] - time_s) < 0.05]
    for a, b in zip(at("live", 10.0), at("whole", 10.0), strict=True):
        assert a["system_track_id"] == b["system_track_id"] and a["sites"] == b["sites"]
        dt = b["time_s"] - a["time_s"]          # the phases may differ a little
        assert math.hypot(a["east_m"] + a["east_mps"] * dt - b["east_m"],
                          a["north_m"] + a["north_mps"] * dt - b["north_m"]) < 10.0
    assert len(at("live", 10.0)) == 3 and rows["live"][-1]["time_s"] >= 19.0
