"""The status frame says a reset happened, and ``amaradar listen`` counts the resets."""

import io

from amaradar.host.listen import run_listen
from amaradar.spec.link import Status, encode
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
