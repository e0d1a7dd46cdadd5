"""`amaradar sim` and `amaradar verilog`: a scenario through the chain, files out."""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .sources import ScenarioSource
from .writers.outputs import RUN_WRITERS, Run
from ..sim.chain import chain_config, reference_chain
from ..sim.world.metrics import score

__all__ = ["run_sim", "chain_verilog"]

REPORT_SCHEMA = 1


def chain_verilog(scenario):
    """The Verilog of the chain that ``scenario`` configures."""
    from amaranth.back import verilog
    from ..hdl.radar_chain import RadarChain
    return verilog.convert(RadarChain(chain_config(scenario)), name="amaradar_chain")


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


def _equal(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def run_sim(scenario, *, engine, out_dir, quiet=False, source=None):
    """Run ``scenario`` on ``engine`` ("reference" or "rtl"), write the outputs.

    ``source`` gives the ADC samples (:mod:`amaradar.host.sources`; default: the
    scenario's echo model). Every writer of
    :data:`~amaradar.host.writers.outputs.RUN_WRITERS` writes into a temporary
    folder beside ``out_dir``, moved in at the end, so a failed run leaves nothing
    half-written. Returns the report dict.
    """
    progress = _Progress(quiet)
    r = scenario.radar
    timings = {}
    t0 = time.perf_counter()
    config = chain_config(scenario)
    source = ScenarioSource(scenario) if source is None else source
    iq, clipped = source.read()
    timings["scenario_s"] = time.perf_counter() - t0
    progress.say(f"scenario: {r.lines} range lines x {r.line_samples} samples, "
                 f"{len(scenario.targets)} targets")

    t0 = time.perf_counter()
    reference = reference_chain(config, iq, keep_power=True)
    timings["reference_s"] = time.perf_counter() - t0
    progress.say(f"reference model: {len(reference.detections['range_bin'])} detections")

    result, bit_exact, rtl_info = reference, None, None
    if engine == "rtl":
        from ..sim.engines.rtl_chain import run_rtl_chain
        rtl, rtl_info = run_rtl_chain(config, iq, progress=progress)
        timings.update(rtl_info.pop("timings"))
        # Detections and sticky flags must be equal; dropped_samples is a property of
        # the gateware's throughput, which the model does not have.
        bit_exact = (_equal(rtl.detections, reference.detections)
                     and all(rtl.status[k] == v for k, v in reference.status.items()))
        result = rtl
        progress.say(f"rtl: {len(rtl.detections['range_bin'])} detections, "
                     f"{'bit-exact to the reference model' if bit_exact else 'DIFFERS from the reference model'}")

    scores = score(scenario, result.detections, tested_cells_per_line=config.tested_cells_per_line)
    report = {
        "schema": REPORT_SCHEMA,
        "engine": engine,
        "bit_exact": bit_exact,
        "scenario": scenario.as_dict(),
        "chain": config.as_dict(),
        "counts": {
            "range_lines": r.lines, "samples": int(iq.size),
            "adc_clipped": clipped, "detections": int(len(result.detections["range_bin"])),
        },
        "score": scores.as_dict(),
        "status": result.status,
        "rtl": rtl_info,
        "timings": timings,
    }
    _write_outputs(Path(out_dir), Run(scenario, config, result.detections, reference.power, report))
    progress.say(f"wrote {out_dir}")
    if not quiet:
        _summary(report)
    return report


def _write_outputs(out_dir, run):
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".amaradar-", dir=out_dir.parent))
    try:
        for write in RUN_WRITERS:
            write(staging, run)
        out_dir.mkdir(exist_ok=True)
        for f in staging.iterdir():
            os.replace(f, out_dir / f.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _summary(report):
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
    flags = ", ".join(f"{k}={int(v)}" for k, v in report["status"].items())
    print(f"status: {flags}")
    if report["bit_exact"] is not None:
        print(f"bit_exact: {str(report['bit_exact']).lower()}")
