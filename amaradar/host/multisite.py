"""`amaradar sim` on a multi-site scenario: every site's chain and tracker, files out.

Output folder ``OUT``:

``OUT/<site name>/``
    That site's run, exactly what a single-site ``amaradar sim`` writes
    (:func:`~amaradar.host.run.run_sim`: report.json, detections.csv, truth.csv,
    tracks.csv, PNGs), plus ``asterix.ast``, its CAT034 + CAT048 datagrams with
    tracks (as ``sim --asterix`` writes them). Times in its CSV files are from
    the site's own first pulse; common time is that plus its ``time_offset_s``,
    and its ASTERIX time of day includes it.
``OUT/truth.csv``
    ``time_s,target,east_m,north_m,up_m,east_mps,north_mps,up_mps``: every
    target in the first site's east-north-up frame at the end of each of the
    first site's CPIs, ``time_s`` in common time.
``OUT/sites.json``
    Per site its ``[site]`` table (``Site.as_dict()``) and ``enu_m``, its position
    in the first site's frame.
``OUT/centre/``
    The joint centre (:func:`~amaradar.host.centre.run.run_centre`) on the sites'
    ASTERIX streams, scored against ``truth.csv``: ``system_tracks.csv``,
    ``cat062.ast``, ``map.png``, ``declarations.jsonl``, ``report.json``.
``OUT/report.json``
    The engine, the sites with each one's ``bit_exact`` and folder, ``bit_exact``
    of them all, and the centre's system-track count and OSPA/GOSPA score.

Everything is written into a staging folder beside ``OUT`` and moved in at the
end: a failed run leaves nothing half-written.
"""

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..sim.world.geometry import site_geometry
from ..sim.world.multisite import TRUTH_ENU_COLUMNS, enu_truth_rows, site_scenarios
from .centre.feed import read_ast
from .centre.inputs import read_truth
from .centre.run import run_centre
from .run import run_sim

__all__ = ["run_multisite", "site_geometries", "MULTISITE_REPORT_SCHEMA"]

MULTISITE_REPORT_SCHEMA = 1


def site_geometries(sites):
    """The :class:`~amaradar.sim.world.geometry.SiteGeometry` of each
    :class:`~amaradar.host.site.Site`, in the first one's east-north-up frame."""
    first = sites[0]
    origin = (first.latitude_deg, first.longitude_deg, first.altitude_m)
    return tuple(site_geometry(s.name, s.latitude_deg, s.longitude_deg, s.altitude_m,
                               azimuth_deg=s.azimuth_deg, beamwidth_deg=s.beamwidth_deg,
                               time_offset_s=s.time_offset_s, origin=origin) for s in sites)


def run_multisite(scenario, sites, *, engine, out_dir, quiet=False, record=False):
    """Run the multi-site ``scenario`` at each of ``sites`` (:class:`~amaradar.host.site.Site`)
    on ``engine`` and write ``out_dir`` (see the module docstring). Returns the
    top-level report dict.

    Raises :class:`~amaradar.sim.world.scenario.ScenarioError` when a target lies
    beyond a site's unambiguous range inside its sector; nothing is written then.
    """
    out_dir = Path(out_dir)
    geometries = site_geometries(sites)
    scenarios = site_scenarios(scenario, geometries)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".amaradar-", dir=out_dir.parent))
    try:
        entries = []
        for site, geometry, site_scenario in zip(sites, geometries, scenarios):
            if not quiet:
                print(f"--- site {site.name} (SAC {site.sac}, SIC {site.sic})", flush=True)
            folder = staging / site.name
            report = run_sim(site_scenario, engine=engine, out_dir=folder, quiet=quiet, site=site,
                             record=record, asterix=folder / "asterix.ast")
            entries.append({"name": site.name, "folder": site.name, "sac": site.sac,
                            "sic": site.sic, "time_offset_s": site.time_offset_s,
                            "enu_m": list(geometry.position_m), "bit_exact": report["bit_exact"]})
        _write_truth(staging / "truth.csv", scenario, geometries[0])
        (staging / "sites.json").write_text(json.dumps(
            [dict(site.as_dict(), enu_m=list(g.position_m)) for site, g in zip(sites, geometries)],
            indent=2) + "\n")
        centre = run_centre(sites, {site.name: read_ast(staging / site.name / "asterix.ast")
                                    for site in sites},
                            staging, truth=read_truth(staging / "truth.csv"),
                            progress=None if quiet else print)
        exact = [e["bit_exact"] for e in entries]
        report = {"schema": MULTISITE_REPORT_SCHEMA, "engine": engine,
                  "bit_exact": None if engine != "rtl" else all(exact),
                  "sites": entries, "scenario": scenario.as_dict(),
                  "centre": {"system_tracks": centre["system_tracks"],
                             "score": centre["score"], "single_site": centre["single_site"]}}
        (staging / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        out_dir.mkdir(exist_ok=True)
        for entry in staging.iterdir():
            target = out_dir / entry.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not quiet:
        print(f"wrote {out_dir}: " + ", ".join(
            f"{e['name']} bit_exact={e['bit_exact']}" for e in entries))
    return report


def _write_truth(path, scenario, first):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(TRUTH_ENU_COLUMNS)
        for row in enu_truth_rows(scenario, first):
            out.writerow([f"{row[0]:.9f}", row[1], *(f"{x:.3f}" for x in row[2:])])
