"""The joint centre on the simulated chain: the shipped two-site scenario
(``amaradar/scenarios/two_sites_fusion.toml``: sites 150 km apart, three targets
crossing in range, 12 s) through both sites' chains and trackers and the centre.

Usage: ``python bench/bench_centre_sim.py``. Writes ``bench/results/centre_sim.json``.

- ``rtl``: the shipped scenario on the rtl engine (each site's chain and tracker as
  Verilog, compared bit for bit with the models), the centre's figures on it.
- ``time_offsets``: the reference engine (bit-equal to the rtl engine) with the
  east site's first pulse 0, 1/4, 1/2, 3/4 and 1 CPI after the west site's; the
  RMS error per target (whole run, and its fused steps), the swaps, and the worst
  of them over the offsets.
- ``stream_gap``: the rtl run's ASTERIX with the east site's datagrams of 20 CPIs
  (CPIs 468 to 487, 9.0 s to 9.4 s) left out: the worst system-track sigma before,
  at the end of the gap and 1 s after it, and the fused RMS error.
"""

import sys
import tempfile
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np

from amaradar.host.centre.feed import FeedDecoder, read_ast, screen_plain
from amaradar.host.centre.inputs import load_sites_json, read_truth
from amaradar.host.centre.run import run_centre
from amaradar.host.multisite import run_multisite
from amaradar.host.site import parse_sites
from amaradar.sim.world.scenario import parse_scenario
from machine import run_and_write

RESULTS = Path(__file__).parent / "results"
SCENARIO = resources.files("amaradar").joinpath("scenarios/two_sites_fusion.toml")
OFFSETS_CPI = (0.0, 0.25, 0.5, 0.75, 1.0)
GAP_FIRST_CPI, GAP_CPIS = 468, 20


def centre_figures(centre):
    """What the centre's ``report.json`` (or ``run_centre``'s report) says of the fusion."""
    targets = centre["score"]["targets"]
    return {"system_tracks": centre["system_tracks"],
            "rms_error_m": [t["rms_error_m"] for t in targets],
            "fused_rms_error_m": [t["fused_rms_error_m"] for t in targets],
            "track_ids": [t["track_ids"] for t in targets],
            "swaps": sum(t["swaps"] for t in targets),
            "single_site_rms_error_m": {name: s["rms_error_m"]
                                        for name, s in centre["single_site"].items()}}


def run(engine, offset_s, out):
    doc = tomllib.loads(SCENARIO.read_text())
    doc["site"][1]["time_offset_s"] = offset_s
    sites = parse_sites(doc["site"])
    report = run_multisite(parse_scenario(doc), sites, engine=engine, out_dir=out, quiet=True)
    return report, {**centre_figures(report["centre"]),
                    "bit_exact": report["bit_exact"]}


def stream_gap(out, cpi_s):
    sites = load_sites_json(out / "sites.json")
    feeds = {s.name: read_ast(out / s.name / "asterix.ast") for s in sites}
    decoder = FeedDecoder(sites)
    start = sites[1].time_offset_s + GAP_FIRST_CPI * cpi_s
    stop = start + GAP_CPIS * cpi_s
    feeds["east"] = [d for d in feeds["east"]
                     if not any(start <= r.time_s < stop for r in decoder.decode(d, screen_plain))]
    with tempfile.TemporaryDirectory() as tmp:
        report = run_centre(sites, feeds, tmp, truth=read_truth(out / "truth.csv"))

    def worst_sigma(lo_s, hi_s):
        return max(max(r["sigma_east_m"], r["sigma_north_m"]) for r in report["rows"]
                   if lo_s <= r["time_s"] < hi_s)

    return {"gap_s": [start, stop], **centre_figures(report),
            "worst_sigma_m": {"before": worst_sigma(start - 0.5, start),
                              "end_of_gap": worst_sigma(stop - cpi_s, stop),
                              "one_s_after": worst_sigma(stop + 1.0 - cpi_s, stop + 1.0)}}


def bench():
    doc = tomllib.loads(SCENARIO.read_text())
    cpi_s = doc["radar"]["pulses_per_cpi"] * doc["radar"]["pri_s"]
    shipped = doc["site"][1]["time_offset_s"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _, rtl = run("rtl", shipped, tmp / "rtl")
        print(f"rtl: bit_exact {rtl['bit_exact']}, fused RMS {rtl['rms_error_m']} m, "
              f"single site {rtl['single_site_rms_error_m']}")
        gap = stream_gap(tmp / "rtl", cpi_s)
        print(f"20-CPI gap: sigma {gap['worst_sigma_m']}, RMS {gap['rms_error_m']}")
        offsets = {}
        for fraction in OFFSETS_CPI:
            _, figures = run("reference", fraction * cpi_s, tmp / f"offset{fraction}")
            offsets[str(fraction)] = figures
            print(f"offset {fraction} CPI: RMS {figures['rms_error_m']} m, fused steps "
                  f"{figures['fused_rms_error_m']} m, swaps {figures['swaps']}")

    def spread(name):
        worst = [max(f[name]) for f in offsets.values()]
        return {"min": float(np.min(worst)), "max": float(np.max(worst))}

    return {"scenario": "amaradar/scenarios/two_sites_fusion.toml", "cpi_s": cpi_s,
            "rtl": rtl, "stream_gap": gap, "time_offsets_cpi": offsets,
            "worst_rms_m_over_offsets": spread("rms_error_m"),
            "worst_fused_rms_m_over_offsets": spread("fused_rms_error_m"),
            "swaps_over_offsets": sum(f["swaps"] for f in offsets.values())}


if __name__ == "__main__":
    sys.exit(run_and_write(bench, RESULTS / "centre_sim.json"))
