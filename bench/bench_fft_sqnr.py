"""Round-off of the FFT core: SQNR of the bit-exact model against the float FFT.

Usage: ``python bench/bench_fft_sqnr.py``. Writes ``bench/results/fft_sqnr.json``.
The model is bit-exact to the gateware (``tests/test_fft.py``), so these are the
core's figures. Reference: ``np.fft.fft`` of the same quantised input times the
core's scale ``2**-log2(n)`` (default scaling, 1/2 per stage). SQNR is
``10*log10(sum |ref|^2 / sum |out - ref|^2)`` over all bins of all frames.

Inputs (each part quantised to ``width`` bits):
``gaussian_-12dBFS``: complex Gaussian, each part at -12 dBFS rms, clipped;
``uniform_full_scale``: each part uniform over the whole signed range;
``tone_full_scale``: a complex exponential of amplitude ``2**(width-1) - 1`` on a
random bin with a random phase, one per frame.
"""

import json
import time
from pathlib import Path

import numpy as np

from amaradar.sim.models.compress.fft import fft, fft_ideal

RESULTS = Path(__file__).parent / "results" / "fft_sqnr.json"
FRAMES = 100
SIZES = [64, 128, 256, 512, 1024, 2048, 4096]
WIDTHS = [16, 18]
GUARD_BITS = 2


def _inputs(kind, n, width, rng):
    top = 2**(width - 1)
    if kind == "gaussian_-12dBFS":
        sigma = top * 10**(-12 / 20)
        parts = [np.clip(np.round(rng.normal(size=(FRAMES, n)) * sigma), -top, top - 1)
                 for _ in range(2)]
        return parts[0] + 1j * parts[1]
    if kind == "uniform_full_scale":
        return rng.integers(-top, top, (FRAMES, n)) + 1j * rng.integers(-top, top, (FRAMES, n))
    bins = rng.integers(0, n, (FRAMES, 1))
    phase = rng.uniform(0, 2 * np.pi, (FRAMES, 1))
    tone = (top - 1) * np.exp(1j * (2 * np.pi * bins * np.arange(n) / n + phase))
    return np.round(tone.real) + 1j * np.round(tone.imag)


def bench():
    rng = np.random.default_rng(2024)
    rows = []
    for width in WIDTHS:
        for n in SIZES:
            for kind in ("gaussian_-12dBFS", "uniform_full_scale", "tone_full_scale"):
                x = _inputs(kind, n, width, rng)
                ref = fft_ideal(x)
                for rounding in ("truncate", "half_even"):
                    out, overflowed = fft(x, n=n, width=width, twiddle_width=width,
                                          rounding=rounding, guard_bits=GUARD_BITS)
                    sqnr = 10 * np.log10(np.sum(np.abs(ref)**2) / np.sum(np.abs(out - ref)**2))
                    rows.append({"width": width, "twiddle_width": width, "n": n, "input": kind,
                                 "rounding": rounding, "sqnr_db": round(float(sqnr), 2),
                                 "frames_overflowed": int(overflowed.sum())})
                    print(f"w={width} n={n:5d} {kind:20s} {rounding:9s} {sqnr:6.2f} dB "
                          f"overflowed {int(overflowed.sum())}/{FRAMES}", flush=True)
    return {"frames": FRAMES, "guard_bits": GUARD_BITS, "scaling": "1 bit per stage",
            "reference": "np.fft.fft(x) / n of the same quantised input", "results": rows}


if __name__ == "__main__":
    start = time.time()
    results = bench()
    results["seconds"] = round(time.time() - start, 1)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")
