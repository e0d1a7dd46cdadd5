"""`amaradar sim` and `amaradar verilog`: a scenario through the chain, files out."""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .asterix import write_ast
from .pcap import write_pcap
from .site import Site
from .sources import ScenarioSource
from .writers.outputs import Run, run_writers
from ..sim.chain import compress, reference_chain, scenario_chain_config
from ..sim.tracking import plot_frames, reference_tracks, tracker_config
from ..sim.world.metrics import score
from ..sim.world.plot_metrics import plot_score
from ..sim.world.track_score import track_score

__all__ = ["run_sim", "chain_verilog"]

REPORT_SCHEMA = 1


def chain_verilog(scenario):
    """The Verilog of the chain that ``scenario`` configures."""
    from amaranth.back import verilog
    from ..sim.engines.rtl_chain import chain_component
    return verilog.convert(chain_component(scenario_chain_config(scenario)), name="amaradar_chain")


class _Progress:
    def __init__(self, quiet):
        self.quiet = quiet
        self.start = time.perf_counter()

    def say(self, text):
        if not self.quiet:
            print(f"[{time.perf_counter() - self.start:6.1f} s] {text}", file=sys.stderr, flush=True)

    def samples(self, done, total):
        if not self.quiet:
            print(f"\r[{time.perf_counter() - self.start:6.1f} s] rtl: {done:,} of {total:,} samples "
                  f"({100 * done / total:5.1f} %)", end="" if done < total else "\n",
                  file=sys.stderr, flush=True)


def run_sim(scenario, *, engine, out_dir, quiet=False, source=None, site=None, record=False,
            asterix=None, pcap=None):
    """Run ``scenario`` on ``engine`` ("reference" or "rtl"), write the outputs.

    ``source`` gives the ADC samples (:mod:`amaradar.host.sources`; default: the
    scenario's echo model); ``site`` (:class:`~amaradar.host.site.Site`, default
    the defaults) where the radar stands, for the SigMF recording that ``record``
    adds to the outputs and the ASTERIX records written to the file ``asterix``
    (and as UDP packets to the pcap file ``pcap``). Every writer of
    :func:`~amaradar.host.writers.outputs.run_writers` writes into a temporary
    folder beside ``out_dir``, moved in at the end, so a failed run leaves nothing
    half-written. Returns the report dict.
    """
    progress = _Progress(quiet)
    r = scenario.radar
    timings = {}
    t0 = time.perf_counter()
    config = scenario_chain_config(scenario)
    source = ScenarioSource(scenario) if source is None else source
    iq, clipped = source.read()
    timings["scenario_s"] = time.perf_counter() - t0
    progress.say(f"scenario: {r.lines} range lines x {r.line_samples} samples, "
                 f"{len(scenario.targets)} targets")

    t0 = time.perf_counter()
    compressed = compress(config, iq)
    reference = reference_chain(config, iq, keep_power=True, compressed=compressed)
    timings["reference_s"] = time.perf_counter() - t0
    kind = "plots" if config.doppler else "detections"
    progress.say(f"reference model: {len(reference.detections['cpi'])} {kind}")

    result, comparison, rtl_info = reference, None, None
    if engine == "rtl":
        from ..sim.engines.rtl_chain import compare_rtl_chain
        rtl, comparison, rtl_info = compare_rtl_chain(config, iq, reference, compressed,
                                                      progress=progress)
        timings.update(rtl_info.pop("timings"))
        result = rtl
        progress.say(f"rtl: {len(rtl.detections['cpi'])} {kind}, "
                     f"{'bit-exact to the reference model' if comparison.bit_exact else 'DIFFERS from the reference model'}")

    tracks = None
    if config.doppler:
        tracks, tracker_info = _run_tracker(scenario, config, reference,
                                            result if engine == "rtl" else None, comparison,
                                            progress, timings)
        if engine == "rtl":
            rtl_info["tracker"] = tracker_info
        scores = plot_score(scenario, result.detections,
                            cells_tested_per_cpi=config.tested_cells_per_cpi)
    else:
        scores = score(scenario, result.detections,
                       tested_cells_per_line=config.tested_cells_per_line)
    report = {
        "schema": REPORT_SCHEMA,
        "engine": engine,
        "bit_exact": None if comparison is None else comparison.bit_exact,
        "compared": None if comparison is None else comparison.as_dict(),
        "scenario": scenario.as_dict(),
        "chain": config.as_dict(),
        "counts": {
            "range_lines": r.lines, "samples": int(iq.size),
            "adc_clipped": clipped, kind: int(len(result.detections["cpi"])),
        },
        "score": scores.as_dict(),
        "status": result.status,
        "rtl": rtl_info,
        "timings": timings,
    }
    if config.doppler:
        report["doppler"] = _doppler_figures(scenario)
        report["counts"]["track_reports"] = int(len(tracks.tracks["cpi"]))
        report["tracking"] = track_score(scenario, tracks.tracks).as_dict()
        report["tracker_status"] = tracks.status
    if site is not None or record or asterix is not None:
        site = Site() if site is None else site
        report["site"] = site.as_dict()
    run = Run(scenario, config, result.detections, reference.power, report, site=site,
              iq=iq if record else None, simulated=source.name == "scenario",
              tracks=None if tracks is None else tracks.tracks)
    if asterix is not None:
        report["counts"]["asterix_datagrams"] = len(run.asterix)
        report["counts"]["asterix_skipped"] = run.asterix.skipped
    _write_outputs(Path(out_dir), run)
    if asterix is not None:
        _replace_file(Path(asterix), lambda path: write_ast(path, run.asterix))
        if pcap is not None:
            _replace_file(Path(pcap), lambda path: write_pcap(path, run.asterix,
                                                              run.asterix.timestamps))
    progress.say(f"wrote {out_dir}" + (f" and {asterix}" if asterix is not None else ""))
    if not quiet:
        _summary(report)
    return report


def _run_tracker(scenario, config, reference, rtl, comparison, progress, timings):
    """The tracker on the run's plots: the bit-exact model on the reference model's, and
    with ``rtl`` (the rtl engine's ``ChainResult``) the gateware on the gateware's, its
    reports and status compared into ``comparison``.

    Returns the tracks of the engine and the gateware run's figures (None without).
    """
    tracking = scenario.tracker
    config_t = tracker_config(scenario.radar, tracking)
    cpis = scenario.radar.cpis
    t0 = time.perf_counter()
    model = reference_tracks(config_t, tracking.runtime(), plot_frames(reference.detections, cpis))
    timings["tracker_reference_s"] = time.perf_counter() - t0
    if rtl is None:
        progress.say(f"tracker model: {len(set(model.tracks['track_id']))} tracks")
        return model, None
    from ..sim.engines.rtl_tracker import run_rtl_tracker
    gateware, info = run_rtl_tracker(config_t, tracking.runtime(), plot_frames(rtl.detections, cpis),
                                     power_bits=config.power_width)
    timings.update(info.pop("timings"))
    comparison.words("track_reports", model.tracks, gateware.tracks)
    comparison.flags(model.status, gateware.status)
    exact = not comparison.differing["track_reports"] and comparison.flags_equal
    progress.say(f"rtl tracker: {len(set(gateware.tracks['track_id']))} tracks, "
                 f"{'bit-exact to the tracker model' if exact else 'DIFFERS from the tracker model'}")
    return gateware, info


def _write_outputs(out_dir, run):
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".amaradar-", dir=out_dir.parent))
    try:
        for write in run_writers(run.config):
            write(staging, run)
        out_dir.mkdir(exist_ok=True)
        for f in staging.iterdir():
            os.replace(f, out_dir / f.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace_file(path, write):
    """``write(tmp)`` beside ``path``, then the file moved to ``path``: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _doppler_figures(scenario):
    """What a range-Doppler run's report states about the Doppler axis and the targets' walk."""
    r = scenario.radar
    walk = [r.range_walk_m(max(abs(t.velocity_at(0.0)), abs(t.velocity_at(r.duration_s))))
            for t in scenario.targets]
    return {
        "unambiguous_velocity_mps": r.unambiguous_velocity_mps,
        "doppler_bin_hz": r.doppler_bin_hz,
        "doppler_bin_mps": 2 * r.unambiguous_velocity_mps / r.pulses_per_cpi,
        "range_walk_per_cpi_m": walk,
        "fastest_target_range_walk_m": max(walk, default=0.0),
        "fastest_target_range_walk_cells": max(walk, default=0.0) / r.range_bin_m,
        "clutter_patches": len(scenario.clutter),
    }


def _summary(report):
    if "doppler" in report:
        _plot_summary(report)
        return
    s = report["score"]
    print(f"\n{'target':>6} {'ideal SNR':>10} {'lines':>6} {'detected':>9} {'|bin err|':>9}")
    for t in s["targets"]:
        frac = t["detected_fraction"]
        frac = "-" if frac is None else f"{100 * frac:.1f} %"
        err = "-" if t["mean_abs_bin_error"] is None else f"{t['mean_abs_bin_error']:.2f}"
        print(f"{t['target_id']:>6} {t['ideal_snr_db']:>7.1f} dB {t['lines_required']:>6} "
              f"{frac:>9} {err:>9}")
    print(f"false detections: {s['false_detections']} (expected {s['expected_false']:.2f}, "
          f"allowed {s['allowed_false']}); near-target detections: {s['near_target_detections']}")
    _print_status(report)


def _plot_summary(report):
    s = report["score"]
    print(f"\n{'target':>6} {'SNR':>8} {'CPIs':>5} {'detected':>9} {'rms range':>10} {'rms Doppler':>12}")
    for t in s["targets"]:
        frac = t["detected_fraction"]
        frac = "-" if frac is None else f"{100 * frac:.1f} %"
        print(f"{t['target_id']:>6} {t['snr_db']:>5.1f} dB {t['cpis_required']:>5} {frac:>9} "
              f"{t['rms_range_cells']:>7.2f} c. {t['rms_doppler_bins']:>9.3f} b.")
    print(f"false plots: {s['false_plots']} (expected {s['expected_false']:.2f}, allowed "
          f"{s['allowed_false']}); near-target plots: {s['near_target_plots']}")
    d = report["doppler"]
    print(f"v_u {d['unambiguous_velocity_mps']:.1f} m/s, Doppler bin {d['doppler_bin_mps']:.2f} m/s; "
          f"fastest target walks {d['fastest_target_range_walk_cells']:.1f} range cells per CPI")
    t = report["tracking"]
    print(f"\n{'target':>6} {'confirmed at CPI':>16} {'breaks':>6} {'rate rms':>10}")
    for target in t["targets"]:
        confirm = target["cpis_to_confirm"]
        rate = target["rate_rms_mps"]
        print(f"{target['target_id']:>6} {'-' if confirm is None else confirm - 1:>16} "
              f"{target['breaks']:>6} {'-' if rate is None else f'{rate:.2f} m/s':>10}")
    print(f"tracks: {t['confirmed_tracks']} confirmed, {t['false_tracks']} false; mean OSPA "
          f"{t['mean_ospa_m']:.1f} m, last CPI {t['ospa_m'][-1]:.2f} m (c = {t['c_m']:.0f} m, "
          f"p = {t['p']})")
    _print_status(report)


def _print_status(report):
    flags = ", ".join(f"{k}={int(v)}" for k, v in report["status"].items())
    print(f"status: {flags}")
    if report["bit_exact"] is not None:
        c = report["compared"]
        words = ", ".join(f"{c['compared'][k]:,} {k.replace('_', ' ')} ({c['differing'][k]} differ)"
                          for k in c["compared"])
        print(f"compared: {words}; flags {'equal' if c['flags_equal'] else 'DIFFER'}")
        print(f"bit_exact: {str(report['bit_exact']).lower()}")
