"""`amaradar listen --asterix-udp`: a board's reports, live, as ASTERIX datagrams to a real
UDP socket, equal byte for byte to what `amaradar sim --asterix` writes for the same
plots and tracks; bad addresses are one line, exit 2, nothing written."""

import io

import pyobelix
import pytest

from amaradar.cli import main
from amaradar.host.listen import run_listen
from amaradar.host.site import Site
from link_streams import SCENARIO, builtin_plots_and_tracks, link_stream
from udp_datagrams import received, receiver  # noqa: F401 (a fixture)


def _listen_datagrams(tmp_path, receiver, stdout=None, **options):
    (tmp_path / "link.bin").write_bytes(link_stream(*builtin_plots_and_tracks()))
    port = receiver.getsockname()[1]
    assert run_listen(replay=tmp_path / "link.bin", out_dir=tmp_path / "listen",
                      stdout=stdout or io.StringIO(), asterix_udp=f"127.0.0.1:{port}",
                      site=Site(), simulated=True, **options) == 0
    return received(receiver)


def test_datagrams_equal_what_sim_writes(tmp_path, receiver):
    """Given the LFM's carrier and bandwidth, listen corrects the tracked plots' range
    for the coupling as sim does; without them the corrected plots differ."""
    ast = tmp_path / "sim.ast"
    assert main(["sim", "--engine", "reference", "--out", str(tmp_path / "sim"), "--quiet",
                 "--asterix", str(ast)]) == 0
    r = SCENARIO.radar
    stdout = io.StringIO()
    datagrams = _listen_datagrams(tmp_path, receiver, stdout, carrier=r.carrier_hz,
                                  bandwidth=r.bandwidth_hz)
    assert len(datagrams) == SCENARIO.radar.cpis
    assert b"".join(datagrams) == ast.read_bytes()
    uncorrected = _listen_datagrams(tmp_path, receiver)
    assert len(uncorrected) == len(datagrams) and uncorrected != datagrams
    records = list(pyobelix.iter_records(b"".join(datagrams), strict=True))
    assert [r["cat"] for r in records].count(34) == SCENARIO.radar.cpis + 1   # + configuration
    assert f"ASTERIX datagrams sent {SCENARIO.radar.cpis:>6}   CPIs unsent    0" in stdout.getvalue()


def test_a_cpi_before_the_timing_is_known_is_counted_not_sent(tmp_path, receiver):
    plots, tracks = builtin_plots_and_tracks()
    stream = link_stream(plots, tracks)
    first_status = len(link_stream({"cpi": []}, {"cpi": []}))
    (tmp_path / "link.bin").write_bytes(stream[first_status:])      # no status frame at all
    stdout = io.StringIO()
    run_listen(replay=tmp_path / "link.bin", out_dir=tmp_path, stdout=stdout,
               asterix_udp=f"127.0.0.1:{receiver.getsockname()[1]}", site=Site())
    assert received(receiver) == []
    assert f"CPIs unsent {SCENARIO.radar.cpis:>4}" in stdout.getvalue()


@pytest.mark.parametrize("address, message", [
    ("localhost", "asterix-udp must be HOST:PORT with a port from 1 to 65535, not 'localhost'"),
    ("127.0.0.1:0", "asterix-udp must be HOST:PORT with a port from 1 to 65535, not '127.0.0.1:0'"),
    ("127.0.0.1:70000", "with a port from 1 to 65535, not '127.0.0.1:70000'"),
    (":8600", "asterix-udp must be HOST:PORT with a port from 1 to 65535, not ':8600'"),
    ("no-such-host.invalid:8600", "asterix-udp host 'no-such-host.invalid' cannot be resolved"),
])
def test_bad_addresses_are_one_line_exit_2_nothing_written(tmp_path, capsys, address, message):
    (tmp_path / "link.bin").write_bytes(link_stream({"cpi": []}, {"cpi": []}))
    out = tmp_path / "out"
    assert main(["listen", "--replay", str(tmp_path / "link.bin"), "--out", str(out),
                 "--asterix-udp", address]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("options, message", [
    (["--asterix-udp", "127.0.0.1:8600", "--bandwidth", "5e6"], "bandwidth needs asterix-udp and carrier"),
    (["--carrier", "435e6", "--bandwidth", "5e6"], "bandwidth needs asterix-udp and carrier"),
    (["--asterix-udp", "127.0.0.1:8600", "--carrier", "435e6", "--bandwidth", "-1"],
     "bandwidth must be from 1 to 1e+12 Hz, not -1.0"),
])
def test_bad_bandwidth_is_one_line(tmp_path, capsys, options, message):
    (tmp_path / "link.bin").write_bytes(b"")
    assert main(["listen", "--replay", str(tmp_path / "link.bin"), "--out", str(tmp_path / "o"),
                 *options]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_bad_site_file_is_one_line(tmp_path, capsys):
    (tmp_path / "site.toml").write_text("[site]\nsac = 300\n")
    (tmp_path / "link.bin").write_bytes(b"")
    assert main(["listen", "--replay", str(tmp_path / "link.bin"), "--out", str(tmp_path / "o"),
                 "--asterix-udp", "127.0.0.1:8600", "--site", str(tmp_path / "site.toml")]) == 2
    err = capsys.readouterr().err
    assert "site.sac" in err and err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_a_lost_plot_frame_does_not_stop_the_stream(tmp_path, receiver):
    """A damaged plot frame in CPI 0: that CPI's tracks go out in records of their own
    (the plot indices they name can no longer be trusted), every CPI is still sent,
    and the datagrams decode."""
    plots, tracks = builtin_plots_and_tracks()
    stream = bytearray(link_stream(plots, tracks))
    first_plot = len(link_stream({"cpi": []}, {"cpi": []}))
    stream[first_plot + 8] ^= 0x01                       # inside CPI 0's first plot frame
    (tmp_path / "link.bin").write_bytes(bytes(stream))
    stdout = io.StringIO()
    assert run_listen(replay=tmp_path / "link.bin", out_dir=tmp_path, stdout=stdout,
                      asterix_udp=f"127.0.0.1:{receiver.getsockname()[1]}", site=Site()) == 0
    datagrams = received(receiver)
    assert len(datagrams) == SCENARIO.radar.cpis
    records = [r for r in pyobelix.iter_records(b"".join(datagrams), strict=True)
               if r["cat"] == 48]
    survivors = int((plots["cpi"] == 0).sum()) - 1      # CPI 0's plots that arrived
    assert len(records) == len(tracks["cpi"]) + survivors
    assert "CRC errors      1" in stdout.getvalue()
