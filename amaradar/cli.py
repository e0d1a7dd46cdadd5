"""The ``amaradar`` command line.

Errors in user input (files, options) print one line, ``amaradar: error: ...``,
and exit with status 2; nothing is written.
"""

import argparse
import sys
from pathlib import Path

__all__ = ["main", "UsageError"]


class UsageError(Exception):
    """Bad user input: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def _parser():
    parser = _Parser(prog="amaradar", description="Radar gateware in Amaranth HDL.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sim = commands.add_parser("sim", help="run a scenario through the gateware and the model")
    sim.add_argument("--scenario", type=Path, help="scenario TOML file (default: built-in)")
    sim.add_argument("--engine", choices=("reference", "rtl"), default="rtl",
                     help="rtl: the generated Verilog in Verilator, checked against the "
                          "reference model; reference: the bit-exact numpy model only")
    sim.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out)")
    sim.add_argument("--quiet", action="store_true", help="no progress or summary on the terminal")

    verilog = commands.add_parser("verilog", help="write the chain's Verilog")
    verilog.add_argument("--scenario", type=Path, help="scenario TOML file (default: built-in)")
    verilog.add_argument("--out", type=Path, required=True, help="Verilog file to write")
    return parser


def _writable_dir(path):
    """Check that ``path`` is, or can become, a writable folder, without creating it."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UsageError(f"--out {str(path)!r}: {str(probe)!r} is not a folder")
    import os
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--out {str(path)!r}: {str(probe)!r} is not writable")


def _sim(args):
    from .run import run_sim
    from .sim.scenario import load_scenario
    scenario = load_scenario(args.scenario)
    _writable_dir(args.out)
    report = run_sim(scenario, engine=args.engine, out_dir=args.out, quiet=args.quiet)
    return 0 if report["bit_exact"] is not False else 1


def _verilog(args):
    from .run import chain_verilog
    from .sim.scenario import load_scenario
    scenario = load_scenario(args.scenario)
    out = args.out
    _writable_dir(out.parent if str(out.parent) else Path("."))
    if out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a folder; give a file name")
    text = chain_verilog(scenario)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    print(f"wrote {out} ({len(text.splitlines())} lines)")
    return 0


def main(argv=None):
    from .sim.scenario import ScenarioError
    try:
        args = _parser().parse_args(argv)
        return {"sim": _sim, "verilog": _verilog}[args.command](args)
    except (UsageError, ScenarioError) as e:
        print(f"amaradar: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("amaradar: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
