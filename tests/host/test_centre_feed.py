"""The centre's ASTERIX decoding: the track reports that go in come out, with the
range rate's sign from the heading, tentative and coasting tracks marked, time
unwrapped across midnight, and foreign, mismatched and damaged datagrams counted."""

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
