"""The machine a benchmark ran on, for its JSON results (imported by the bench scripts)."""

import os
import platform
from pathlib import Path

__all__ = ["machine"]


def machine():
    """CPU model, core count, Python version and the 1-minute load average now."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_1min": os.getloadavg()[0]}
