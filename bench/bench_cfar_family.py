"""The CFAR family at a clutter edge and with two targets in one reference window.

Usage: ``python bench/bench_cfar_family.py``. Writes ``bench/results/cfar_family.json``.
Every detection comes from the bit-exact model ``cfar_thresholds`` (the gateware's
decisions), with the scale word of ``cfar_scale_word`` for the design Pfa; the
"design" rate is the Pfa that rounded word really gives in homogeneous noise.

Noise: square-law power of complex Gaussian noise, exponential with mean ``2**20``
LSB², rounded to integers. One map holds ``columns`` Doppler bins; in 2-D only every
``2(Dd + Gd) + 1``-th bin is a trial, so no two trials share a reference cell.

**Clutter edge**: the background steps up by ``step_db`` between range rows ``-1`` and
``0``. A cell at ``offset`` from the edge (negative: clear side) is counted if its
whole range window straddles the edge or touches it (``-(N+G) <= offset < N+G``).
Rates are reported per offset and pooled over the clear side ("before") and the
clutter side ("after"), with Clopper-Pearson 95 % intervals. For the 1-D window the
JSON also gives the rate at offset 0 as the step grows without bound (the leading
half clear, the lagging half clutter): CA ``(1 + alpha/n)**-(n/2)``, GO the CA
rate of one half at GO's factor, ``(1 + alpha/h)**-h``, ``h = n/2``.

**Two targets**: a Swerling-0 target (constant amplitude, random phase) of
``snr_db`` in the cell under test, and interferers of ``interferer_snr_db`` at the
listed (range, Doppler) offsets inside its reference window. Pd per type against
the same target alone on the same noise.
"""

from pathlib import Path

import numpy as np
from scipy import stats

from amaradar.sim.models.detect.cfar import (CFAR_TYPES, cfar_alpha, cfar_applied_alpha, cfar_pfa,
                                             cfar_scale_word, cfar_thresholds, reference_count)

from machine import run_and_write

RESULTS = Path(__file__).parent / "results" / "cfar_family.json"
MEAN = 2.0 ** 20
DESIGN_PFA = 1e-3
WINDOWS = {"1d": dict(reference_cells=8, guard_cells=2),
           "2d": dict(reference_cells=2, guard_cells=1, doppler_reference_cells=1,
                      doppler_guard_cells=0)}
COLUMNS = {"1d": 64, "2d": 66}
EDGE_STEPS_DB = [0.0, 10.0, 20.0]
EDGE_TRIALS = 1_000_000                  # per offset from the edge
TARGET_SNR_DB = 13.0
INTERFERERS = {"1d": [[(4, 0)], [(-4, 0), (4, 0)]],
               "2d": [[(2, 0)], [(-2, 0), (2, 0)]]}
INTERFERER_SNR_DB = [13.0, 23.0]
TARGET_TRIALS = 40_000
BATCH_CELLS = 1 << 21


def os_rank(n):
    """The OS rank used here: ``3n/4`` rounded down (12 of 16, 13 of 18)."""
    return 3 * n // 4


def detector(cfar_type, window):
    """``(scale word, os_k, design Pfa of the rounded word)`` for one type and window."""
    n = reference_count(**window)
    k = os_rank(n) if cfar_type == "os" else None
    scale = cfar_scale_word(cfar_type, cfar_alpha(cfar_type, DESIGN_PFA, n, os_k=k), n)
    return scale, k, cfar_pfa(cfar_type, cfar_applied_alpha(cfar_type, scale, n), n, os_k=k)


def edge_limit(cfar_type, window, scale):
    """Pfa at offset 0 of an unbounded step (1-D CA and GO; None otherwise)."""
    if cfar_type not in ("ca", "go") or window.get("doppler_reference_cells", 0):
        return None
    n = reference_count(**window)
    alpha = cfar_applied_alpha(cfar_type, scale, n)
    return cfar_pfa("ca", alpha / 2 if cfar_type == "ca" else alpha, n // 2)


def interval(count, trials):
    low, high = stats.binomtest(count, trials).proportion_ci(0.95, method="exact")
    return [float(low), float(high)]


def rate(count, trials):
    return {"count": int(count), "trials": int(trials), "rate": count / trials,
            "interval_95": interval(count, trials)}


def trial_columns(name, columns=None):
    """The Doppler bins counted as trials in maps of ``columns`` bins (default
    ``COLUMNS[name]``): every ``2(Dd + Gd) + 1``-th from 0, as many as fit with no two
    circular windows sharing a bin."""
    window = WINDOWS[name]
    columns = COLUMNS[name] if columns is None else columns
    stride = 2 * (window.get("doppler_reference_cells", 0)
                  + window.get("doppler_guard_cells", 0)) + 1
    return np.arange(0, columns - columns % stride, stride)


def detect_all(x, window, detectors):
    return {t: cfar_thresholds(x, cfar_type=t, scale=s, os_k=k, **window)[0]
            for t, (s, k, _) in detectors.items()}


def clutter_edge(name, step_db, detectors, rng):
    """False alarms per offset from a background step, every type on the same noise."""
    window = WINDOWS[name]
    reach = window["reference_cells"] + window["guard_cells"]
    offsets = np.arange(-reach, reach)
    rows = len(offsets) + 2 * reach                     # the edge at row 2 * reach
    edge = 2 * reach
    columns = trial_columns(name)
    background = np.where(np.arange(rows) < edge, 1.0, 10 ** (step_db / 10))[:, None] * MEAN
    counts = {t: np.zeros(len(offsets), dtype=np.int64) for t in detectors}
    per_map = len(columns)
    maps = -(-EDGE_TRIALS // per_map)
    batch = max(1, BATCH_CELLS // (rows * COLUMNS[name]))
    for start in range(0, maps, batch):
        size = min(batch, maps - start)
        x = np.round(rng.standard_exponential((size, rows, COLUMNS[name])) * background)
        hits = detect_all(x.astype(np.int64), window, detectors)
        for t, hit in hits.items():
            counts[t] += hit[:, reach:reach + len(offsets)][:, :, columns].sum(axis=(0, 2))
    trials = maps * per_map
    out = {}
    for t, c in counts.items():
        before, after = offsets < 0, offsets >= 0
        out[t] = {"design_pfa": detectors[t][2],
                  "limit_offset0_unbounded_step": edge_limit(t, window, detectors[t][0]),
                  "before": rate(c[before].sum(), trials * before.sum()),
                  "after": rate(c[after].sum(), trials * after.sum()),
                  "worst_offset": int(offsets[np.argmax(c)]),
                  "worst": rate(c.max(), trials),
                  "per_offset": {"offsets": offsets.tolist(), "counts": c.tolist(),
                                 "trials_each": trials}}
    return out


def two_targets(name, detectors, rng):
    """Pd of a target alone and beside each interferer set, every type on the same noise."""
    window = WINDOWS[name]
    reach = window["reference_cells"] + window["guard_cells"]
    rows, centre = 2 * reach + 1, reach
    columns = trial_columns(name)
    cases = [("alone", [], None)] + [
        (f"{len(spots)} at {spots} {snr:g} dB", spots, snr)
        for spots in INTERFERERS[name] for snr in INTERFERER_SNR_DB]
    counts = {case: dict.fromkeys(detectors, 0) for case, _, _ in cases}
    maps = -(-TARGET_TRIALS // len(columns))
    batch = max(1, BATCH_CELLS // (rows * COLUMNS[name]))

    def echo(size, snr_db):
        phase = rng.uniform(0, 2 * np.pi, (size, len(columns)))
        return np.sqrt(10 ** (snr_db / 10) * MEAN) * np.exp(1j * phase)

    for start in range(0, maps, batch):
        size = min(batch, maps - start)
        noise = (rng.standard_normal((size, rows, COLUMNS[name]))
                 + 1j * rng.standard_normal((size, rows, COLUMNS[name]))) * np.sqrt(MEAN / 2)
        noise[:, centre, columns] += echo(size, TARGET_SNR_DB)
        for case, spots, snr in cases:
            field = noise.copy()
            for dr, dd in spots:
                field[:, centre + dr, (columns + dd) % COLUMNS[name]] += echo(size, snr)
            hits = detect_all(np.round(np.abs(field) ** 2).astype(np.int64), window, detectors)
            for t, hit in hits.items():
                counts[case][t] += int(hit[:, centre, columns].sum())
    trials = maps * len(columns)
    rows_out = []
    for case, spots, snr in cases:
        rows_out.append({"case": case, "interferers": [list(s) for s in spots],
                         "interferer_snr_db": snr,
                         "pd": {t: rate(c, trials) for t, c in counts[case].items()}})
    return rows_out


def bench():
    rng = np.random.default_rng(2026)
    out = {"design_pfa": DESIGN_PFA, "noise": "exponential power, mean 2**20 LSB^2, rounded",
           "seed": 2026, "windows": {}, "clutter_edge": [], "two_targets": []}
    for name, window in WINDOWS.items():
        detectors = {t: detector(t, window) for t in CFAR_TYPES}
        n = reference_count(**window)
        out["windows"][name] = {**window, "reference_count": n, "os_k": os_rank(n),
                                "columns": COLUMNS[name],
                                "trial_columns_per_map": len(trial_columns(name)),
                                "scale_words": {t: d[0] for t, d in detectors.items()}}
        for step in EDGE_STEPS_DB:
            result = clutter_edge(name, step, detectors, rng)
            out["clutter_edge"].append({"window": name, "step_db": step, "types": result})
            for t, r in result.items():
                print(f"edge {name} +{step:4.1f} dB {t}: design {r['design_pfa']:.2e}  "
                      f"before {r['before']['rate']:.2e}  after {r['after']['rate']:.2e}  "
                      f"worst {r['worst']['rate']:.2e} at {r['worst_offset']}", flush=True)
        for row in two_targets(name, detectors, rng):
            out["two_targets"].append({"window": name, "target_snr_db": TARGET_SNR_DB,
                                       "target": "Swerling 0", **row})
            print(f"targets {name} {row['case']:32s} " + "  ".join(
                f"{t} {p['rate']:.3f}" for t, p in row["pd"].items()), flush=True)
    return out


if __name__ == "__main__":
    run_and_write(bench, RESULTS)
