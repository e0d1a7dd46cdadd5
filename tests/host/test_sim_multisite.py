"""`amaradar sim` on a scenario with [[site]]: each site's run in OUT/<site>/, its plots
at the geometric ranges, its ASTERIX with its SAC/SIC and time offset, the truth in the
first site's frame; bad [[site]] tables are one line and exit 2."""

import csv
import json
import tomllib
from dataclasses import replace
from importlib import resources

import numpy as np
import pytest
import pyobelix

from amaradar.cli import main
from amaradar.host.multisite import site_geometries
from amaradar.host.site import parse_sites
from amaradar.sim.world.geometry import line_of_sight
from amaradar.sim.world.multisite import site_scenarios
from amaradar.sim.world.scenario import ScenarioError, parse_scenario, receive_iq

NM = 1852.0


def example_doc(cpis=6):
    """The shipped two-site example, shortened to ``cpis`` CPIs."""
    doc = tomllib.loads(resources.files("amaradar").joinpath("scenarios/two_sites.toml")
                        .read_text())
    doc["radar"]["cpis"] = cpis
    return doc


def write_toml(path, doc):
    """``doc`` (tables of numbers, strings, lists and arrays of tables) as TOML text."""
    def value(v):
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)
    lines = []
    for name, table in doc.items():
        for t in table if isinstance(table, list) else [table]:
            lines.append(f"[[{name}]]" if isinstance(table, list) else f"[{name}]")
            lines += [f"{k} = {value(v)}" for k, v in t.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multisite")
    doc = example_doc()
    scenario_file = write_toml(tmp / "two.toml", doc)
    out = tmp / "out"
    assert main(["sim", "--scenario", str(scenario_file), "--engine", "reference", "--out",
                 str(out), "--quiet"]) == 0
    return doc, out


def test_outputs_of_every_site(reference_run):
    doc, out = reference_run
    report = json.loads((out / "report.json").read_text())
    assert report["engine"] == "reference" and report["bit_exact"] is None
    assert [s["name"] for s in report["sites"]] == ["west", "east"]
    for site in ("west", "east"):
        for name in ("report.json", "detections.csv", "truth.csv", "tracks.csv", "asterix.ast"):
            assert (out / site / name).is_file()
    sites = json.loads((out / "sites.json").read_text())
    assert sites[0]["enu_m"] == [0.0, 0.0, 0.0]
    assert sites[1]["time_offset_s"] == 0.0073 and sites[1]["sic"] == 2
    assert np.linalg.norm(sites[1]["enu_m"]) == pytest.approx(150e3, abs=50)


def test_the_centre_reads_the_sites_streams(reference_run):
    """OUT/centre/ holds the centre's files on the sites' ASTERIX, every record decoded."""
    _, out = reference_run
    centre = json.loads((out / "centre" / "report.json").read_text())
    header = (out / "centre" / "system_tracks.csv").read_text().splitlines()[0]
    assert header == ("time_s,system_track_id,east_m,north_m,east_mps,north_mps,"
                      "sigma_east_m,sigma_north_m,sites")
    for name in ("west", "east"):
        assert centre["sites"][name]["track_reports"] > 0
    assert centre["rejected"] == {}
    report = json.loads((out / "report.json").read_text())
    assert report["centre"]["system_tracks"] == centre["system_tracks"]


def test_plots_lie_at_the_geometric_ranges(reference_run):
    """Every site's plots of each CPI against the range its geometry gives at the plot's
    time (site time plus its offset): within 1.5 range cells (the LFM's range-Doppler
    coupling shifts a 2 km/s target by 0.6 cell), every target every CPI."""
    doc, out = reference_run
    scenario = parse_scenario(doc)
    sites = parse_sites(doc["site"])
    cell = scenario.radar.range_bin_m
    for site, geometry in zip(sites, site_geometries(sites)):
        plots = rows(out / site.name / "detections.csv")
        for cpi in range(scenario.radar.cpis):
            mine = [p for p in plots if int(p["cpi"]) == cpi]
            t = float(mine[0]["time_s"]) + site.time_offset_s
            for target in scenario.targets:
                truth = line_of_sight(target.trajectory, geometry, t)[0]
                error = min(abs(float(p["range_m"]) - truth) for p in mine)
                assert error < 1.5 * cell, (site.name, cpi, error)
        report = json.loads((out / site.name / "report.json").read_text())
        assert report["score"]["false_plots"] <= report["score"]["allowed_false"]
        assert report["site"]["sic"] == site.sic


def test_asterix_per_site_with_its_time_offset(reference_run):
    """pyobelix (an independent decoder) reads each site's stream: its SAC/SIC, and the
    time of day of the site's CPI-start sector messages: start_utc (12:00:00) plus the
    site's offset plus the CPI's start, to 1/128 s."""
    doc, out = reference_run
    scenario = parse_scenario(doc)
    cpi_s = scenario.radar.pulses_per_cpi * scenario.radar.pri_s
    for site in parse_sites(doc["site"]):
        records = list(pyobelix.iter_records((out / site.name / "asterix.ast").read_bytes(),
                                             strict=True))
        assert {(r["sac"], r["sic"]) for r in records} == {(site.sac, site.sic)}
        sectors = [r for r in records if r["cat"] == 34 and r["message_type"] == 2]
        assert len(sectors) == scenario.radar.cpis
        for cpi, record in enumerate(sectors):
            want = 12 * 3600 + site.time_offset_s + cpi * cpi_s
            assert abs(record["time_of_day"] - want) <= 1 / 128
        plots = [r for r in records if r["cat"] == 48]
        assert plots and all("track_number" in r for r in plots)


def test_truth_in_the_first_site_frame(reference_run):
    doc, out = reference_run
    scenario = parse_scenario(doc)
    truth = rows(out / "truth.csv")
    r = scenario.radar
    assert len(truth) == r.cpis * len(scenario.targets)
    last = truth[-1]
    t = r.cpis * r.pulses_per_cpi * r.pri_s
    assert float(last["time_s"]) == pytest.approx(t)
    # target 2: [80 km, 90 km, 20 km] + [-300, -2500, -1200] m/s, up accelerating at -9.8
    assert int(last["target"]) == 2
    assert float(last["north_m"]) == pytest.approx(90e3 - 2500 * t, abs=1e-3)
    assert float(last["up_m"]) == pytest.approx(20e3 - 1200 * t - 4.9 * t * t, abs=1e-3)
    assert float(last["up_mps"]) == pytest.approx(-1200 - 9.8 * t, abs=1e-3)


def test_a_target_outside_a_sector_gives_no_echo():
    """The east site turned away from the targets: its ADC samples are its noise alone,
    sample for sample; the west site's are not."""
    doc = example_doc(cpis=1)
    doc["site"][1]["azimuth_deg"] = 180.0
    scenario = parse_scenario(doc)
    west, east = site_scenarios(scenario, site_geometries(parse_sites(doc["site"])))
    empty = receive_iq(replace(east, targets=()))[0]
    assert np.array_equal(receive_iq(east)[0], empty)
    assert not np.array_equal(receive_iq(west)[0], receive_iq(replace(west, targets=()))[0])


def test_site_snr_follows_the_radar_equation():
    doc = example_doc(cpis=1)
    scenario = parse_scenario(doc)
    geometries = site_geometries(parse_sites(doc["site"]))
    west, east = site_scenarios(scenario, geometries)
    for planar, w, e in zip(scenario.targets, west.targets, east.targets):
        r1 = line_of_sight(planar.trajectory, geometries[0], 0.0)[0]
        r2 = line_of_sight(planar.trajectory, geometries[1], 0.0)[0]
        assert w.snr_db == pytest.approx(planar.snr_db)
        assert e.snr_db == pytest.approx(planar.snr_db + 40 * np.log10(r1 / r2))
    assert east.radar.noise_seed == west.radar.noise_seed + 1


def _doc_with(change):
    doc = example_doc(cpis=1)
    change(doc)
    return doc


@pytest.mark.parametrize("change, message", [
    (lambda d: d["site"][1].update(name="west"), "site[1].name 'west' is already a site's"),
    (lambda d: d["site"][1].update(name="a/b"), "site[1].name must be a folder name"),
    (lambda d: d["site"][1].update(time_offset_s=-0.5), "site[1].time_offset_s must be"),
    (lambda d: d["site"][0].update(bogus=1), "unknown key site[0].bogus"),
    (lambda d: d.update(site=d["site"][:1]), "[[site]] must be two or more tables"),
    (lambda d: d["target"][0].update(position_m=[1.0]), "target[0].position_m must be a list"),
    (lambda d: d["target"][1].update(range_m=5e3), "unknown key target[1].range_m"),
    (lambda d: d["target"].append({"range_m": 5e3, "radial_velocity_mps": 0.0, "snr_db": 0.0}),
     "target[3] is one-dimensional but target[0] is not"),
    (lambda d: d["target"][0].update(position_m=[110e3, 150e3]),
     "target[0] seen from site 'west' reaches"),
])
def test_bad_multisite_scenarios_are_one_line(tmp_path, capsys, change, message):
    path = write_toml(tmp_path / "bad.toml", _doc_with(change))
    out = tmp_path / "out"
    assert main(["sim", "--scenario", str(path), "--engine", "reference", "--out", str(out),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists() and not list(tmp_path.glob(".amaradar-*"))


def test_planar_targets_need_several_sites():
    doc = example_doc(cpis=1)
    del doc["site"]
    with pytest.raises(ScenarioError, match=r"target\[0\].position_m needs two or more \[\[site\]\]"):
        parse_scenario(doc)
    doc = example_doc(cpis=1)
    doc["target"] = [{"range_m": 5e3, "radial_velocity_mps": 0.0, "snr_db": 0.0}]
    with pytest.raises(ScenarioError, match=r"target\[0\] is one-dimensional \(range_m\)"):
        parse_scenario(doc)


def test_single_site_options_are_refused(tmp_path, capsys):
    path = write_toml(tmp_path / "two.toml", example_doc(cpis=1))
    assert main(["sim", "--scenario", str(path), "--asterix", str(tmp_path / "a.ast"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "--asterix is for one site" in capsys.readouterr().err


def test_rtl_engine_is_bit_exact_at_every_site(tmp_path):
    """The gateware (chain and tracker in Verilator) at both sites, 4 CPIs of the example:
    bit-exact to the models at each, and its plots and tracks are the reference run's."""
    path = write_toml(tmp_path / "two.toml", example_doc(cpis=4))
    assert main(["sim", "--scenario", str(path), "--out", str(tmp_path / "rtl"), "--quiet"]) == 0
    assert main(["sim", "--scenario", str(path), "--engine", "reference", "--out",
                 str(tmp_path / "ref"), "--quiet"]) == 0
    report = json.loads((tmp_path / "rtl" / "report.json").read_text())
    assert report["engine"] == "rtl" and report["bit_exact"] is True
    assert [s["bit_exact"] for s in report["sites"]] == [True, True]
    for site in ("west", "east"):
        site_report = json.loads((tmp_path / "rtl" / site / "report.json").read_text())
        assert site_report["compared"]["compared"]["track_reports"] > 0
        for name in ("detections.csv", "tracks.csv", "asterix.ast"):
            assert (tmp_path / "rtl" / site / name).read_bytes() == \
                (tmp_path / "ref" / site / name).read_bytes()


def test_the_example_is_what_it_says():
    """two_sites.toml: sites 150 km apart; every target inside both sectors and the
    unambiguous range on every pulse; targets 0 and 1 cross in range as the west site
    sees them; range cells of at most 150 m."""
    doc = example_doc(cpis=30)
    scenario = parse_scenario(doc)
    r = scenario.radar
    geometries = site_geometries(parse_sites(doc["site"]))
    assert np.linalg.norm(geometries[1].position_m) == pytest.approx(150e3, rel=1e-3)
    assert r.range_bin_m <= 150
    times = np.arange(r.lines) * r.pri_s
    west, east = site_scenarios(scenario, geometries)
    for site in (west, east):
        for target in site.targets:
            assert target.visible_at(times).all()
            assert target.range_at(times).max() < r.unambiguous_range_m
    gap = west.targets[0].range_at(times) - west.targets[1].range_at(times)
    assert gap[0] > 0 > gap[-1]
    assert len(scenario.targets) == 3


def test_a_sweep_refuses_several_sites(tmp_path):
    from amaradar.host.sweep_file import SweepError, load_sweep
    write_toml(tmp_path / "two.toml", example_doc(cpis=1))
    path = tmp_path / "sweep.toml"
    path.write_text('base = "two.toml"\nruns = 1\nfigures = ["pfa"]\n[grid]\n"cfar.pfa" = [1e-4]\n')
    with pytest.raises(SweepError, match=r"base scenario has \[\[site\]\] tables"):
        load_sweep(path)
