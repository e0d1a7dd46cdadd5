import csv
import io
import math
import os
import threading
import time

import pytest

from amaradar.spec.link import Detection, Status, encode
from amaradar.spec.physics import SPEED_OF_LIGHT
from amaradar.host.writers.rows import DETECTION_CSV_COLUMNS
from amaradar.host.listen import ListenError, run_listen

STATUS = Status(cpi=0xFFFF, flags=0x03, preset=2, dropped_samples=2, dropped_cap=5,
                dropped_full=1, range_bins=256, pulses=32, sample_rate=10_000_000, pri=2000,
                pulse_samples=5)
DETECTIONS = [Detection(0xFFFF, 3, 100, 1000, 10), Detection(0, 1, 255, 0, 1),
              Detection(1, 31, 7, 10**12, 10**11)]


def _rows(out_dir):
    with open(out_dir / "detections.csv", newline="") as f:
        return list(csv.reader(f))


def test_replay_end_to_end(tmp_path):
    """Garbage and a damaged frame among good ones; parameters from the status frame."""
    damaged = bytearray(encode(Detection(9, 9, 9, 9, 9)))
    damaged[10] ^= 0x40
    data = (b"\x00\xeb\x90junk" + encode(DETECTIONS[0]) + encode(STATUS) + bytes(damaged)
            + encode(DETECTIONS[1]) + encode(DETECTIONS[2]) + encode(STATUS)[:7])
    (tmp_path / "cap.bin").write_bytes(data)
    stdout = io.StringIO()
    assert run_listen(replay=tmp_path / "cap.bin", out_dir=tmp_path / "out", stdout=stdout) == 0
    rows = _rows(tmp_path / "out")
    assert rows[0] == list(DETECTION_CSV_COLUMNS)
    assert [r[:2] + r[4:5] for r in rows[1:]] == [["65535", "3", "100"], ["0", "1", "255"], ["1", "31", "7"]]
    # Before the first status frame the radar parameters are unknown.
    assert rows[1][2:4] == ["", ""] and rows[1][5:] == ["30.000", "10.000"]
    # CPI 0 after 65535 is CPI 65536 of the session: time = (65536 * 32 + 1) * 2000 / 10 MHz.
    assert float(rows[2][2]) == pytest.approx((65536 * 32 + 1) * 2e-4, rel=1e-9)
    # The matched filter's delay of N - 1 = 4 samples is removed.
    assert rows[2][3] == f"{SPEED_OF_LIGHT / 2 * (255 - 4) / 1e7:.3f}" == "3762.395"
    assert rows[2][5] == "-inf"
    assert float(rows[3][5]) == pytest.approx(120.0) and float(rows[3][6]) == pytest.approx(110.0)
    table = stdout.getvalue()
    assert "CRC errors      1" in table
    assert "detection frames        3   status frames      1" in table
    assert "dropped: cap 5, queue full 1" in table and "preset 2  flags 0x03" in table
    assert "PRI 2000 samples  pulse 5 samples" in table


def test_options_override_status_and_fill_in_before_it(tmp_path):
    (tmp_path / "cap.bin").write_bytes(encode(DETECTIONS[0]) + encode(STATUS) + encode(DETECTIONS[2]))
    run_listen(replay=tmp_path / "cap.bin", out_dir=tmp_path, stdout=io.StringIO(),
               sample_rate=1e6, pri=1e-3)
    rows = _rows(tmp_path)
    # pulses and the pulse length still come from the status frame, so the first
    # row has neither time nor range.
    assert rows[1][2:4] == ["", ""]
    assert float(rows[2][2]) == pytest.approx((65537 * 32 + 31) * 1e-3)
    assert rows[2][3] == f"{SPEED_OF_LIGHT / 2 * (7 - 4) / 1e6:.3f}"


def test_empty_and_garbage_replays_exit_zero(tmp_path):
    for name, data in (("empty.bin", b""), ("noise.bin", os.urandom(3000))):
        (tmp_path / name).write_bytes(data)
        assert run_listen(replay=tmp_path / name, out_dir=tmp_path / name[:-4],
                          stdout=io.StringIO()) == 0
        assert _rows(tmp_path / name[:-4]) == [list(DETECTION_CSV_COLUMNS)]


def test_serial_port_live(tmp_path):
    """A pseudo-terminal stands in for the UART: bytes written in pieces while listening."""
    master, slave = os.openpty()
    data = encode(STATUS) + b"".join(encode(d) for d in DETECTIONS)

    def writer():
        # Write once listen has opened and configured the port: setting the line
        # discipline flushes what is pending, as on a real UART.
        time.sleep(0.5)
        for k in range(0, len(data), 10):
            os.write(master, data[k:k + 10])

    thread = threading.Thread(target=writer)
    thread.start()
    stdout = io.StringIO()
    try:
        assert run_listen(port=os.ttyname(slave), baud=115200, out_dir=tmp_path, stdout=stdout,
                          duration=2.0, refresh=0.2) == 0
    finally:
        thread.join()
        os.close(master)
        os.close(slave)
    rows = _rows(tmp_path)
    assert len(rows) == 4 and rows[1][:2] == ["65535", "3"]
    assert "status frames      1" in stdout.getvalue()


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give either a serial port or a replay file"),
    ({"port": "/dev/ttyS0", "replay": "x.bin"}, "give a serial port or a replay file, not both"),
    ({"port": "/dev/amaradar-no-such-port"}, "serial port /dev/amaradar-no-such-port does not exist"),
    ({"port": "/dev/null"}, "/dev/null is not a serial port"),
    ({"port": "/dev/null", "baud": 123}, "baud rate 123 is not one the serial driver supports"),
    ({"replay": "/nonexistent/cap.bin"}, "replay file /nonexistent/cap.bin does not exist"),
    ({"replay": "cap.bin", "sample_rate": -1}, "sample_rate must be from 1 to 1e+12 Hz, not -1"),
    ({"replay": "cap.bin", "sample_rate": 1e-320}, "sample_rate must be from 1 to 1e+12 Hz, not 1e-320"),
    ({"replay": "cap.bin", "pri": math.inf}, "pri must be from 1e-09 to 3600 seconds, not inf"),
    ({"replay": "cap.bin", "pulses": 0}, "pulses must be an integer from 1 to 65535, not 0"),
    ({"replay": "cap.bin", "pulses": 10 ** 400}, f"pulses must be an integer from 1 to 65535, not {10 ** 400}"),
    ({"replay": "cap.bin", "carrier": 0.0}, "carrier must be from 1 to 1e+13 Hz, not 0.0"),
    ({"replay": "cap.bin", "baud": -5}, "baud must be a positive whole number, not -5"),
    ({"replay": "cap.bin", "duration": -1}, "duration must be a positive number of seconds, not -1"),
])
def test_bad_input_is_one_clear_error(tmp_path, monkeypatch, kwargs, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cap.bin").write_bytes(encode(STATUS))
    with pytest.raises(ListenError) as info:
        run_listen(out_dir=tmp_path / "out", stdout=io.StringIO(), **kwargs)
    assert str(info.value) == message
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder(tmp_path):
    (tmp_path / "cap.bin").write_bytes(encode(STATUS))
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ListenError) as info:
        run_listen(replay=tmp_path / "cap.bin", out_dir=tmp_path / "file" / "out", stdout=io.StringIO())
    assert str(info.value) == f"cannot write {tmp_path / 'file' / 'out' / 'detections.csv'}: Not a directory"
