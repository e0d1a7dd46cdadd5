"""The ``amaradar`` command line.

Errors in user input (files, options) print one line, ``amaradar: error: ...``,
and exit with status 2; nothing is written.
"""

import argparse
import contextlib
import math
import os
import sys
from pathlib import Path

from .boards.registry import board_names
from .spec.link import LINK_BAUD

__all__ = ["main", "UsageError"]


#: the most worker processes of a local sweep cluster per core (more only queue)
_MAX_WORKERS_PER_CORE = 4


class UsageError(Exception):
    """Bad user input: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def _path(text):
    """An argparse type: a path, not empty (argparse's Path would make ``''`` the current
    folder)."""
    if not text:
        raise argparse.ArgumentTypeError("a path must not be empty")
    return Path(text)


def _parser():
    parser = _Parser(prog="amaradar", description="Radar gateware in Amaranth HDL.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sim = commands.add_parser("sim", help="run a scenario through the gateware and the model")
    sim.add_argument("--scenario", type=_path, help="scenario TOML file (default: built-in)")
    sim.add_argument("--engine", choices=("reference", "rtl"), default="rtl",
                     help="rtl: the generated Verilog in Verilator, checked against the "
                          "reference model; reference: the bit-exact numpy model only")
    sim.add_argument("--out", type=_path, default=Path("out"), help="output folder (default: out)")
    sim.add_argument("--quiet", action="store_true", help="no progress or summary on the terminal")
    sim.add_argument("--record", action="store_true",
                     help="also write the ADC samples as a SigMF recording (OUT/adc.sigmf-*)")
    sim.add_argument("--iq", type=_path, metavar="REC.sigmf-meta",
                     help="run the chain on a SigMF recording instead of the scenario's echoes")
    sim.add_argument("--iq-full-scale", type=float, default=1.0, metavar="X",
                     help="complex float amplitude of the ADC's full scale (default 1.0)")
    sim.add_argument("--asterix", type=_path, metavar="FILE",
                     help="write the reports as ASTERIX CAT034/CAT048 records (raw .ast)")
    sim.add_argument("--pcap", type=_path, metavar="FILE",
                     help="with --asterix: the same datagrams as UDP packets (port 8600) in a pcap")

    build = commands.add_parser("build", help="make a bitstream with the YoWASP tools")
    build.add_argument("--board", required=True, help=", ".join(board_names()))
    build.add_argument("--out", type=_path, default=Path("build"), help="output folder (default: build)")

    listen = commands.add_parser("listen", help="decode the report link of a board")
    source = listen.add_mutually_exclusive_group(required=True)
    source.add_argument("--port", help="serial device, e.g. /dev/ttyUSB1")
    source.add_argument("--replay", type=_path, help="recorded byte stream to decode instead")
    listen.add_argument("--baud", type=int, default=LINK_BAUD,
                        help=f"baud rate (default: {LINK_BAUD}, every board's)")
    listen.add_argument("--out", type=_path, default=Path("listen"), help="output folder (default: listen)")
    listen.add_argument("--sample-rate", type=float, help="Hz; overrides the status frames")
    listen.add_argument("--pri", type=float, help="seconds; overrides the status frames")
    listen.add_argument("--pulses", type=int, help="pulses per CPI; overrides the status frames")
    listen.add_argument("--carrier", type=float,
                        help="carrier frequency in Hz, for the radial velocity of plots")
    listen.add_argument("--bandwidth", type=float,
                        help="with --asterix-udp and --carrier: the up-sweep LFM's bandwidth in Hz, "
                             "to correct tracked plots' range for the range-Doppler coupling")
    listen.add_argument("--asterix-udp", metavar="HOST:PORT",
                        help="also send each CPI's reports there as ASTERIX datagrams")
    listen.add_argument("--site", type=_path, metavar="FILE",
                        help="TOML file whose [site] names the radar for ASTERIX (e.g. the scenario)")
    listen.add_argument("--simulated", action="store_true",
                        help="mark the ASTERIX reports simulated (a board's on-chip echoes)")
    listen.add_argument("--key", type=Path, metavar="FILE",
                        help="with --asterix-udp: the site's key file (amaradar keygen); "
                             "every datagram goes out sealed (sequence number and MAC)")
    listen.add_argument("--duration", type=float, help="stop listening after this many seconds")

    keygen = commands.add_parser("keygen", help="make a site's key for authenticated feeds")
    keygen.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="key file to create (never overwritten), e.g. SAC-SIC.key")

    sweep = commands.add_parser("sweep", help="Monte-Carlo sweep of a scenario grid on Dask")
    sweep.add_argument("sweep_file", type=_path, metavar="SWEEP.toml",
                       help="base scenario, grid, runs per point, figures")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="Dask scheduler of an existing cluster (default: a local cluster)")
    sweep.add_argument("--workers", type=int, metavar="N",
                       help="worker processes of the local cluster (default: one per core)")
    sweep.add_argument("--out", type=_path, default=Path("sweep"), metavar="DIR",
                       help="output folder (default: sweep)")
    sweep.add_argument("--engine", choices=("reference", "rtl"), default="reference",
                       help="reference: the bit-exact numpy model; rtl: the gateware in "
                            "Verilator, each task checked against the model")

    centre = commands.add_parser("centre", help="fuse several sites' ASTERIX into system tracks")
    centre.add_argument("--feed", action="append", default=[], metavar="SITE=FILE.ast",
                        help="a site's ASTERIX stream (repeatable)")
    centre.add_argument("--udp", metavar="HOST:PORT",
                        help="also receive the sites' datagrams there for --duration seconds")
    centre.add_argument("--duration", type=float, help="seconds to receive with --udp")
    centre.add_argument("--keys", type=_path, metavar="DIR",
                        help="with --udp: the sites' keys (SAC-SIC.key); only datagrams sealed "
                             "with them are fused (amaradar listen --key)")
    centre.add_argument("--sites", type=Path, metavar="sites.json",
                        help="the sites (Site tables; the first is the frame's origin)")
    centre.add_argument("--site", action="append", default=[], metavar="SITE=FILE.toml",
                        help="a site from a file's [site] (repeatable; instead of --sites)")
    centre.add_argument("--truth", type=Path, metavar="truth.csv", help="truth, for the scores")
    centre.add_argument("--rule", default="any", help="joint decision: any, all, both, k_of_n:K")
    centre.add_argument("--closing-speed", type=float, default=300.0, metavar="M/S",
                        help="threat: closing on the first site at least this fast (300)")
    centre.add_argument("--time-to-reach", type=float, default=600.0, metavar="S",
                        help="threat: reaching the first site within this time (600)")
    centre.add_argument("--out", type=Path, default=Path("out"),
                        help="output folder; results in OUT/centre (default: out)")

    verilog = commands.add_parser("verilog", help="write the chain's Verilog")
    verilog.add_argument("--scenario", type=_path, help="scenario TOML file (default: built-in)")
    verilog.add_argument("--out", type=_path, required=True, help="Verilog file to write")
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
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--out {str(path)!r}: {str(probe)!r} is not writable")


def _load_scenario(path):
    from .sim.world.scenario import ScenarioError, load_scenario
    try:
        return load_scenario(path)
    except ScenarioError as e:
        raise _in_file("--scenario", path, e) from None


def _in_file(option, path, error):
    """A :class:`UsageError` of ``error``, a problem in the file ``path`` of ``option``,
    saying which file unless its message does."""
    message = str(error)
    if path is None or str(path) in message:
        return UsageError(message)
    return UsageError(f"{option} {str(path)!r}: {message}")


def _sim(args):
    from .host.run import RunDoesNotFit, run_sim
    from .host.sigmf_io import RecordingError, RecordingSource, recording_site
    from .host.site import SiteError, load_site
    from .sim.world.scenario import ScenarioError
    if args.pcap is not None and args.asterix is None:
        raise UsageError("--pcap needs --asterix (it holds the same datagrams)")
    if args.iq is None and args.iq_full_scale != 1.0:
        raise UsageError("--iq-full-scale needs --iq")
    if not (math.isfinite(args.iq_full_scale) and args.iq_full_scale > 0):
        raise UsageError(f"--iq-full-scale must be a finite number > 0, not {args.iq_full_scale!r}")
    scenario = None if args.iq is not None and args.scenario is None else \
        _load_scenario(args.scenario)
    _writable_dir(args.out)
    if scenario is not None and scenario.multisite:
        return _sim_sites(args, scenario)
    for option, path in (("--asterix", args.asterix), ("--pcap", args.pcap)):
        if path is not None:
            if path.is_dir():
                raise UsageError(f"{option} {str(path)!r} is a folder; give a file name")
            _writable_dir(path.parent)
    try:
        site = load_site(args.scenario) if args.scenario is not None else None
        source = None
        if args.iq is not None:
            source = RecordingSource(args.iq, scenario, full_scale=args.iq_full_scale)
            scenario = source.scenario
            site = site or recording_site(args.iq)
        report = run_sim(scenario, engine=args.engine, out_dir=args.out, quiet=args.quiet,
                         source=source, site=site, record=args.record, asterix=args.asterix,
                         pcap=args.pcap)
    except (SiteError, ScenarioError) as e:
        raise _in_file("--scenario", args.scenario, e) from None
    except (RecordingError, RunDoesNotFit) as e:
        raise UsageError(str(e)) from None
    return 0 if report["bit_exact"] is not False else 1


def _sim_sites(args, scenario):
    """``amaradar sim`` on a scenario with ``[[site]]``: every site's run."""
    from .host.multisite import run_multisite
    from .host.run import RunDoesNotFit
    from .host.site import SiteError, load_sites
    from .sim.world.scenario import ScenarioError
    for option, given in (("--iq", args.iq), ("--asterix", args.asterix)):
        if given is not None:
            raise UsageError(f"{option} is for one site; a scenario with [[site]] writes each "
                             "site's ASTERIX to OUT/<site>/asterix.ast from its own echoes")
    try:
        report = run_multisite(scenario, load_sites(args.scenario), engine=args.engine,
                               out_dir=args.out, quiet=args.quiet, record=args.record)
    except (SiteError, ScenarioError, RunDoesNotFit) as e:
        raise UsageError(str(e)) from None
    return 0 if report["bit_exact"] is not False else 1


def _verilog(args):
    from .host.run import chain_verilog
    from .sim.world.scenario import ScenarioError
    scenario = _load_scenario(args.scenario)
    out = args.out
    _writable_dir(out.parent)
    if out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a folder; give a file name")
    try:
        text = chain_verilog(scenario)
    except ScenarioError as e:
        raise _in_file("--scenario", args.scenario, e) from None
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        tmp.replace(out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"--out {str(out)!r}: cannot write it: {e.strerror}") from None
    print(f"wrote {out} ({len(text.splitlines())} lines)")
    return 0


def _build(args):
    from .host.build import BoardError, run_build
    try:
        return run_build(board=args.board, out_dir=args.out, stdout=sys.stdout)
    except BoardError as e:
        raise UsageError(str(e)) from None


def _listen(args):
    from .host.listen import ListenError, run_listen
    from .host.site import SiteError, load_site
    try:
        return run_listen(port=args.port, baud=args.baud, replay=args.replay, out_dir=args.out,
                          stdout=sys.stdout, sample_rate=args.sample_rate, pri=args.pri,
                          pulses=args.pulses, carrier=args.carrier, duration=args.duration,
                          asterix_udp=args.asterix_udp,
                          site=None if args.site is None else load_site(args.site),
                          simulated=args.simulated, key=args.key, bandwidth=args.bandwidth)
    except (ListenError, SiteError) as e:
        raise UsageError(str(e)) from None


def _keygen(args):
    from .host.feed_auth import FeedKeyError, write_new_key
    try:
        write_new_key(args.out)
    except FeedKeyError as e:
        raise UsageError(str(e)) from None
    print(f"wrote {args.out} (32 random bytes, readable by its owner only)")
    return 0


def _sweep(args):
    from .host.sweep import connect, run_sweep
    from .host.sweep_file import SweepError, load_sweep
    from .host.sweep_store import SweepStore
    if args.workers is not None and args.scheduler is not None:
        raise UsageError("--workers sizes the local cluster; it cannot be given with --scheduler")
    most = _MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)
    if args.workers is not None and not 1 <= args.workers <= most:
        raise UsageError(f"--workers must be from 1 to {most} ({_MAX_WORKERS_PER_CORE} per "
                         f"core of this machine), not {args.workers}")
    try:
        sweep = load_sweep(args.sweep_file)
    except SweepError as e:
        raise UsageError(f"{args.sweep_file}: {e}") from None
    _writable_dir(args.out)
    with contextlib.ExitStack() as stack:
        try:
            SweepStore(args.out, sweep.columns, sweep.runs)
            client, cluster = stack.enter_context(connect(args.scheduler, args.workers))
        except ValueError as e:
            raise UsageError(str(e)) from None
        report = run_sweep(sweep, client=client, out_dir=args.out, engine=args.engine,
                           source=args.sweep_file, cluster=cluster)
    print(f"wrote {args.out}: {report['points']['computed']} points computed, "
          f"{report['points']['skipped']} already done")
    return 0 if report["bit_exact"] is None or report["bit_exact"]["all"] else 1


def _centre(args):
    from .host.centre import run_centre
    from .host.centre.decision import parse_rule
    from .host.centre.feed import authenticated_screen, screen_plain
    from .host.feed_auth import FeedKeyError, FeedVerifier, load_key_folder
    from .host.centre.inputs import (CentreInputError, load_feeds, load_site_files,
                                     load_sites_json, read_truth, receive_udp)
    if (args.sites is None) == (not args.site):
        raise UsageError("give the sites with --sites FILE or with --site NAME=FILE (not both)")
    if not args.feed and args.udp is None:
        raise UsageError("give at least one --feed SITE=FILE.ast or --udp HOST:PORT")
    if (args.udp is None) != (args.duration is None):
        raise UsageError("--udp and --duration go together")
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise UsageError(f"--duration must be a finite number > 0, not {args.duration!r}")
    if args.keys is not None and args.udp is None:
        raise UsageError("--keys goes with --udp (files are not sealed)")
    _writable_dir(args.out)
    try:
        sites = load_sites_json(args.sites) if args.sites else load_site_files(args.site)
        screen = screen_plain if args.keys is None else authenticated_screen(
            FeedVerifier(load_key_folder(args.keys)), sites)
        rule = parse_rule(args.rule, len(sites), closing_mps=args.closing_speed,
                          time_to_reach_s=args.time_to_reach)
        feeds = load_feeds(args.feed, sites)
        truth = read_truth(args.truth) if args.truth is not None else None
        live = receive_udp(args.udp, args.duration) if args.udp is not None else ()
        report = run_centre(sites, feeds, args.out, truth=truth, rule=rule, progress=print,
                            screen=screen, live=live)
    except FeedKeyError as e:
        raise UsageError(f"--keys: {e}") from None
    except (CentreInputError, ValueError) as e:
        raise UsageError(str(e)) from None
    print(f"wrote {args.out / 'centre'}: {report['system_tracks']} system tracks, "
          f"{len(report['declarations'])} declared threats")
    return 0


def main(argv=None):
    try:
        args = _parser().parse_args(argv)
        commands = {"sim": _sim, "verilog": _verilog, "build": _build, "listen": _listen,
                    "sweep": _sweep, "keygen": _keygen, "centre": _centre}
        return commands[args.command](args)
    except UsageError as e:
        print(f"amaradar: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("amaradar: interrupted", file=sys.stderr)
        return 130

