"""Build every board with the YoWASP tools, one at a time, and record the figures.

Usage: ``python bench/bench_boards.py [--reuse] [--boards NAME ...] [BUILD_DIR]``
(default ``build/boards``, every board).
Writes ``bench/results/boards.json``: per board, whether it built, fits and meets
timing, its clocks (achieved vs required MHz), utilization, configuration,
throughput and build time, plus the tool versions; prints the same as a Markdown
table and puts it in place of the boards table in ``README.md``. With
``--boards``, the other boards keep their entries. Takes several minutes per board (the ULX3S place and route is the
longest). ``--reuse`` takes a board's ``BUILD_DIR/<board>/resources.json`` as it is
when that build left one, and builds only the others.
"""

import argparse
import json
from pathlib import Path

from amaradar.boards.build import build_board
from amaradar.boards.toolchain import BuildError, check_report, tool_versions
from amaradar.boards.registry import board_names, get_board

RESULTS = Path(__file__).parent / "results" / "boards.json"
README = Path(__file__).parent.parent / "README.md"

# nextpnr's cell kinds per family: logic cells, flip-flops, multipliers, block RAMs
_KINDS = {
    "LUT": ("ICESTORM_LC", "TRELLIS_COMB", "LUT4"),
    "FF": ("TRELLIS_FF", "DFF"),
    "DSP": ("ICESTORM_DSP", "MULT18X18D", "MULT18X18"),
    "BRAM": ("ICESTORM_RAM", "DP16KD", "BSRAM"),
}


def bench(build_root, *, reuse, names=board_names()):
    boards = {}
    for name in names:
        out = Path(build_root) / name
        report = out / "resources.json"
        error = None
        try:
            if reuse and report.exists():
                resources = json.loads(report.read_text())
                check_report(resources)
            else:
                resources = build_board(get_board(name), out)
        except BuildError as e:
            error = str(e)
            resources = json.loads(report.read_text()) if report.exists() else {}
        resources.pop("tool_versions", None)
        boards[name] = {"ok": error is None, "error": error, **resources}
        print(f"{name}: {error or 'ok'}", flush=True)
    return {"tool_versions": tool_versions(), "boards": boards}


def _used(utilization, kind):
    for cell in _KINDS[kind]:
        if cell in utilization:
            u = utilization[cell]
            return f"{u['used']:,} / {u['available']:,}"
    return "-"


TABLE_HEADER = ("| board | device | taps | line | LUT | FF | DSP | BRAM | clock MHz "
                "(achieved / required) | Msample/s | range lines/s |")


def markdown(results):
    """The figures of ``results`` as a Markdown table, one row per board."""
    rows = [TABLE_HEADER, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, b in results["boards"].items():
        if "utilization" not in b:
            rows.append(f"| {name} | build failed: {b['error']} |" + " |" * 9)
            continue
        u, config = b["utilization"], b["configuration"]
        clock = max(b["clocks"].values(), key=lambda c: c["required_mhz"] or 0)
        mark = "" if clock["met"] else " (not met)"
        rows.append(
            f"| {name} | {b['device']} | {config['taps']} | {config['line_length']} "
            f"| {_used(u, 'LUT')} | {_used(u, 'FF')} | {_used(u, 'DSP')} | {_used(u, 'BRAM')} "
            f"| {clock['achieved_mhz']:g} / {clock['required_mhz']:g}{mark} "
            f"| {b['throughput']['samples_per_second'] / 1e6:g} "
            f"| {b['throughput']['range_lines_per_second']:,.0f} |")
    return "\n".join(rows)


def update_readme(table, path=README):
    """Put ``table`` in place of the Markdown table that starts with ``TABLE_HEADER``
    in ``path``."""
    lines = path.read_text().split("\n")
    start = lines.index(TABLE_HEADER)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    path.write_text("\n".join(lines[:start] + table.split("\n") + lines[end:]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", default="build/boards")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the builds that left a resources.json")
    parser.add_argument("--boards", nargs="+", choices=board_names(), default=board_names())
    args = parser.parse_args()
    results = bench(args.build_dir, reuse=args.reuse, names=args.boards)
    if RESULTS.exists():    # the boards not built this time keep their entries
        previous = json.loads(RESULTS.read_text())
        results["boards"] = {**previous["boards"], **results["boards"]}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    update_readme(table)
    print(table)
    print(f"wrote {RESULTS} and the boards table in {README}")
