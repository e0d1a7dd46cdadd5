"""``amaradar centre`` on files and on a real UDP socket; bad options."""

import csv
import json
import socket
import threading
import time

import pytest

from amaradar.cli import main
from amaradar.host.asterix import write_ast
from amaradar.host.feed_auth import FeedSealer, load_key, seal, write_new_key
from test_centre import SITES, THREE, feeds, truth


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    for name, datagrams in feeds(THREE).items():
        write_ast(folder / f"{name}.ast", datagrams)
    (folder / "sites.json").write_text(json.dumps([s.as_dict() | {"enu_m": [0, 0, 0]}
                                                   for s in SITES]))
    rows = truth(THREE)
    with open(folder / "truth.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def args(folder, out, *extra):
    return ["centre", "--sites", str(folder / "sites.json"), "--feed",
            f"north={folder / 'north.ast'}", "--feed", f"south={folder / 'south.ast'}",
            "--truth", str(folder / "truth.csv"), "--out", str(out), *extra]


def test_files(inputs, tmp_path):
    assert main(args(inputs, tmp_path / "out", "--rule", "both")) == 0
    report = json.loads((tmp_path / "out" / "centre" / "report.json").read_text())
    assert report["system_tracks"] == 3 and report["rule"] == "both"
    assert all(t["rms_error_m"] <= 150 for t in report["score"]["targets"])
    assert report["sites"]["north"]["track_reports"] > 0
    assert (tmp_path / "out" / "centre" / "map.png").stat().st_size > 10_000
    # CAT062: one record per row of system_tracks.csv, decoded by libasterix
    with open(tmp_path / "out" / "centre" / "system_tracks.csv") as f:
        rows = list(csv.DictReader(f))
    records = cat062_records(tmp_path / "out")
    assert len(records) == len(rows)
    first, row = records[0], rows[0]
    assert first.get_item("040").as_uint() == int(row["system_track_id"])
    x = first.get_item("100").variation.get_item("X").as_uint()
    assert abs((x - (1 << 24) if x >= 1 << 23 else x) * 0.5 - float(row["east_m"])) <= 0.25
    assert [status(r, "MON") for r in records] == [int("+" not in r["sites"]) for r in rows]


def cat062_records(out):
    import asterix.generated as gen
    from asterix.base import Bits, RawDatablock
    blocks = RawDatablock.parse(Bits.from_bytes((out / "centre" / "cat062.ast").read_bytes()))
    return [r for b in blocks for r in gen.Cat_062_1_21.cv_uap.parse(b.get_raw_records())]


def status(record, name):
    """A subfield of the record's I062/080 track status."""
    return record.get_item("080").variation.get_item(name).as_uint()


@pytest.mark.parametrize("simulated", [True, False])
def test_cat062_sim_follows_the_sites_reports(tmp_path, simulated):
    """I062/080 SIM is set on a system track built on reports the sites marked
    simulated (I048/020 SIM), and clear on one built on live reports."""
    for name, datagrams in feeds(THREE, simulated=simulated).items():
        write_ast(tmp_path / f"{name}.ast", datagrams)
    (tmp_path / "sites.json").write_text(json.dumps([s.as_dict() for s in SITES]))
    assert main(["centre", "--sites", str(tmp_path / "sites.json"),
                 "--feed", f"north={tmp_path / 'north.ast'}",
                 "--feed", f"south={tmp_path / 'south.ast'}", "--out", str(tmp_path / "out")]) == 0
    records = cat062_records(tmp_path / "out")
    assert records and {status(r, "SIM") for r in records} == {int(simulated)}


def test_sites_as_toml_files_and_as_a_named_table(inputs, tmp_path):
    names = []
    for site in SITES:
        table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in site.as_dict().items()
                          if k != "name")
        (tmp_path / f"{site.name}.toml").write_text(f"[site]\n{table}\n")
        names += ["--site", f"{site.name}={tmp_path / (site.name + '.toml')}"]
    common = ["--feed", f"north={inputs / 'north.ast'}", "--feed", f"south={inputs / 'south.ast'}"]
    assert main(["centre", *names, *common, "--out", str(tmp_path / "a")]) == 0
    (tmp_path / "named.json").write_text(json.dumps({s.name: s.as_dict() for s in SITES}))
    assert main(["centre", "--sites", str(tmp_path / "named.json"), *common,
                 "--out", str(tmp_path / "b")]) == 0
    for out in ("a", "b"):
        report = json.loads((tmp_path / out / "centre" / "report.json").read_text())
        assert report["system_tracks"] == 3


@pytest.mark.parametrize("extra, message", [
    (("--rule", "most"), "rule 'most' is not known"),
    (("--rule", "k_of_n:3"), "K must be from 1 to 2"),
    (("--closing-speed", "-1"), "closing_mps must be a finite number > 0"),
    (("--feed", "east=x.ast"), "no site 'east'"),
    (("--udp", "localhost:0"), "--udp and --duration go together"),
])
def test_bad_options_exit_2_and_write_nothing(inputs, tmp_path, capsys, extra, message):
    assert main(args(inputs, tmp_path / "out", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_udp_with_corrupt_and_foreign_datagrams(inputs, tmp_path):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    data = feeds(THREE)
    foreign = bytes(data["north"][1])
    foreign = foreign.replace(bytes([1, 1]), bytes([9, 9]))       # SAC/SIC of no site
    junk = [b"\x30\xff", b"\x30\x00\x10" + bytes(5), foreign]

    def send():
        time.sleep(0.5)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i, datagrams in enumerate(zip(data["north"], data["south"])):
                for d in datagrams:
                    s.sendto(d, ("127.0.0.1", port))
                if i < len(junk):
                    s.sendto(junk[i], ("127.0.0.1", port))
                if i % 20 == 0:
                    time.sleep(0.01)

    sender = threading.Thread(target=send)
    sender.start()
    code = main(["centre", "--sites", str(inputs / "sites.json"), "--udp", f"127.0.0.1:{port}",
                 "--duration", "3", "--truth", str(inputs / "truth.csv"),
                 "--out", str(tmp_path)])
    sender.join()
    assert code == 0
    report = json.loads((tmp_path / "centre" / "report.json").read_text())
    assert report["rejected"].get("undecodable", 0) >= 2
    assert report["rejected"].get("foreign source", 0) >= 1
    assert report["system_tracks"] == 3
    assert all(t["rms_error_m"] <= 150 for t in report["score"]["targets"])


def test_udp_sealed_feeds_drop_forged_replayed_corrupt_and_foreign(inputs, tmp_path):
    """With --keys only datagrams sealed with a site's key are fused; forged (a wrong
    key), replayed, corrupt and foreign (a site with no key) ones are counted and dropped."""
    keys = tmp_path / "keys"
    keys.mkdir()
    site_keys = {}
    for site in SITES:
        path = keys / f"{site.sac}-{site.sic}.key"
        write_new_key(path)
        site_keys[site.name] = ((site.sac, site.sic), load_key(path))
    write_new_key(tmp_path / "other.key")
    wrong = load_key(tmp_path / "other.key")
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    data = feeds(THREE)
    sealers = {name: FeedSealer(site, key, first_sequence=1000)
               for name, (site, key) in site_keys.items()}
    bad = 4

    def send():
        time.sleep(0.5)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i, pair in enumerate(zip(data["north"], data["south"])):
                for name, d in zip(("north", "south"), pair):
                    sealed = sealers[name].seal(bytes(d))
                    s.sendto(sealed, ("127.0.0.1", port))
                    if i < bad and name == "north":
                        site = site_keys[name][0]
                        s.sendto(sealed, ("127.0.0.1", port))                      # replayed
                        s.sendto(seal(site, 10**9 + i, bytes(d), wrong), ("127.0.0.1", port))
                        s.sendto(sealed[:-1], ("127.0.0.1", port))                 # corrupt
                        s.sendto(seal((9, 9), i, bytes(d), wrong), ("127.0.0.1", port))
                if i % 20 == 0:
                    time.sleep(0.01)

    sender = threading.Thread(target=send)
    sender.start()
    code = main(["centre", "--sites", str(inputs / "sites.json"), "--udp", f"127.0.0.1:{port}",
                 "--duration", "3", "--keys", str(keys), "--truth", str(inputs / "truth.csv"),
                 "--out", str(tmp_path / "out")])
    sender.join()
    assert code == 0
    report = json.loads((tmp_path / "out" / "centre" / "report.json").read_text())
    assert report["rejected"] == {"replayed": bad, "forged": bad, "corrupt": bad, "foreign": bad}
    assert report["system_tracks"] == 3
    assert all(t["rms_error_m"] <= 150 for t in report["score"]["targets"])


def test_keys_need_udp_and_a_good_folder(inputs, tmp_path, capsys):
    assert main(args(inputs, tmp_path / "out", "--keys", str(tmp_path))) == 2
    assert "--keys goes with --udp" in capsys.readouterr().err
    assert main(["centre", "--sites", str(inputs / "sites.json"), "--udp", "127.0.0.1:0",
                 "--duration", "1", "--keys", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("amaradar: error: --keys") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
