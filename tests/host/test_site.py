"""The [site] section: defaults, parsing, time of day, and one-line errors naming the key."""

import tomllib
from datetime import datetime, timezone

import pytest

from amaradar.host.site import (Site, SiteError, format_utc, load_site, parse_site, parse_sites,
                                site_from_document)


def test_defaults():
    site = parse_site(None)
    assert site == parse_site({}) == Site()
    assert (site.name, site.sac, site.sic) == ("amaradar", 0, 1)
    assert (site.latitude_deg, site.longitude_deg, site.altitude_m) == (0.0, 0.0, 0.0)
    assert (site.azimuth_deg, site.beamwidth_deg) == (0.0, 2.0)
    assert site.start_utc == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert format_utc(site.start_utc) == "2026-01-01T00:00:00Z"


def test_full_table_and_round_trip():
    site = parse_site({"name": "north cape", "sac": 25, "sic": 200, "latitude_deg": 71.17,
                       "longitude_deg": -180, "altitude_m": 307, "azimuth_deg": 359.5,
                       "beamwidth_deg": 360, "start_utc": "2026-03-01T14:30:00.25+02:00"})
    assert site.sac == 25 and site.sic == 200
    assert isinstance(site.altitude_m, float) and site.altitude_m == 307.0
    assert site.start_utc == datetime(2026, 3, 1, 12, 30, 0, 250000, tzinfo=timezone.utc)
    assert site.as_dict()["start_utc"] == "2026-03-01T12:30:00.250000Z"
    assert parse_site(site.as_dict()) == site


def test_toml_datetime_and_time_of_day():
    doc = tomllib.loads('[site]\nstart_utc = 2026-06-30T23:59:59.5Z\n')
    site = parse_site(doc["site"])
    assert site.start_time_of_day_s == pytest.approx(86399.5)
    assert site.time_of_day_s(0.25) == pytest.approx(86399.75)
    assert site.time_of_day_s(1.0) == pytest.approx(0.5)         # past midnight: wraps
    assert site.start_posix_s == datetime(2026, 6, 30, 23, 59, 59, 500000,
                                          tzinfo=timezone.utc).timestamp()


def test_load_site_reads_the_scenario_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[radar]\npri_s = 1e-3\n\n[site]\nsac = 3\nazimuth_deg = 90\n')
    site = load_site(path)
    assert (site.sac, site.azimuth_deg, site.sic) == (3, 90.0, 1)
    path.write_text('[radar]\npri_s = 1e-3\n')
    assert load_site(path) == Site()
    assert load_site(None) == Site()
    with pytest.raises(SiteError, match="cannot read scenario file"):
        load_site(tmp_path / "missing.toml")


@pytest.mark.parametrize("table, message", [
    ({"sac": 256}, "site.sac must be an integer from 0 to 255, not 256"),
    ({"sac": True}, "site.sac must be an integer from 0 to 255, not True"),
    ({"sic": "1"}, "site.sic must be an integer from 0 to 255, not '1'"),
    ({"latitude_deg": 90.5}, "site.latitude_deg must be a number from -90 to 90, not 90.5"),
    ({"longitude_deg": -181}, "site.longitude_deg must be a number from -180 to 180, not -181"),
    ({"altitude_m": 40000}, "site.altitude_m must be a number from -32768 to 32767, not 40000"),
    ({"azimuth_deg": 360}, "site.azimuth_deg must be a number from 0 to below 360, not 360"),
    ({"azimuth_deg": float("nan")}, "site.azimuth_deg must be a number from 0 to below 360, not nan"),
    ({"beamwidth_deg": 0}, "site.beamwidth_deg must be a number above 0 and at most 360, not 0"),
    ({"name": " "}, "site.name must be a non-empty string, not ' '"),
    ({"start_utc": "2026-01-01T00:00:00"},
     "site.start_utc must be an RFC 3339 time with its offset, e.g. \"2026-01-01T00:00:00Z\", "
     "not '2026-01-01T00:00:00'"),
    ({"start_utc": "noon"}, "site.start_utc must be an RFC 3339 time with its offset"),
    ({"start_utc": 0}, "site.start_utc must be an RFC 3339 time"),
    ({"sic": 1, "range_m": 3}, "unknown key site.range_m (allowed: name, sac, sic, latitude_deg, "),
])
def test_bad_keys_give_one_line(table, message):
    with pytest.raises(SiteError) as error:
        parse_site(table)
    text = str(error.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_site_must_be_a_table():
    with pytest.raises(SiteError, match=r"^\[site\] must be a table, not list$"):
        parse_site([1])
    assert issubclass(SiteError, ValueError)


def test_time_offset_moves_the_first_pulse():
    site = parse_site({"start_utc": "2026-06-30T12:00:00Z", "time_offset_s": 0.0125})
    assert site.start_time_of_day_s == pytest.approx(12 * 3600 + 0.0125)
    assert site.time_of_day_s(1.0) == pytest.approx(12 * 3600 + 1.0125)
    assert site.start_posix_s == pytest.approx(parse_site({"start_utc": "2026-06-30T12:00:00Z"})
                                               .start_posix_s + 0.0125)
    assert parse_site(site.as_dict()) == site


def test_several_sites():
    sites = parse_sites([{"name": "west", "start_utc": "2026-06-30T12:00:00Z"},
                         {"name": "east", "sac": 7, "time_offset_s": 0.5}])
    assert [s.name for s in sites] == ["west", "east"]
    assert sites[1].start_utc == sites[0].start_utc and sites[1].time_offset_s == 0.5
    with pytest.raises(SiteError, match=r"one site is needed here"):
        site_from_document({"site": [{}, {}]})


@pytest.mark.parametrize("tables, message", [
    ([{"name": "a"}], r"\[\[site\]\] must be two or more tables"),
    ([{"name": "a"}, {"name": "a"}], r"site\[1\].name 'a' is already a site's"),
    ([{"name": "a"}, {"name": "x/y"}], r"site\[1\].name must be a folder name"),
    ([{"name": "a"}, {"name": ".."}], r"site\[1\].name must be a folder name"),
    ([{"name": "a"}, {"name": "b", "time_offset_s": -1}],
     r"site\[1\].time_offset_s must be a number from 0 to 86400, not -1"),
    ([{"name": "a"}, {"name": "b", "sic": 300}], r"site\[1\].sic must be an integer"),
    ([{"name": "a"}, {"name": "b", "bogus": 1}], r"unknown key site\[1\].bogus"),
    ([{"name": "a"}, {"name": "b", "start_utc": "2026-02-01T00:00:00Z"}],
     r"site\[1\].start_utc must equal site\[0\].start_utc"),
])
def test_bad_sites_are_one_line(tables, message):
    with pytest.raises(SiteError, match=message) as e:
        parse_sites(tables)
    assert "\n" not in str(e.value)
