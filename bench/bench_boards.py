"""Build every board with the YoWASP tools, one at a time, and record the figures.

Usage: ``python bench/bench_boards.py [BUILD_DIR]`` (default ``build/boards``).
Writes ``bench/results/boards.json``: per board, whether it built, fits and meets
timing, its clocks (achieved vs required MHz), utilization, configuration,
throughput and build time, plus the tool versions. Takes several minutes per
board (the ULX3S place and route is the longest).
"""

import json
import sys
from pathlib import Path

from amaradar.boards.build import board_names, build_board, get_board
from amaradar.boards.toolchain import BuildError, tool_versions

RESULTS = Path(__file__).parent / "results" / "boards.json"


def bench(build_root):
    boards = {}
    for name in board_names():
        out = Path(build_root) / name
        try:
            resources = build_board(get_board(name), out)
            error = None
        except BuildError as e:
            error = str(e)
            report = out / "resources.json"
            resources = json.loads(report.read_text()) if report.exists() else {}
        resources.pop("tool_versions", None)
        boards[name] = {"ok": error is None, "error": error, **resources}
        print(f"{name}: {'ok' if error is None else error}", flush=True)
    return {"tool_versions": tool_versions(), "boards": boards}


if __name__ == "__main__":
    results = bench(sys.argv[1] if len(sys.argv) > 1 else "build/boards")
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")
