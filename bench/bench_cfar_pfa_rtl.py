"""The CFAR gateware's false-alarm rate in noise only, run in Verilator bit-exact to the model.

Usage: ``python bench/bench_cfar_pfa_rtl.py`` (about 6 minutes on 2 cores, most of it
the OS build in Verilator; cold builds add about 2). Writes
``bench/results/cfar_pfa_rtl.json``.

``hdl.detect.cfar.Cfar`` elaborated for a ULX3S-sized map (``RANGE_CELLS`` range x
``DOPPLER_CELLS`` Doppler bins, ``POWER_WIDTH``-bit power) runs in Verilator
(``RtlEngine``) on noise-only CPIs, with the windows, OS ranks and design-Pfa
scale words of ``bench_cfar_family`` (``detector``): exponential power of mean
``2**20`` LSB², rounded, clipped to ``POWER_WIDTH`` bits. Every output word of the
gateware (every hit of every tested cell, and each CPI's end word) is compared
with the bit-exact model ``cfar_stream``.

Trials: cells under test whose windows share no cell, so the false-alarm count is
binomial: along range the rows ``N + G + j (2(N + G) + 1)``, along Doppler the bins of
``bench_cfar_family.trial_columns`` (every ``2(Dd + Gd) + 1``-th, as many as fit the
circular axis). Rates carry Clopper-Pearson 95 % intervals. OS is built along range
only, so 2-D OS has no gateware run.
"""

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from amaranth import unsigned

from amaradar.hdl.detect.cfar import CFAR_TYPES, Cfar
from amaradar.hdl.formats import framed_layout
from amaradar.sim.chain import cfar_ports
from amaradar.sim.engines.rtl_chain import design_key
from amaradar.sim.engines.payloads import pack_bytes, unpack_bytes
from amaradar.sim.engines.rtl_engine import RtlEngine
from amaradar.sim.models.detect.cfar import HIT_DTYPE, cfar_stream, reference_count

from bench_cfar_family import DESIGN_PFA, MEAN, WINDOWS, detector, rate, trial_columns
from machine import run_and_write

RESULTS = Path(__file__).parent / "results" / "cfar_pfa_rtl.json"
RANGE_CELLS, DOPPLER_CELLS = 4096, 16    # the ULX3S's range-Doppler map
POWER_WIDTH = 32
TRIALS = 1_000_000                       # at least, per type and window
CPIS_PER_RUN = 32
SEED = 2027


def builds(name):
    """The elaborations run for window ``name``: the sum datapath (CA, GO, SO) and, along
    range only, the rank datapath (OS) on its own (it alone makes Verilator ~10x slower)."""
    one_d = not WINDOWS[name].get("doppler_reference_cells")
    return [("ca", "go", "so")] + ([("os",)] if one_d else [])


def engine(name, types):
    """``Cfar`` sized to window ``name`` for ``types``, compiled by Verilator (cached)."""
    window = WINDOWS[name]
    params = dict(range_cells=RANGE_CELLS, doppler_cells=DOPPLER_CELLS,
                  max_reference_cells=window["reference_cells"],
                  max_guard_cells=window["guard_cells"], power_width=POWER_WIDTH, types=types,
                  max_doppler_reference_cells=window.get("doppler_reference_cells", 0),
                  max_doppler_guard_cells=window.get("doppler_guard_cells", 0))
    dut = Cfar(**params)
    label = f"cfar_pfa_{name}_{'_'.join(types)}"
    rtl = RtlEngine(dut, name=label, key=design_key((label, params)))
    dut._MustUse__silence = True         # a cached build never elaborates it
    return dut, rtl


def noise_maps(rng, cpis):
    """``cpis`` noise-only power maps: exponential, mean ``MEAN``, rounded, clipped."""
    x = np.round(rng.standard_exponential((cpis, RANGE_CELLS, DOPPLER_CELLS)) * MEAN)
    return np.minimum(x, (1 << POWER_WIDTH) - 1).astype(np.int64)


def frame_maps(maps):
    """Input payload bytes of ``maps`` (one CPI each), range-major."""
    cpis, rows, cols = maps.shape
    d = np.tile(np.arange(cols), cpis * rows)
    row_end = np.tile(np.arange(rows * cols) == rows * cols - 1, cpis)
    return pack_bytes(framed_layout(unsigned(POWER_WIDTH)), {
        "data": maps.ravel(), "first": d == 0, "last": d == cols - 1, "cpi_end": row_end})


def trial_cells(name):
    """Boolean (range, Doppler) mask of the trial cells of one map."""
    window = WINDOWS[name]
    reach = window["reference_cells"] + window["guard_cells"]
    mask = np.zeros((RANGE_CELLS, DOPPLER_CELLS), dtype=bool)
    rows = np.arange(reach, RANGE_CELLS - reach, 2 * reach + 1)
    mask[np.ix_(rows, trial_columns(name, DOPPLER_CELLS))] = True
    return mask


def config_of(name, cfar_type):
    """``(model configuration, design Pfa of its scale word)`` of ``cfar_type`` on window
    ``name`` (``bench_cfar_family.detector``)."""
    scale, k, pfa = detector(cfar_type, WINDOWS[name])
    return dict(cfar_type=cfar_type, scale=scale, os_k=k, **WINDOWS[name]), pfa


def run_type(dut, rtl, config, maps, inputs):
    """Run ``maps`` through the gateware; return ``(words, model words, seconds)``."""
    ports = cfar_ports(SimpleNamespace(
        cfar_type=config["cfar_type"], reference_cells=config["reference_cells"],
        guard_cells=config["guard_cells"],
        doppler_reference_cells=config.get("doppler_reference_cells", 0),
        doppler_guard_cells=config.get("doppler_guard_cells", 0),
        os_k=config["os_k"] or 0, cfar_scale=config["scale"]))
    start = time.perf_counter()
    run = rtl.run(inputs, ports=ports, drain_cycles=20 * DOPPLER_CELLS + 1000)
    seconds = time.perf_counter() - start
    words = unpack_bytes(dut.o.payload.shape(), run.outputs)
    expect = cfar_stream(list(maps), config)
    return words, expect, seconds


def mismatches(words, expect):
    """Output words where the gateware and the model differ (0: bit-exact)."""
    got = np.stack([words[f"hit.{f}"] for f in HIT_DTYPE.names] + [words["cpi_end"]], axis=1)
    want = np.stack([expect[f] for f in HIT_DTYPE.names] + [expect["cpi_end"]], axis=1)
    if got.shape == want.shape:
        return int(np.count_nonzero(np.any(got != want, axis=1)))
    return len({tuple(r) for r in got.tolist()} ^ {tuple(r) for r in want.tolist()})


def false_alarms(words, mask):
    """``(hits at trial cells, hits at every tested cell)`` among gateware words."""
    hit = words["cpi_end"] == 0
    r, d = words["hit.range_bin"][hit], words["hit.doppler_bin"][hit]
    return int(np.count_nonzero(mask[r, d])), int(np.count_nonzero(hit))


def measure(name, trials, rng, *, cpis_per_run=CPIS_PER_RUN, log=print):
    """Every gateware type of window ``name`` on the same noise, ``trials`` trials at least."""
    window = WINDOWS[name]
    engines = [engine(name, types) for types in builds(name)]
    mask = trial_cells(name)
    per_map = int(mask.sum())
    reach = window["reference_cells"] + window["guard_cells"]
    tested_per_map = (RANGE_CELLS - 2 * reach) * DOPPLER_CELLS
    maps_needed = -(-trials // per_map)
    types = [t for group in builds(name) for t in group]
    configs = {t: config_of(name, t) for t in types}
    totals = {t: dict(cells=0, tested=0, trials=0, count=0, all_hits=0, bad=0, seconds=0.0)
              for t in types}
    clipped = 0
    for start in range(0, maps_needed, cpis_per_run):
        maps = noise_maps(rng, min(cpis_per_run, maps_needed - start))
        clipped += int(np.count_nonzero(maps == (1 << POWER_WIDTH) - 1))
        inputs = frame_maps(maps)
        for t, (dut, rtl) in [(t, e) for e, group in zip(engines, builds(name)) for t in group]:
            words, expect, seconds = run_type(dut, rtl, configs[t][0], maps, inputs)
            count, all_hits = false_alarms(words, mask)
            tot = totals[t]
            tot["bad"] += mismatches(words, expect)
            tot["cells"] += maps.size
            tot["tested"] += len(maps) * tested_per_map
            tot["trials"] += len(maps) * per_map
            tot["count"] += count
            tot["all_hits"] += all_hits
            tot["seconds"] += seconds
        log(f"{name}: {start + len(maps)} of {maps_needed} CPIs  " + "  ".join(
            f"{t} {totals[t]['count']}/{totals[t]['trials']} bad {totals[t]['bad']}"
            for t in types), flush=True)
    out = {}
    for t, tot in totals.items():
        config, pfa = configs[t]
        measured = rate(tot["count"], tot["trials"])
        low, high = measured["interval_95"]
        out[t] = {"scale_word": config["scale"], "os_k": config["os_k"],
                  "design_pfa": pfa,
                  "cells_run": tot["cells"], "tested_cells": tot["tested"], **measured,
                  "design_inside_interval": bool(low <= pfa <= high),
                  "hits_all_tested_cells": tot["all_hits"],
                  "rate_all_tested_cells": tot["all_hits"] / tot["tested"],
                  "rtl_equals_model": tot["bad"] == 0, "mismatched_words": tot["bad"],
                  "verilator_seconds": round(tot["seconds"], 1)}
    return out, {"cpis": maps_needed, "trials_per_map": per_map, "clipped_cells": clipped,
                 "reference_count": reference_count(**window)}


def bench():
    rng = np.random.default_rng(SEED)
    out = {"design_pfa": DESIGN_PFA, "seed": SEED,
           "noise": f"exponential power, mean 2**20 LSB^2, rounded, clipped to {POWER_WIDTH} bits",
           "map": {"range_cells": RANGE_CELLS, "doppler_cells": DOPPLER_CELLS,
                   "power_width": POWER_WIDTH},
           "windows": {}}
    for name, window in WINDOWS.items():
        types, info = measure(name, TRIALS, rng)
        missing = [t for t in CFAR_TYPES if t not in types]
        out["windows"][name] = {**window, **info, "types": types,
                                "not_built": {t: "OS is built along range only" for t in missing}}
        for t, r in types.items():
            lo, hi = r["interval_95"]
            print(f"{name} {t}: {r['count']} of {r['trials']} = {r['rate']:.3e} "
                  f"[{lo:.3e}, {hi:.3e}] design {r['design_pfa']:.4e} "
                  f"inside {r['design_inside_interval']} rtl==model {r['rtl_equals_model']} "
                  f"{r['verilator_seconds']} s", flush=True)
    bad = [(n, t) for n, w in out["windows"].items() for t, r in w["types"].items()
           if not r["rtl_equals_model"]]
    if bad:
        print(f"MISMATCH between gateware and model: {bad}")
    return out


if __name__ == "__main__":
    run_and_write(bench, RESULTS)
