"""The machine a benchmark ran on, and the writing of its JSON results (imported by the bench scripts)."""

import json
import os
import platform
import time
from pathlib import Path

__all__ = ["machine", "run_and_write"]


def machine():
    """CPU model, core count, Python version and the 1-minute load average now."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_1min": os.getloadavg()[0]}


def run_and_write(bench, path):
    """Run ``bench()`` (a dict of results), add its ``seconds`` and the ``machine``, and
    write it as JSON to ``path``."""
    start = time.time()
    results = bench()
    results["seconds"] = round(time.time() - start, 1)
    results["machine"] = machine()
    Path(path).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
