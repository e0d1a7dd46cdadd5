"""`amaradar listen` on a range-Doppler link: plot and track frames become the rows
`amaradar sim` writes for the same plots and tracks, string for string."""

import io

import pytest

from amaradar.cli import main
from amaradar.host.listen import run_listen
from amaradar.spec.link import Detection, encode
from link_streams import SCENARIO, builtin_plots_and_tracks, link_stream


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """The reference run of the built-in scenario, and its plots and tracks."""
    out = tmp_path_factory.mktemp("sim")
    assert main(["sim", "--engine", "reference", "--out", str(out), "--quiet"]) == 0
    return (out, *builtin_plots_and_tracks())


def test_rows_equal_what_sim_writes(tmp_path, sim):
    out, plots, tracks = sim
    (tmp_path / "link.bin").write_bytes(link_stream(plots, tracks))
    stdout = io.StringIO()
    assert run_listen(replay=tmp_path / "link.bin", out_dir=tmp_path / "got", stdout=stdout,
                      carrier=SCENARIO.radar.carrier_hz) == 0
    for name in ("detections.csv", "tracks.csv"):
        assert (tmp_path / "got" / name).read_text() == (out / name).read_text(), name
    assert f"plot frames {len(plots['cpi']):>13}   track frames {len(tracks['cpi']):>7}" \
        in stdout.getvalue()


def test_without_the_carrier_the_plot_velocity_is_empty(tmp_path, sim):
    _, plots, tracks = sim
    (tmp_path / "link.bin").write_bytes(link_stream(plots, tracks))
    run_listen(replay=tmp_path / "link.bin", out_dir=tmp_path, stdout=io.StringIO())
    rows = (tmp_path / "detections.csv").read_text().splitlines()
    assert len(rows) == 1 + len(plots["cpi"])
    assert all(row.split(",")[4] == "" and row.split(",")[3] != "" for row in rows[1:])


def test_a_damaged_track_frame_is_lost_and_counted_the_rest_written(tmp_path, sim):
    out, plots, tracks = sim
    (tmp_path / "link.bin").write_bytes(link_stream(plots, tracks, damage=5) +
                                        encode(Detection(1, 2, 3, 4, 5)))
    stdout = io.StringIO()
    run_listen(replay=tmp_path / "link.bin", out_dir=tmp_path, stdout=stdout,
               carrier=SCENARIO.radar.carrier_hz)
    expect = (out / "tracks.csv").read_text().splitlines()
    assert (tmp_path / "tracks.csv").read_text().splitlines() == expect[:6] + expect[7:]
    table = stdout.getvalue()
    assert "CRC errors      1" in table and "skipped (other chain's kind) 1" in table
    assert (tmp_path / "detections.csv").read_text() == (out / "detections.csv").read_text()
