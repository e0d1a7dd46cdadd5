"""The status frame says a reset happened, and ``amaradar listen`` counts the resets
and keeps the session's time running forwards across them."""

import csv
import io

import pytest

from amaradar.host.listen import run_listen
from amaradar.spec.link import Detection, Status, encode
from amaradar.spec.records import RESET_FLAG, STATUS_FLAGS


def _status(cpi, flags):
    return encode(Status(cpi=cpi, flags=flags, preset=0, dropped_samples=0, dropped_cap=0,
                         dropped_full=0, range_bins=100, pulses=4, sample_rate=10_000_000,
                         pri=100, pulse_samples=8))


def test_reset_is_the_flag_after_the_overflow_flags():
    assert STATUS_FLAGS[-1] == "reset" and RESET_FLAG == 1 << (len(STATUS_FLAGS) - 1) < 256


def test_listen_counts_the_resets_it_sees(tmp_path):
    # power-up, two CPIs, a reset in the middle of CPI 2 (the board starts again at CPI 0)
    link = b"".join([_status(0, RESET_FLAG | 1), _status(1, 1), _status(2, 1),
                     _status(0, RESET_FLAG), _status(1, 0)])
    (tmp_path / "link.bin").write_bytes(link)
    stdout = io.StringIO()
    run_listen(replay=tmp_path / "link.bin", out_dir=tmp_path / "out", stdout=stdout)
    table = stdout.getvalue().split("amaradar listen")[-1]
    assert "status frames      5   resets    2" in table


def test_time_goes_on_after_a_reset(tmp_path):
    """CPIs 0-2, a reset in CPI 2, CPIs 0-1 again: the rows keep the board's CPI numbers
    and their times go on from the CPI after the last one heard (session CPIs 3, 4)."""
    def cpi(number, flags=0):
        return _status(number, flags) + encode(Detection(cpi=number, pulse=1, range_bin=50,
                                                         power=900, threshold=100))
    link = b"".join([cpi(0, RESET_FLAG), cpi(1), cpi(2), cpi(0, RESET_FLAG), cpi(1)])
    (tmp_path / "link.bin").write_bytes(link)
    run_listen(replay=tmp_path / "link.bin", out_dir=tmp_path / "out", stdout=io.StringIO())
    with open(tmp_path / "out" / "detections.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["cpi"]) for r in rows] == [0, 1, 2, 0, 1]
    pri_s = 100 / 10e6                                   # pri 100 sample periods at 10 MHz
    assert [float(r["time_s"]) for r in rows] == \
        pytest.approx([(session * 4 + 1) * pri_s for session in range(5)], rel=1e-12)
