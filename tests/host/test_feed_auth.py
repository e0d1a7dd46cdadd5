"""Authenticated site feeds (`amaradar.host.feed_auth`): the envelope round-trips; each
rejection reason is given and counted; no flipped bit, no byte string at all, is ever
accepted unless it was sent; the replay window accepts late datagrams once; over a real
UDP socket exactly the good datagrams of a mixed stream are accepted; key files are
checked in one line and `amaradar keygen` never overwrites."""

import os
import socket
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amaradar.cli import main
from amaradar.host.asterix import MAX_DATAGRAM
from amaradar.host.feed_auth import (HEADER_BYTES, MAC_BYTES, OVERHEAD_BYTES, Accepted,
                                     FeedKeyError, FeedSealer, FeedVerifier, Rejection,
                                     load_key, load_key_folder, seal, write_new_key)
from link_streams import SCENARIO, builtin_plots_and_tracks, link_stream
from udp_datagrams import received, receiver  # noqa: F401 (a fixture)

NORTH, SOUTH, STRANGER = (25, 1), (25, 2), (7, 7)
KEYS = {NORTH: bytes(range(32)), SOUTH: bytes(range(100, 140))}
WRONG_KEY = bytes(range(1, 33))


def test_round_trip():
    payload = b"\x30\x00\x10" + bytes(range(13))
    datagram = seal(NORTH, 12345, payload, KEYS[NORTH])
    assert len(datagram) == len(payload) + OVERHEAD_BYTES == len(payload) + HEADER_BYTES + MAC_BYTES
    assert datagram[HEADER_BYTES:-MAC_BYTES] == payload
    verifier = FeedVerifier(KEYS)
    assert verifier.verify(datagram) == Accepted(NORTH, 12345, payload)
    assert verifier.counts["accepted"] == 1 and verifier.site_counts[NORTH]["accepted"] == 1


def test_sealer_numbers_from_now_in_microseconds_and_counts_up():
    sealer = FeedSealer(NORTH, KEYS[NORTH])
    first = sealer.next_sequence
    later = FeedSealer(NORTH, KEYS[NORTH])       # a restart: its numbers lie above the first's
    verifier = FeedVerifier(KEYS)
    got = [verifier.verify(sealer.seal(bytes([i]))) for i in range(3)]
    assert [a.sequence for a in got] == [first, first + 1, first + 2]
    assert later.next_sequence >= first
    assert 1.7e15 < first < 1e17                  # microseconds since 1970, not 0


def _reasons(datagrams, keys=KEYS, window=8):
    verifier = FeedVerifier(keys, window=window)
    return [v if isinstance(v, Rejection) else "accepted"
            for v in map(verifier.verify, datagrams)], verifier


def test_each_rejection_reason_is_given_and_counted():
    good = seal(NORTH, 100, b"plot", KEYS[NORTH])
    wrong_version = bytearray(seal(NORTH, 101, b"plot", KEYS[NORTH]))
    wrong_version[3] = 2
    sent = [
        good,
        good[:OVERHEAD_BYTES - 1],                              # too short
        b"XYZ" + good[3:],                                      # bad magic
        bytes(wrong_version),                                   # unknown version
        good + b"\x00",                                         # length does not match
        seal(STRANGER, 100, b"plot", KEYS[NORTH]),              # no key for this site
        seal(SOUTH, 100, b"plot", WRONG_KEY),                   # right site, wrong key
        good,                                                   # again
        seal(NORTH, 120, b"plot", KEYS[NORTH]),                 # moves the window up to 120
        seal(NORTH, 112, b"plot", KEYS[NORTH]),                 # 8 below: outside a window of 8
        seal(NORTH, 113, b"plot", KEYS[NORTH]),                 # 7 below: late but inside
        seal(NORTH, 113, b"plot", KEYS[NORTH]),                 # ... once only
    ]
    reasons, verifier = _reasons(sent)
    assert reasons == ["accepted", "corrupt", "corrupt", "corrupt", "corrupt", "foreign",
                       "forged", "replayed", "accepted", "out_of_window", "accepted",
                       "replayed"]
    assert verifier.counts == {"accepted": 3, "corrupt": 4, "foreign": 1, "forged": 1,
                               "replayed": 2, "out_of_window": 1}
    assert verifier.site_counts[SOUTH] == {"forged": 1}
    assert verifier.site_counts[NORTH] == {"accepted": 3, "replayed": 2, "out_of_window": 1}


def test_a_forged_datagram_does_not_move_the_window():
    """Only authentic datagrams move it: a forgery numbered far ahead must not push the
    site's real stream out of the window."""
    reasons, _ = _reasons([seal(NORTH, 10, b"a", KEYS[NORTH]),
                           seal(NORTH, 10 ** 12, b"b", WRONG_KEY),
                           seal(NORTH, 11, b"c", KEYS[NORTH])])
    assert reasons == ["accepted", "forged", "accepted"]


@pytest.mark.parametrize("order, expected", [
    ([5, 3, 4, 3, 6, 5], ["accepted"] * 3 + ["replayed", "accepted", "replayed"]),
    ([0, 7, 1, 2, 2], ["accepted", "accepted", "out_of_window", "accepted", "replayed"]),
    ([2 ** 64 - 1, 2 ** 64 - 2, 0], ["accepted", "accepted", "out_of_window"]),
])
def test_the_window_is_a_bitmap_below_the_highest_number(order, expected):
    reasons, _ = _reasons([seal(NORTH, n, b"x", KEYS[NORTH]) for n in order], window=6)
    assert reasons == expected


def test_a_flipped_bit_anywhere_is_rejected():
    datagram = seal(NORTH, 2 ** 40 + 3, b"\x30\x00\x0b" + bytes(8), KEYS[NORTH])
    for bit in range(8 * len(datagram)):
        flipped = bytearray(datagram)
        flipped[bit // 8] ^= 1 << bit % 8
        outcome = FeedVerifier(KEYS).verify(bytes(flipped))
        assert isinstance(outcome, Rejection), bit


_SENT = [seal(site, n, bytes([n]) * n, KEYS[site]) for site in (NORTH, SOUTH) for n in range(6)]


_ANY_DATAGRAM = st.one_of(
    st.binary(max_size=80),
    st.sampled_from(_SENT),
    st.tuples(st.sampled_from(_SENT), st.integers(0, 60), st.integers(0, 255))
      .map(lambda t: t[0][:t[1]] + bytes([t[2]]) + t[0][t[1] + 1:]),
    st.tuples(st.sampled_from(_SENT), st.integers(0, 60)).map(lambda t: t[0][:t[1]]),
    st.tuples(st.sampled_from(_SENT), st.binary(max_size=4)).map(lambda t: t[0] + t[1]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ANY_DATAGRAM, max_size=30), st.integers(1, 64))
def test_any_bytes_give_a_reason_or_a_datagram_that_was_sent(datagrams, window):
    sent = {(site, n, bytes([n]) * n) for site in (NORTH, SOUTH) for n in range(6)}
    verifier = FeedVerifier(KEYS, window=window)
    accepted = []
    for datagram in datagrams:
        outcome = verifier.verify(datagram)
        assert isinstance(outcome, (Rejection, Accepted))
        if isinstance(outcome, Accepted):
            assert tuple(outcome) in sent
            accepted.append(tuple(outcome))
    assert len(accepted) == len(set(accepted))          # never the same one twice
    assert sum(verifier.counts.values()) == len(datagrams)


def test_over_a_real_udp_socket_exactly_the_good_datagrams_are_accepted(receiver):
    """A sender thread sends a mixed stream to a bound socket; the receiver runs the
    verifier on what arrives: the good datagrams come out, in order, the rest counted."""
    sealer = FeedSealer(NORTH, KEYS[NORTH], first_sequence=1000)
    bad = {
        "corrupt": lambda i, good: good[:10],
        "foreign": lambda i, good: seal(STRANGER, 1000 + i, b"x", WRONG_KEY),
        "forged": lambda i, good: seal(NORTH, 5000 + i, b"spoof", WRONG_KEY),
        "replayed": lambda i, good: good,
        "out_of_window": lambda i, good: seal(NORTH, 900 + i, b"old", KEYS[NORTH]),
    }
    stream, expected = [], []
    for i in range(20):
        good = sealer.seal(b"cat048 #%d" % i)
        kind = list(bad)[i % len(bad)]
        stream += [good, bad[kind](i, good)]
        expected += ["accepted", kind]
    receiver.settimeout(5.0)
    address = receiver.getsockname()

    def send():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for datagram in stream:
                sender.sendto(datagram, address)
            sender.sendto(b"", address)                                   # the end

    thread = threading.Thread(target=send)
    thread.start()
    verifier = FeedVerifier(KEYS, window=64)
    outcomes = []
    while (datagram := receiver.recv(65535)) != b"":
        outcomes.append(verifier.verify(datagram))
    thread.join()
    assert [o if isinstance(o, Rejection) else "accepted" for o in outcomes] == expected
    assert [o.payload for o in outcomes if isinstance(o, Accepted)] == \
        [b"cat048 #%d" % i for i in range(20)]
    assert verifier.counts == {"accepted": 20, "corrupt": 4, "foreign": 4, "forged": 4,
                               "replayed": 4, "out_of_window": 4}


def test_keygen_writes_a_key_for_its_owner_only_and_never_overwrites(tmp_path, capsys):
    path = tmp_path / "25-1.key"
    assert main(["keygen", "--out", str(path)]) == 0
    key = load_key(path)
    assert len(key) == 32 and os.stat(path).st_mode & 0o777 == 0o600
    assert main(["keygen", "--out", str(path)]) == 2
    err = capsys.readouterr().err
    assert "exists; a key is never overwritten" in err and err.count("\n") == 1
    assert load_key(path) == key
    write_new_key(tmp_path / "25-2.key")
    assert load_key_folder(tmp_path).keys() == {(25, 1), (25, 2)}
    assert load_key(tmp_path / "25-2.key") != key


@pytest.mark.parametrize("text, message", [
    ("00" * 31, "holds 31 bytes; it must hold one line of at least 64 hexadecimal digits"),
    ("0" * 65, "must hold one line of at least 64 hexadecimal digits (an even number)"),
    ("zz" * 32, "must hold one line of at least 64 hexadecimal digits"),
    ("00" * 32 + "\n" + "00" * 32, "must hold one line of at least 64 hexadecimal digits"),
    ("", "must hold one line"),
])
def test_bad_key_files_are_one_line(tmp_path, text, message):
    (tmp_path / "k").write_text(text)
    with pytest.raises(FeedKeyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_key(tmp_path / "k")


def test_a_key_file_is_hex_with_white_space_around(tmp_path):
    (tmp_path / "k").write_text("  AB" + "ab" * 31 + "\n")
    assert load_key(tmp_path / "k") == bytes([0xab]) * 32


def test_bad_key_folders_are_one_line(tmp_path):
    with pytest.raises(FeedKeyError, match="is not a folder"):
        load_key_folder(tmp_path / "none")
    with pytest.raises(FeedKeyError, match="holds no SAC-SIC.key file"):
        load_key_folder(tmp_path)
    (tmp_path / "north.key").write_text("00" * 32)
    with pytest.raises(FeedKeyError, match="must be named SAC-SIC.key"):
        load_key_folder(tmp_path)
    (tmp_path / "north.key").rename(tmp_path / "256-1.key")
    with pytest.raises(FeedKeyError, match="SAC and SIC from 0 to 255"):
        load_key_folder(tmp_path)
    with pytest.raises(FeedKeyError, match="does not exist"):
        load_key(tmp_path / "missing.key")


def test_short_keys_and_bad_sites_are_refused_in_code():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        FeedVerifier({NORTH: b"short"})
    with pytest.raises(ValueError, match="SAC must be an integer from 0 to 255, not 256"):
        FeedSealer((256, 1), KEYS[NORTH])
    with pytest.raises(ValueError, match="window must be an integer from 1 to 65536, not 0"):
        FeedVerifier(KEYS, window=0)


def _listen(tmp_path, receiver, *options):
    """``amaradar listen`` of the built-in scenario's link stream to ``receiver`` as site
    25/1; its exit status and the datagrams that arrived."""
    (tmp_path / "site.toml").write_text("[site]\nsac = 25\nsic = 1\n")
    link = tmp_path / "link.bin"
    if not link.exists():
        link.write_bytes(link_stream(*builtin_plots_and_tracks()))
    out = tmp_path / ("sealed" if options else "bare")
    status = main(["listen", "--replay", str(link), "--out", str(out),
                   "--asterix-udp", "127.0.0.1:%d" % receiver.getsockname()[1],
                   "--site", str(tmp_path / "site.toml"), *options])
    return status, received(receiver)


def test_listen_with_a_key_sends_the_same_datagrams_sealed(tmp_path, receiver, capsys):
    status, bare = _listen(tmp_path, receiver)
    assert status == 0 and len(bare) == SCENARIO.radar.cpis
    write_new_key(tmp_path / "25-1.key")
    status, sealed = _listen(tmp_path, receiver, "--key", str(tmp_path / "25-1.key"))
    assert status == 0
    verifier = FeedVerifier(load_key_folder(tmp_path))
    accepted = [verifier.verify(datagram) for datagram in sealed]
    assert all(isinstance(a, Accepted) and a.site == (25, 1) for a in accepted)
    assert [a.payload for a in accepted] == bare                    # byte for byte
    first = accepted[0].sequence
    assert [a.sequence for a in accepted] == list(range(first, first + len(bare)))
    assert f"sealed, next sequence {first + len(bare)}" in capsys.readouterr().out
    status, again = _listen(tmp_path, receiver, "--key", str(tmp_path / "25-1.key"))
    assert [type(verifier.verify(d)) for d in again] == [Accepted] * len(bare)   # a restart
    assert verifier.counts["accepted"] == 2 * len(bare) and sum(verifier.counts.values()) == \
        2 * len(bare)


@pytest.mark.parametrize("key_text, message", [
    ("00" * 16, "holds 16 bytes; it must hold one line of at least 64 hexadecimal digits"),
    ("not a key", "must hold one line of at least 64 hexadecimal digits"),
    (None, "does not exist"),
])
def test_bad_key_files_are_one_line_exit_2_nothing_sent(tmp_path, receiver, capsys, key_text,
                                                        message):
    key = tmp_path / "site.key"
    if key_text is not None:
        key.write_text(key_text)
    status, sent = _listen(tmp_path, receiver, "--key", str(key))
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1
    assert sent == [] and not (tmp_path / "sealed").exists()


def test_a_key_without_asterix_udp_is_one_line_exit_2(tmp_path, capsys):
    write_new_key(tmp_path / "site.key")
    (tmp_path / "link.bin").write_bytes(b"")
    assert main(["listen", "--replay", str(tmp_path / "link.bin"), "--out", str(tmp_path / "out"),
                 "--key", str(tmp_path / "site.key")]) == 2
    err = capsys.readouterr().err
    assert "key needs asterix-udp: it seals the ASTERIX datagrams" in err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_a_sealed_cpi_too_large_for_one_datagram_is_split_to_fit(tmp_path, receiver, capsys):
    """8000 plots in one CPI make more ASTERIX than one UDP datagram holds: sealed, each
    datagram, envelope included, stays within 65507 bytes and none is lost."""
    plots, _ = builtin_plots_and_tracks()
    first = plots["cpi"] == 0
    many = {name: np.resize(column[first], 8000) for name, column in plots.items()}
    (tmp_path / "link.bin").write_bytes(link_stream(many, {"cpi": many["cpi"][:0]}))
    write_new_key(tmp_path / "25-1.key")
    status, sealed = _listen(tmp_path, receiver, "--key", str(tmp_path / "25-1.key"))
    assert status == 0 and len(sealed) >= 2
    assert max(map(len, sealed)) <= MAX_DATAGRAM
    verifier = FeedVerifier(load_key_folder(tmp_path))
    assert all(isinstance(verifier.verify(d), Accepted) for d in sealed)
    assert "CPIs unsent    0" in capsys.readouterr().out
