"""ASTERIX datagrams in a pcap file: read back by dpkt and by a tiny reader of our own
(headers and checksums checked), and opened as ASTERIX by Wireshark's tshark."""

import shutil
import struct
import subprocess

import numpy as np
import pyobelix
import pytest

from amaradar.host.asterix import asterix_records
from amaradar.host.pcap import ASTERIX_PORT, read_pcap, udp_frame, write_pcap
from amaradar.host.site import parse_site
from amaradar.sim.world.scenario import parse_scenario

SCENARIO = parse_scenario({
    "radar": {"sample_rate_hz": 10e6, "bandwidth_hz": 5e6, "pulse_width_s": 10e-6,
              "pri_s": 1e-3, "carrier_hz": 435e6, "pulses_per_cpi": 16, "cpis": 4,
              "adc_bits": 12, "noise_seed": 1, "waveform": "lfm"},
    "cfar": {"reference_cells": 16, "guard_cells": 3, "pfa": 1e-6},
})
SITE = parse_site({"sac": 1, "sic": 2, "azimuth_deg": 45, "start_utc": "2026-02-03T04:05:06.5Z"})


@pytest.fixture(scope="module")
def datagrams():
    rng = np.random.default_rng(1)
    count = 50
    det = {"cpi": np.sort(rng.integers(0, 4, count)), "pulse": rng.integers(0, 16, count),
           "range_bin": rng.integers(99, 10000, count), "threshold": rng.integers(1, 1000, count)}
    det["power"] = det["threshold"] * 20
    return asterix_records(SCENARIO, SITE, det, "detections", simulated=True)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def tiny_reader(path):
    """A pcap reader of our own: checks every header on the way to the UDP payloads."""
    blob = path.read_bytes()
    magic, major, minor, _, _, snaplen, linktype = struct.unpack("<IHHiIII", blob[:24])
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 1)      # Ethernet
    offset, out = 24, []
    while offset < len(blob):
        sec, usec, caplen, length = struct.unpack("<IIII", blob[offset:offset + 16])
        frame = blob[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        assert caplen == length == len(frame)
        assert frame[12:14] == b"\x08\x00"                                  # IPv4
        ip = frame[14:]
        assert ip[0] == 0x45 and ip[9] == 17                               # no options, UDP
        assert struct.unpack("!H", ip[2:4])[0] == len(ip)
        assert ip[6] & 0x40                                                 # don't fragment
        assert checksum(ip[:20]) == 0xFFFF
        udp = ip[20:]
        sport, dport, ulen, _ = struct.unpack("!HHHH", udp[:8])
        assert (sport, dport, ulen) == (ASTERIX_PORT, ASTERIX_PORT, len(udp))
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, ulen)
        assert checksum(pseudo + udp) == 0xFFFF
        out.append((sec + usec * 1e-6, udp[8:]))
    return out


def test_pcap_gives_back_the_datagrams(tmp_path, datagrams):
    path = tmp_path / "run.pcap"
    write_pcap(path, datagrams, datagrams.timestamps)
    for got in (read_pcap(path), tiny_reader(path)):
        assert [payload for _, payload in got] == list(datagrams)
        assert np.allclose([ts for ts, _ in got], datagrams.timestamps, rtol=0, atol=1e-6)
    assert read_pcap(path, port=8601) == []


def test_addresses_and_ports():
    frame = udp_frame(b"\x30\x00\x03", src="10.1.2.3", dst="239.1.2.3", port=9000)
    assert frame[:6] == bytes([0x01, 0x00, 0x5E, 0x01, 0x02, 0x03])        # IPv4 multicast MAC
    assert frame[6:12] == bytes([0x02, 0x00, 10, 1, 2, 3])
    assert frame[26:34] == bytes([10, 1, 2, 3, 239, 1, 2, 3])
    assert struct.unpack("!HH", frame[34:38]) == (9000, 9000)
    assert frame[42:] == b"\x30\x00\x03"


@pytest.mark.parametrize("call, message", [
    (lambda p: write_pcap(p, [b"x"], []), "one timestamp per datagram: 1 datagrams, 0 timestamps"),
    (lambda p: write_pcap(p, [b"x"], [0.0], dst="192.0.2.256"),
     "dst must be an IPv4 address, not '192.0.2.256'"),
    (lambda p: write_pcap(p, [b"x"], [0.0], port=0), "port must be between 1 and 65535, not 0"),
    (lambda p: write_pcap(p, [bytes(65508)], [0.0]),
     "a datagram must hold at most 65507 bytes, not 65508"),
])
def test_bad_arguments(tmp_path, call, message):
    with pytest.raises(ValueError) as e:
        call(tmp_path / "x.pcap")
    assert str(e.value) == message
    assert not (tmp_path / "x.pcap").exists()


@pytest.mark.skipif(shutil.which("tshark") is None, reason="Wireshark's tshark is not installed")
def test_wireshark_opens_it_as_asterix(tmp_path, datagrams):
    path = tmp_path / "run.pcap"
    write_pcap(path, datagrams, datagrams.timestamps)
    fields = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.protocols",
         "-e", "asterix.category", "-e", "asterix.048_040_RHO"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(fields) == len(datagrams) == 4
    rho = []
    for line in fields:
        protocols, categories, values = line.split("\t")
        assert protocols == "eth:ethertype:ip:udp:asterix"
        assert categories == "34,48"
        rho += [float(v) for v in values.split(",") if v]
    decoded = [r for r in pyobelix.iter_records(b"".join(datagrams)) if r["cat"] == 48]
    assert rho == [r["rho"] for r in decoded] and len(rho) == 50
    bad = subprocess.run(["tshark", "-r", str(path), "-Y", "_ws.malformed || _ws.expert"],
                         capture_output=True, text=True, check=True).stdout
    assert bad == ""


@pytest.mark.skipif(shutil.which("tshark") is None, reason="Wireshark's tshark is not installed")
def test_wireshark_reads_track_numbers(tmp_path):
    plots = {"cpi": [0, 1], "range_pos": [3000 * 256, 2990 * 256], "power": [100, 100],
             "threshold": [10, 10]}
    tracks = {"cpi": [0, 1, 1], "track_id": [7, 7, 4097], "status": [0, 1, 2],
              "range_pos": [3000 * 256, 2990 * 256, 500 * 256], "range_rate": [0, -300000, 9000],
              "plot": [1, 1, 0]}
    datagrams = asterix_records(SCENARIO, SITE, plots, "plots", tracks=tracks)
    path = tmp_path / "tracks.pcap"
    write_pcap(path, datagrams, datagrams.timestamps)
    fields = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "asterix.048_161_TRN"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert fields == ["7", "7,1"]
