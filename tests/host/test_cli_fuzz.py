"""Every command's options, fuzzed (hypothesis): negative, zero, huge, NaN and infinite
numbers, empty strings, missing files, folders where files are expected, files where
folders are, paths that cannot be written. Each run exits 0, or exits 2 with exactly
one line on stderr that names an option (or its value) and writes nothing; never a
traceback.

The runs stay cheap: ``sim`` runs the reference engine on the small scenario,
``verilog`` the small scenario's chain; ``build`` and ``sweep`` only get options of
which at least one is invalid, so no place and route or Dask cluster starts; a
``listen --port`` is never a terminal (it would listen until its duration)."""

import contextlib
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scenarios import SMALL

from amaradar.boards.registry import board_names
from amaradar.cli import main
from amaradar.spec.link import Plot, Status, encode

NUMBERS = ("-1", "0", "-0.0", "1e-320", "2.5", "1e6", "1e308", "1e400", "nan", "inf", "-inf",
           "", "x")
INTEGERS = ("-3", "0", "1", "2", "7", "9600", str(1 << 40), "1" * 400, "1.5", "", "x")
#: what a path option may name, made in each example's own folder by :func:`_world`
INPUTS = ("missing", "folder", "empty", "garbage", "valid", "")
OUTPUTS = ("fresh", "nested", "folder", "file", "under_file", "unwritable", "")
ROOT_UNWRITABLE = "/proc/amaradar-cli-fuzz"
STREAM = encode(Status(cpi=0, flags=0, preset=0, dropped_samples=0, dropped_cap=0,
                       dropped_full=0, range_bins=120, pulses=3, sample_rate=10_000_000,
                       pri=120, pulse_samples=16)) \
    + encode(Plot(cpi=0, range_pos=40 << 8, doppler_pos=1 << 8, power=50, threshold=9))
SWEEP = f'base = "scenario.toml"\nruns = 1\nfigures = ["pd"]\n[grid]\n"target.0.snr_db" = [3.0]\n'


def _world(root):
    """The files and folders the path options pick from."""
    (root / "folder").mkdir()
    (root / "folder" / "inside.txt").write_text("x")
    (root / "file.txt").write_text("x")
    (root / "empty").write_bytes(b"")
    (root / "garbage").write_bytes(b"\x00[[not toml\xff")
    (root / "scenario.toml").write_text(SMALL)
    (root / "stream.bin").write_bytes(STREAM)
    (root / "sweep.toml").write_text(SWEEP)


def _input(kind, valid):
    return {"missing": "no/such/file", "folder": "folder", "empty": "empty",
            "garbage": "garbage", "valid": valid, "": ""}[kind]


def _output(kind):
    return {"fresh": "out", "nested": "a/b/out", "folder": "folder", "file": "file.txt",
            "under_file": "file.txt/out", "unwritable": ROOT_UNWRITABLE, "": ""}[kind]


def _tree(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size if p.is_file() else None)
                  for p in root.rglob("*"))


def _names_an_option(line, argv):
    names = set()
    for token in argv[1:]:
        if token.startswith("--"):
            option, _, value = token.partition("=")
            bare = option[2:]
            names |= {option, bare, bare.replace("-", "_"), bare.replace("-", " ")}
        else:
            option, value = "", token
        if value:
            names |= {value, str(Path(value))}
    names |= {argv[0] + " file", "sweep file", "scenario file", "arguments", argv[0]}
    return any(name in line for name in names)


def _run(argv):
    """``amaradar *argv`` in a fresh folder holding :func:`_world`: its checks."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        root = Path(tmp)
        _world(root)
        before = _tree(root)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        message = err.getvalue()
        assert code in (0, 2), (argv, code, message)
        if code == 2:
            lines = message.splitlines()
            assert len(lines) == 1 and lines[0].startswith("amaradar: error: "), (argv, message)
            assert _names_an_option(lines[0], argv), (argv, message)
            assert _tree(root) == before, (argv, "wrote files before failing")
        assert not Path(ROOT_UNWRITABLE).exists()


def _options(draw, table):
    """``--name=value`` for a random subset of ``table`` (name -> strategy)."""
    argv = []
    for name, values in table.items():
        if draw(st.booleans()):
            value = draw(values)
            argv.append(name if value is None else f"{name}={value}")
    return argv


FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
numbers, integers = st.sampled_from(NUMBERS), st.sampled_from(INTEGERS)
inputs, outputs = st.sampled_from(INPUTS), st.sampled_from(OUTPUTS)


@st.composite
def sim_argv(draw):
    argv = ["sim", "--engine=reference", "--quiet",
            f"--scenario={_input(draw(inputs), 'scenario.toml')}"]
    argv += _options(draw, {
        "--out": outputs.map(_output), "--record": st.none(),
        "--iq": inputs.map(lambda k: _input(k, "missing.sigmf-meta")),
        "--iq-full-scale": numbers, "--asterix": outputs.map(_output),
        "--pcap": outputs.map(_output)})
    return argv


@st.composite
def verilog_argv(draw):
    return ["verilog", f"--scenario={_input(draw(inputs), 'scenario.toml')}",
            f"--out={_output(draw(outputs))}/chain.v" if draw(st.booleans())
            else f"--out={_output(draw(outputs))}"]


@st.composite
def build_argv(draw):
    board = draw(st.sampled_from([*board_names(), "", "ulx3s", "x" * 300]))
    bad_outputs = ("file", "under_file", "unwritable", "")
    out = draw(st.sampled_from(bad_outputs if board in board_names() else OUTPUTS))
    return ["build", f"--board={board}", f"--out={_output(out)}"]


@st.composite
def listen_argv(draw):
    source = draw(st.sampled_from(["port", "replay", "both", "neither"]))
    argv = ["listen"]
    if source in ("port", "both"):
        argv.append(f"--port={draw(st.sampled_from(['/dev/null', 'folder', 'file.txt', 'no/such', '']))}")
    if source in ("replay", "both"):
        argv.append(f"--replay={_input(draw(inputs), 'stream.bin')}")
    argv += _options(draw, {
        "--baud": integers, "--out": outputs.map(_output), "--sample-rate": numbers,
        "--pri": numbers, "--pulses": integers, "--carrier": numbers,
        "--asterix-udp": st.sampled_from(["127.0.0.1:9", "localhost:0", ":80", "x", "",
                                          "[::1]:70000", "host:-1"]),
        "--site": inputs.map(lambda k: _input(k, "scenario.toml")),
        "--simulated": st.none(), "--duration": numbers})
    return argv


@st.composite
def sweep_argv(draw):
    file = _input(draw(inputs), "sweep.toml")
    argv = ["sweep", file]
    argv += _options(draw, {"--scheduler": st.sampled_from(["", "x", "tcp://127.0.0.1:1"]),
                            "--workers": integers, "--out": outputs.map(_output),
                            "--engine": st.sampled_from(["reference", "rtl", "x"])})
    if file == "sweep.toml":         # a valid file: make sure no cluster starts
        argv.append(f"--workers={draw(st.sampled_from(['0', '-1', str(1 << 40)]))}")
    return argv


@FUZZ
@given(sim_argv())
def test_sim_options(argv):
    _run(argv)


@FUZZ
@given(verilog_argv())
def test_verilog_options(argv):
    _run(argv)


@FUZZ
@given(build_argv())
def test_build_options(argv):
    _run(argv)


@FUZZ
@given(listen_argv())
@example(["listen", "--replay=stream.bin", f"--pulses={'1' * 400}", "--pri=1"])  # overflowed
@example(["listen", "--replay=stream.bin", "--sample-rate=1e-320", "--carrier=1e-320"])
def test_listen_options(argv):
    _run(argv)


@FUZZ
@given(sweep_argv())
def test_sweep_options(argv):
    _run(argv)
