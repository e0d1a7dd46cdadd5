"""``amaradar build --board B [--out DIR]``: a bitstream and its resource/Fmax report.

:func:`run_build` is the whole command: it checks the user's input (raising
:class:`BoardError`, one line, before anything is built), then builds with the
YoWASP tools from PyPI and returns the exit status: 0 when the design fits and
meets timing, 1 when a tool fails or the design misses (the message is printed).
"""

import os
from pathlib import Path

__all__ = ["BoardError", "run_build"]

_WASM_NOTE = ("the first run of each YoWASP tool compiles it to native code "
              "(about 45 s for Yosys, cached in ~/.cache/YoWASP); later builds start at once")


class BoardError(Exception):
    """Bad input to ``amaradar build`` (board name, output folder): one line."""


def _check_out_dir(out_dir):
    """Create ``out_dir`` (and parents) or raise :class:`BoardError` saying why not."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BoardError(f"--out {str(out_dir)!r} is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BoardError(f"--out {str(out_dir)!r}: cannot create the folder: {e.strerror}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise BoardError(f"--out {str(out_dir)!r} is not writable")


def run_build(*, board, out_dir, stdout):
    """Build the bitstream of ``board`` into ``out_dir``; progress and result go to ``stdout``.

    Parameters
    ----------
    board : str
        A name of ``amaradar.boards.registry.board_names()``.
    out_dir : str or path-like
        Receives ``<board>.<bin|bit|fs>``, ``resources.json`` and ``build/``
        (see :func:`amaradar.boards.build.build_board`).
    stdout : text stream
        Where progress, the summary and a failure's one-line reason are written.

    Returns
    -------
    int
        0 on success; 1 when the build fails, the design does not fit or timing
        is not met.

    Raises
    ------
    BoardError
        Unknown board, or an output folder that cannot be written.
    """
    from ..boards.build import build_board
    from ..boards.registry import board_names, get_board
    from ..boards.toolchain import BuildError
    if board not in board_names():
        raise BoardError(f"unknown board {board!r}; choose one of: {', '.join(board_names())}")
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)

    def progress(line):
        print(line, file=stdout, flush=True)

    progress(f"amaradar build: {board} into {out_dir} ({_WASM_NOTE})")
    try:
        resources = build_board(get_board(board), out_dir, progress=progress)
    except BuildError as e:
        progress(f"amaradar build: {board} failed: {e}")
        return 1
    for name, clock in resources["clocks"].items():
        progress(f"  clock {name}: {clock['achieved_mhz']} MHz achieved, "
                 f"{clock['required_mhz']} MHz required")
    used = ", ".join(f"{kind} {u['used']}/{u['available']}"
                     for kind, u in resources["utilization"].items() if u["used"])
    progress(f"  used: {used}")
    real_time = resources["real_time"]
    progress(f"  chain: up to {resources['throughput']['samples_per_second'] / 1e6:g} Msample/s; "
             f"plays its scenario at {real_time['samples_per_second'] / 1e6:g} Msample/s, "
             f"reports use {real_time['load']:.0%} of the "
             f"{resources['configuration']['uart_baud']:,}-baud link")
    progress(f"amaradar build: wrote {out_dir / 'resources.json'} and the bitstream "
             f"in {resources['build_seconds']} s")
    return 0
