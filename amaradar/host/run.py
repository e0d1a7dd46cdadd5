"""`amaradar sim` and `amaradar verilog`: a scenario through the chain, files out."""

import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .asterix import write_ast
from .pcap import write_pcap
from .sigmf_io import RecordingWriter, integer_datatype
from .site import Site
from .sources import ScenarioSource
from .writers.outputs import Run, profile_cpi, profile_line, run_writers
from ..sim.chain import MAX_CLUSTERS, ChainResult, compress, reference_chain, scenario_chain_config
from ..sim.comparison import Comparison
from ..sim.tracking import ReferenceTracker, plot_frames, tracker_config
from ..sim.world.metrics import score
from ..sim.world.plot_metrics import plot_score
from ..sim.world.track_score import track_score

__all__ = ["run_sim", "chain_verilog", "cpi_blocks", "check_fits", "output_bytes", "RunDoesNotFit",
           "BLOCK_SAMPLES"]

REPORT_SCHEMA = 1
#: ADC samples a run's block holds (whole CPIs, at least one): the memory a run needs
#: beyond the program's own is about this many times :data:`BYTES_PER_BLOCK_SAMPLE`.
BLOCK_SAMPLES = 1 << 17
#: Memory per ADC sample of a block, bytes: the sample, its compressed and power words
#: and the models' temporaries (bench/bench_sim_memory.py measures the real figure).
BYTES_PER_BLOCK_SAMPLE = 400
#: An upper estimate of a CSV row (detections.csv, tracks.csv, truth.csv), bytes.
CSV_ROW_BYTES = 160
#: An upper estimate of report.json and the PNG figures together, bytes.
FIGURE_BYTES = 4 << 20


def chain_verilog(scenario):
    """The Verilog of the chain that ``scenario`` configures."""
    from amaranth.back import verilog
    from ..sim.engines.rtl_chain import chain_component
    return verilog.convert(chain_component(scenario_chain_config(scenario)), name="amaradar_chain")


class _Progress:
    def __init__(self, quiet):
        self.quiet = quiet
        self.start = self.last_block = time.perf_counter()

    def say(self, text):
        if not self.quiet:
            print(f"[{time.perf_counter() - self.start:6.1f} s] {text}", file=sys.stderr, flush=True)

    def samples(self, done, total):
        if not self.quiet:
            print(f"\r[{time.perf_counter() - self.start:6.1f} s] rtl: {done:,} of {total:,} samples "
                  f"({100 * done / total:5.1f} %)", end="" if done < total else "\n",
                  file=sys.stderr, flush=True)

    def block(self, index, blocks, cpis_done, cpis):
        """A line after a block of a run in several, at most one a second and the last:
        CPIs done, time left at this pace."""
        now = time.perf_counter()
        if not self.quiet and blocks > 1 and (now - self.last_block >= 1 or index == blocks - 1):
            self.last_block = now
            spent = now - self.start
            left = spent / cpis_done * (cpis - cpis_done)
            self.say(f"block {index + 1} of {blocks}: {cpis_done} of {cpis} CPIs "
                     f"({100 * cpis_done / cpis:5.1f} %), about {left:.0f} s left")


def run_sim(scenario, *, engine, out_dir, quiet=False, source=None, site=None, record=False,
            asterix=None, pcap=None, block_samples=BLOCK_SAMPLES):
    """Run ``scenario`` on ``engine`` ("reference" or "rtl"), write the outputs.

    ``source`` gives the ADC samples (:mod:`amaradar.host.sources`; default: the
    scenario's echo model); ``site`` (:class:`~amaradar.host.site.Site`, default
    the defaults) where the radar stands, for the SigMF recording that ``record``
    adds to the outputs and the ASTERIX records written to the file ``asterix``
    (and as UDP packets to the pcap file ``pcap``). Every writer of
    :func:`~amaradar.host.writers.outputs.run_writers` writes into a temporary
    folder beside ``out_dir``, moved in at the end, so a failed run leaves nothing
    half-written. Returns the report dict.

    The run streams: :func:`cpi_blocks` cuts it into blocks of whole CPIs of about
    ``block_samples`` ADC samples, and each block goes through the source, the
    reference model, the rtl engine and the tracker in turn, so that memory holds
    one block's samples whatever the run's length (the reports, plots and tracks of
    the whole run are kept: a few words per CPI). A run the machine cannot hold or
    store is refused before it starts (:func:`check_fits`, :class:`RunDoesNotFit`).
    """
    progress = _Progress(quiet)
    r = scenario.radar
    config = scenario_chain_config(scenario)
    source = ScenarioSource(scenario) if source is None else source
    blocks = cpi_blocks(r, block_samples)
    check_fits(scenario, Path(out_dir), blocks, record=record)
    progress.say(f"scenario: {r.lines} range lines x {r.line_samples} samples, "
                 f"{len(scenario.targets)} targets" +
                 (f"; {len(blocks)} blocks of up to {blocks[0][1]} CPIs" if len(blocks) > 1 else ""))
    kind = "plots" if config.doppler else "detections"
    with _staging(Path(out_dir)) as staging:
        recording = RecordingWriter(staging / "adc", scenario, site) if record else None
        try:
            stream = _Stream(scenario, config, engine, recording, progress)
            for index, (first, cpis) in enumerate(blocks):
                stream.block(source, first, cpis)
                progress.block(index, len(blocks), first + cpis, r.cpis)
        finally:
            if recording is not None:
                recording.close()
        reference, result, comparison, rtl_info = stream.results()
        timings = stream.timings
        progress.say(f"reference model: {len(reference.detections['cpi'])} {kind}")
        if engine == "rtl":
            progress.say(f"rtl: {len(result.detections['cpi'])} {kind}, "
                         f"{'bit-exact to the reference model' if comparison.bit_exact else 'DIFFERS from the reference model'}")

        tracks = None
        if config.doppler:
            tracks, tracker_info = _run_tracker(scenario, config, stream.tracker,
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
                "range_lines": r.lines, "samples": stream.samples,
                "adc_clipped": stream.clipped, kind: int(len(result.detections["cpi"])),
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
        run = Run(scenario, config, result.detections, stream.profile, report, site=site,
                  recording=recording, simulated=source.name == "scenario",
                  tracks=None if tracks is None else tracks.tracks)
        if asterix is not None:
            report["counts"]["asterix_datagrams"] = len(run.asterix)
            report["counts"]["asterix_skipped"] = run.asterix.skipped
        for write in run_writers(run.config):
            write(staging, run)
    if asterix is not None:
        _replace_file(Path(asterix), lambda path: write_ast(path, run.asterix))
        if pcap is not None:
            _replace_file(Path(pcap), lambda path: write_pcap(path, run.asterix,
                                                              run.asterix.timestamps))
    progress.say(f"wrote {out_dir}" + (f" and {asterix}" if asterix is not None else ""))
    if not quiet:
        _summary(report)
    return report


def cpi_blocks(radar, block_samples=BLOCK_SAMPLES):
    """The blocks ``amaradar sim`` streams a run of ``radar`` in: ``(first_cpi, cpis)``,
    in order, each as many whole CPIs as ``block_samples`` ADC samples hold (at least
    one CPI); a run that fits is one block."""
    per_cpi = radar.pulses_per_cpi * radar.line_samples
    size = max(1, block_samples // per_cpi)
    return [(first, min(size, radar.cpis - first)) for first in range(0, radar.cpis, size)]


class RunDoesNotFit(ValueError):
    """A run this machine cannot hold or store; the message is one line."""


def check_fits(scenario, out_dir, blocks, *, record=False):
    """Refuse, before it starts, a run whose largest block cannot be held in the
    memory available (:data:`BYTES_PER_BLOCK_SAMPLE` per ADC sample) or whose output
    files cannot fit on the disk of ``out_dir`` (:func:`output_bytes`):
    :class:`RunDoesNotFit`."""
    r = scenario.radar
    largest = max(cpis for _, cpis in blocks) * r.pulses_per_cpi * r.line_samples
    need, free = largest * BYTES_PER_BLOCK_SAMPLE, _available_memory()
    if free is not None and need > free:
        raise RunDoesNotFit(
            f"radar: a block of {largest:,} ADC samples (at least one CPI of pulses_per_cpi x "
            f"{r.line_samples} samples) needs about {need / 2**20:,.0f} MiB of memory; "
            f"{free / 2**20:,.0f} MiB are available")
    folder = next(p for p in (out_dir, *out_dir.absolute().parents) if p.exists())
    need, free = output_bytes(scenario, record=record), shutil.disk_usage(folder).free
    if need > free:
        raise RunDoesNotFit(f"--out {str(out_dir)!r}: the run's files need about "
                            f"{need / 2**20:,.0f} MiB; {free / 2**20:,.0f} MiB are free there")


def output_bytes(scenario, *, record=False):
    """An estimate of the bytes a run of ``scenario`` writes, on the high side: truth.csv
    (a row per target per CPI), detections.csv and tracks.csv (per CPI as many plots as
    the extractor has cluster slots and a report per track slot; for the range-only
    chain three detections per target per line and the design's false alarms), the
    figures and, with ``record``, the SigMF recording (exact)."""
    r = scenario.radar
    targets = len(scenario.targets)
    rows = r.cpis * targets
    if scenario.doppler is not None:
        rows += r.cpis * (MAX_CLUSTERS + scenario.tracker.max_tracks)
    else:
        rows += r.lines * (targets * 3 + r.line_samples * scenario.cfar.pfa)
    samples = r.lines * r.line_samples
    bits = int(integer_datatype(r.adc_bits)[2:].split("_")[0])
    recording = 2 * samples * bits // 8 if record else 0
    return int(rows * CSV_ROW_BYTES + FIGURE_BYTES + recording)


def _available_memory():
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class _Stream:
    """A run's blocks of CPIs, one after the other, through the reference model and
    the rtl engine and the tracker model: what the run keeps of them."""

    def __init__(self, scenario, config, engine, recording, progress):
        self.scenario, self.config, self.engine = scenario, config, engine
        self.recording, self.progress = recording, progress
        self.timings = {"scenario_s": 0.0, "reference_s": 0.0}
        self.samples = self.clipped = 0
        self.reference = _Reports()
        self.rtl = _Reports() if engine == "rtl" else None
        self.comparison = Comparison() if engine == "rtl" else None
        self.rtl_info = None
        self.profile = None
        self.tracker = None
        if config.doppler:
            self.tracker = ReferenceTracker(tracker_config(scenario.radar, scenario.tracker),
                                            scenario.tracker.runtime())
            self.timings["tracker_reference_s"] = 0.0

    def block(self, source, first, cpis):
        r, config = self.scenario.radar, self.config
        t0 = time.perf_counter()
        iq, clipped = source.read(first, cpis)
        self.samples += int(iq.size)
        self.clipped += clipped
        if self.recording is not None:
            self.recording.append(iq)
        t1 = time.perf_counter()
        compressed = compress(config, iq)
        reference = reference_chain(config, iq, keep_power=True, compressed=compressed,
                                    first_cpi=first)
        self.reference.add(reference)
        profile = profile_cpi(self.scenario) if config.doppler else profile_line(self.scenario)
        within = profile - first * (1 if config.doppler else r.pulses_per_cpi)
        if 0 <= within < len(reference.power):
            self.profile = reference.power[within].copy()
        reference.power = None
        t2 = time.perf_counter()
        self.timings["scenario_s"] += t1 - t0
        self.timings["reference_s"] += t2 - t1
        if self.tracker is not None:
            self.tracker.step(plot_frames(reference.detections, cpis, first), first)
            self.timings["tracker_reference_s"] += time.perf_counter() - t2
        if self.engine == "rtl":
            from ..sim.engines import rtl_chain
            rtl, _, info = rtl_chain.compare_rtl_chain(
                config, iq, reference, compressed, first_cpi=first, comparison=self.comparison,
                progress=self.progress if first == 0 else None)
            self.rtl.add(rtl)
            self.rtl_info = _add_run_figures(self.rtl_info, info)

    def results(self):
        """The reference model's ``ChainResult``, the engine's, the ``Comparison`` and
        the rtl figures (None with the reference engine)."""
        reference = self.reference.result()
        if self.rtl is None:
            return reference, reference, None, None
        rtl_info = self.rtl_info
        self.timings.update(rtl_info.pop("timings"))
        return reference, self.rtl.result(), self.comparison, rtl_info


class _Reports:
    """The reports and status flags of a run's blocks, joined: flags ORed, counters added."""

    def __init__(self):
        self.parts, self.status = [], None

    def add(self, result):
        self.parts.append(result.detections)
        if self.status is None:
            self.status = dict(result.status)
        else:
            for name, value in result.status.items():
                self.status[name] = (self.status[name] or value) if isinstance(value, bool) \
                    else self.status[name] + value

    def result(self):
        detections = {name: np.concatenate([p[name] for p in self.parts])
                      for name in self.parts[0]}
        return ChainResult(detections, self.status)


def _add_run_figures(total, info):
    """The rtl engine's figures of the blocks so far (``total``) and of one more
    (``info``): cycles and timings added, rates over the whole, the first block's
    build flags."""
    if total is None:
        return info
    for name, value in info["timings"].items():
        total["timings"][name] += value
    samples = total["cycles"] / total["cycles_per_sample"] + info["cycles"] / info["cycles_per_sample"]
    total["cycles"] += info["cycles"]
    total["cycles_per_sample"] = total["cycles"] / samples
    total["samples_per_s"] = samples / total["timings"]["rtl_run_s"]
    total["processes"] = max(total["processes"], info["processes"])
    total["compressor"]["cycles"] += info["compressor"]["cycles"]
    return total


def _run_tracker(scenario, config, tracker, rtl, comparison, progress, timings):
    """The tracker on the run's plots: the bit-exact model's tracks (``tracker``, the
    :class:`ReferenceTracker` the blocks fed with the reference model's plots) and with
    ``rtl`` (the rtl engine's ``ChainResult``) the gateware on the gateware's plots, its
    reports and status compared into ``comparison``.

    Returns the tracks of the engine and the gateware run's figures (None without).
    """
    model = tracker.result()
    if rtl is None:
        progress.say(f"tracker model: {len(set(model.tracks['track_id']))} tracks")
        return model, None
    from ..sim.engines.rtl_tracker import run_rtl_tracker
    tracking = scenario.tracker
    config_t = tracker_config(scenario.radar, tracking)
    gateware, info = run_rtl_tracker(config_t, tracking.runtime(),
                                     plot_frames(rtl.detections, scenario.radar.cpis),
                                     power_bits=config.power_width)
    timings.update(info.pop("timings"))
    comparison.words("track_reports", model.tracks, gateware.tracks)
    comparison.flags(model.status, gateware.status)
    exact = not comparison.differing["track_reports"] and comparison.flags_equal
    progress.say(f"rtl tracker: {len(set(gateware.tracks['track_id']))} tracks, "
                 f"{'bit-exact to the tracker model' if exact else 'DIFFERS from the tracker model'}")
    return gateware, info


@contextmanager
def _staging(out_dir):
    """A temporary folder beside ``out_dir`` to write the run's files into; its files
    move into ``out_dir`` when the block ends without an error, and it is removed."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".amaradar-", dir=out_dir.parent))
    try:
        yield staging
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
