"""Sweep files: a base scenario, a grid of scenario keys, runs per point, figures.

A sweep file is TOML::

    base = "scenario.toml"          # path relative to the sweep file (or an inline [base] table)
    runs = 20                       # runs per point; run r uses noise_seed = base seed + r
    figures = ["pfa", "pd"]         # any of: pfa, pd, plot_rms_range, plot_rms_velocity, ospa, gospa
    [grid]                          # the cartesian product of these is the set of points
    "cfar.type" = ["ca", "os"]
    "target.0.snr_db" = [-12.0, -9.0, -6.0]

A grid key names a scenario key by its dotted path: ``table.key`` or
``array.index.key`` (``target.0.snr_db``, ``clutter.0.cnr_db``). Every point's
scenario is checked when the file is read, so a bad value stops the sweep before
anything runs.
"""

import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..sim.world.scenario import ScenarioError, parse_scenario

__all__ = ["SweepError", "Sweep", "FIGURES", "load_sweep"]

FIGURES = ("pfa", "pd", "plot_rms_range", "plot_rms_velocity", "ospa", "gospa")
# figures that score plots: they need the range-Doppler chain ([doppler] in the base)
PLOT_FIGURES = ("plot_rms_range", "plot_rms_velocity", "ospa", "gospa")
_KEYS = ("base", "runs", "figures", "grid")


class SweepError(ValueError):
    """A sweep file that cannot be run; the message is one line naming the key."""


@dataclass(frozen=True)
class Sweep:
    """A checked sweep: the base scenario document, the grid, runs and figures."""
    base: dict
    runs: int
    figures: tuple
    grid: dict        # dotted key -> tuple of values, in file order

    @property
    def keys(self):
        return tuple(self.grid)

    @property
    def columns(self):
        """The results columns: grid keys, ``runs``, ``cells``, each figure and its interval."""
        return [*self.keys, "runs", "cells",
                *(f"{f}{s}" for f in self.figures for s in ("", "_lo", "_hi"))]

    def points(self):
        """Every point of the grid as a tuple of values (the order of :attr:`keys`)."""
        return list(itertools.product(*self.grid.values()))

    def scenario_doc(self, point, run):
        """The scenario document of ``point``'s run ``run`` (noise_seed + run)."""
        doc = _copy(self.base)
        for key, value in zip(self.keys, point):
            _assign(doc, key, value)
        doc["radar"]["noise_seed"] = self.base["radar"]["noise_seed"] + run
        return doc


def _copy(doc):
    if isinstance(doc, dict):
        return {k: _copy(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_copy(v) for v in doc]
    return doc


def _assign(doc, dotted, value):
    """Set ``doc[a][b]...`` named by ``dotted``; the path up to the last key must exist."""
    parts = dotted.split(".")
    node = doc
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(parts[:depth + 1])
        if isinstance(node, list):
            if not (part.isdigit() and int(part) < len(node)):
                raise SweepError(f"grid key {dotted!r}: {where!r} is not one of the "
                                 f"{len(node)} entries of the base scenario")
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise SweepError(f"grid key {dotted!r}: the base scenario has no {where!r}")
    if not isinstance(node, dict) or len(parts) < 2:
        raise SweepError(f"grid key {dotted!r} must name a key of a table, e.g. "
                         "'cfar.type' or 'target.0.snr_db'")
    node[parts[-1]] = value


def _read_toml(path, what):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise SweepError(f"cannot read {what} {str(path)!r}: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SweepError(f"{what} {str(path)!r} is not valid TOML: {e}") from None


def load_sweep(path):
    """Read and check the sweep file ``path``; raises :class:`SweepError` (one line)."""
    path = Path(path)
    doc = _read_toml(path, "sweep file")
    unknown = sorted(set(doc) - set(_KEYS))
    if unknown:
        raise SweepError(f"unknown key {unknown[0]!r} in the sweep file (allowed: {', '.join(_KEYS)})")
    for key in _KEYS:
        if key not in doc:
            raise SweepError(f"missing key {key!r} in the sweep file")
    base = doc["base"]
    if isinstance(base, str):
        base = _read_toml(path.parent / base, "base scenario")
    elif not isinstance(base, dict):
        raise SweepError(f"base must be a path or a table, not {base!r}")
    runs = doc["runs"]
    if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1:
        raise SweepError(f"runs must be an integer >= 1, not {runs!r}")
    figures = doc["figures"]
    if (not isinstance(figures, list) or not figures
            or any(f not in FIGURES for f in figures) or len(set(figures)) != len(figures)):
        raise SweepError(f"figures must be a non-empty list of distinct names from "
                         f"{', '.join(FIGURES)}, not {figures!r}")
    grid = doc["grid"]
    if not isinstance(grid, dict) or not grid:
        raise SweepError(f"grid must be a table of at least one key, not {grid!r}")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"grid.{key!r} must be a non-empty list of values, not {values!r}")
    sweep = Sweep(base=base, runs=runs, figures=tuple(figures),
                  grid={k: tuple(v) for k, v in grid.items()})
    try:
        scenario = parse_scenario(_copy(base))
    except ScenarioError as e:
        raise SweepError(f"base scenario: {e}") from None
    if scenario.multisite:
        raise SweepError("base scenario has [[site]] tables: a sweep runs one site")
    for point in sweep.points():
        try:
            parse_scenario(sweep.scenario_doc(point, sweep.runs - 1))
        except ScenarioError as e:
            raise SweepError(f"grid point {dict(zip(sweep.keys, point))}: {e}") from None
    plot_figures = [f for f in sweep.figures if f in PLOT_FIGURES]
    if plot_figures and scenario.doppler is None:
        raise SweepError(f"figures {plot_figures[0]!r} scores plots: the base scenario needs a "
                         "[doppler] section")
    if "pd" in sweep.figures and not scenario.targets:
        raise SweepError("figures 'pd' needs a target in the base scenario (Pd is scored on target 0)")
    return sweep
