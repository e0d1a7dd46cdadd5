"""Speed of the rtl engine: compile time and samples/s of the Verilator harness.

Usage: ``python bench/bench_rtl_engine.py``. Writes ``bench/results/rtl_engine.json``.

Designs: ``MatchedFilter`` with the 100 taps of an LFM pulse (the heaviest block
of the chain), folded as the chain's is (a pulse centred on its middle sample:
symmetric taps, 50 complex multiplier inputs, 200 real multipliers) and in direct
form (the same chirp half a sample off centre: 400 multipliers); and, for the
harness's own overhead, a ``SkidBuffer``. Each is built cold in a fresh cache (the
folded filter first, so its figure includes Verilator's runtime objects, compiled
once per cache), then taken from the cache, then run on 2**21 framed samples
(lines of 1024) with no stalls. The matched filters' outputs are checked
bit-exact against their model, so the figures are for correct runs. ``cpu_s`` is the harness process's CPU time; on a shared
machine ``wall_s`` can be much larger.
"""

import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from amaradar.hdl.formats import ADC_WIDTH, COEF_WIDTH, MF_OUT_WIDTH, complex_layout, framed_layout
from amaradar.hdl.compress.matched_filter import MatchedFilter
from amaradar.hdl.stream.skid_buffer import SkidBuffer
from amaradar.sim.models.compress.matched_filter import matched_filter, matched_filter_taps, safe_output_shift
from amaradar.sim.engines.payloads import pack_bytes, unpack_bytes
from amaradar.sim.engines.rtl_engine import RtlEngine
from machine import machine

RESULTS = Path(__file__).parent / "results" / "rtl_engine.json"
TAPS = 100
LINE = 1024
SAMPLES = 1 << 21


def _child_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(make, name, words):
    t0 = time.perf_counter()
    engine = RtlEngine(make(), name=name)
    t1 = time.perf_counter()
    cached = RtlEngine(make(), name=name)
    t2 = time.perf_counter()
    assert engine.rebuilt and not cached.rebuilt
    cpu0 = _child_cpu()
    t3 = time.perf_counter()
    run = cached.run(words)
    wall = time.perf_counter() - t3
    cpu = _child_cpu() - cpu0
    figures = {
        "cold_build_s": round(t1 - t0, 1), "cached_build_s": round(t2 - t1, 2),
        "samples": len(words), "cycles": run.cycles, "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2), "samples_per_s_wall": round(len(words) / wall),
        "samples_per_s_cpu": round(len(words) / cpu),
    }
    return run, figures


def main():
    rng = np.random.default_rng(0)
    k = np.arange(SAMPLES) % LINE
    top = 1 << (ADC_WIDTH - 1)
    iq = rng.integers(-top, top, SAMPLES) + 1j * rng.integers(-top, top, SAMPLES)
    words = pack_bytes(framed_layout(complex_layout(ADC_WIDTH)), {
        "data.i": iq.real.astype(np.int64), "data.q": iq.imag.astype(np.int64),
        "first": k == 0, "last": k == LINE - 1})
    results = {"machine": machine(), "taps": TAPS, "line": LINE}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["AMARADAR_CACHE"] = cache
        for label, centre in (("matched_filter", (TAPS - 1) / 2),
                              ("matched_filter_direct", TAPS / 2)):
            pulse = np.exp(1j * np.pi * (np.arange(TAPS) - centre) ** 2 / TAPS)
            taps = matched_filter_taps(pulse, coef_width=COEF_WIDTH)
            assert np.array_equal(taps, taps[::-1]) == (label == "matched_filter")
            shift = safe_output_shift(taps, ADC_WIDTH, MF_OUT_WIDTH)
            run, results[label] = _measure(
                lambda: MatchedFilter(taps=taps, output_shift=shift), f"bench_{label}", words)
            want, overflowed = matched_filter(iq.reshape(-1, LINE), taps,
                                              output_width=MF_OUT_WIDTH, output_shift=shift)
            got = unpack_bytes(framed_layout(complex_layout(MF_OUT_WIDTH)), run.outputs)
            assert np.array_equal(got["data.i"] + 1j * got["data.q"], want.ravel())
            assert run.status == {"overflow": int(overflowed)}
        _, results["skid_buffer"] = _measure(
            lambda: SkidBuffer(framed_layout(complex_layout(ADC_WIDTH))), "bench_skid", words)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
