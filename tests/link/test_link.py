import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amaradar.spec.link import (DETECTION_FIELDS, PLOT_FIELDS, STATUS_FIELDS, SYNC, TRACK_FIELDS,
                                TYPE_DETECTION, TYPE_PLOT, TYPE_STATUS, TYPE_TRACK, Decoder,
                                Detection, Plot, Status, Track, crc32, encode, frame_bytes)

SIGNED = {"range_rate"}     # of the track payload


def _message(fields, cls):
    def values(name, size):
        low = -(1 << (8 * size - 1)) if cls is Track and name in SIGNED else 0
        return st.integers(low, low + (1 << 8 * size) - 1)
    return st.builds(cls, *[values(name, size) for name, size in fields])


messages = st.one_of(_message(DETECTION_FIELDS, Detection), _message(STATUS_FIELDS, Status),
                     _message(PLOT_FIELDS, Plot), _message(TRACK_FIELDS, Track))


def _decode_all(data, chunks):
    """Feed ``data`` cut at the given chunk sizes (cycled), then finish."""
    decoder, out, pos, k = Decoder(), [], 0, 0
    while pos < len(data):
        size = chunks[k % len(chunks)] if chunks else len(data)
        out += decoder.feed(data[pos:pos + size])
        pos, k = pos + size, k + 1
    return out + decoder.finish(), decoder


def test_frame_layout_by_hand():
    frame = encode(Detection(cpi=0x0102, pulse=0x0304, range_bin=0x0506,
                             power=0x0708090A0B0C, threshold=0x0D0E0F101112))
    body = bytes([TYPE_DETECTION, 18]) + bytes(range(1, 19))
    assert frame == SYNC + body + crc32(body).to_bytes(4, "big")
    assert len(frame) == frame_bytes(TYPE_DETECTION) == 26
    status = Status(cpi=0x0102, flags=0x03, preset=0x04, dropped_samples=0x05060708,
                    dropped_cap=0x090A0B0C, dropped_full=0x0D0E0F10, range_bins=0x1112,
                    pulses=0x1314, sample_rate=0x15161718, pri=0x191A1B1C, pulse_samples=0x1D1E)
    body = bytes([TYPE_STATUS, 30]) + bytes(range(1, 31))
    assert encode(status) == SYNC + body + crc32(body).to_bytes(4, "big")
    assert frame_bytes(TYPE_STATUS) == 38
    plot = Plot(cpi=0x0102, range_pos=0x030405, doppler_pos=0x0607, power=0x08090A0B0C0D,
                threshold=0x0E0F10111213)
    body = bytes([TYPE_PLOT, 19]) + bytes(range(1, 20))
    assert encode(plot) == SYNC + body + crc32(body).to_bytes(4, "big")
    assert frame_bytes(TYPE_PLOT) == 27
    track = Track(cpi=0x0102, track_id=0x03040506, status=0x07, range_pos=0x08090A0B,
                  range_rate=0x0C0D0E0F, unfolded=0x10, age=0x11, misses=0x12, plot=0x1314)
    body = bytes([TYPE_TRACK, 20]) + bytes(range(1, 21))
    assert encode(track) == SYNC + body + crc32(body).to_bytes(4, "big")
    assert frame_bytes(TYPE_TRACK) == 28
    closing = encode(track._replace(range_rate=-2))           # two's complement on the link
    assert closing[4 + 11:4 + 15] == bytes([0xFF, 0xFF, 0xFF, 0xFE])
    assert Decoder().feed(closing) == [track._replace(range_rate=-2)]


@pytest.mark.parametrize("message, error, text", [
    (Detection(70000, 0, 0, 0, 0), ValueError, "cpi must be an integer from 0 to 65535, not 70000"),
    (Detection(0, 0, 0, -1, 0), ValueError, "power must be an integer from 0 to 281474976710655, not -1"),
    (Status(0, 0, 0, 0, 0, 0, 0, 0, 1.5, 0, 0), ValueError,
     "sample_rate must be an integer from 0 to 4294967295, not 1.5"),
    (Track(0, 0, 0, 0, -2**31 - 1, 0, 0, 0, 0), ValueError,
     "range_rate must be an integer from -2147483648 to 2147483647, not -2147483649"),
    (Track(0, 0, 0, -1, 0, 0, 0, 0, 0), ValueError,
     "range_pos must be an integer from 0 to 4294967295, not -1"),
    ((1, 2, 3, 4, 5), TypeError,
     "message must be a Detection, a Status, a Track or a Plot, not tuple"),
])
def test_encode_rejects_bad_messages(message, error, text):
    with pytest.raises(error) as info:
        encode(message)
    assert str(info.value) == text


@settings(max_examples=200, deadline=None)
@given(st.lists(messages, max_size=8), st.lists(st.integers(1, 40), max_size=5))
def test_round_trip_in_any_chunks(msgs, chunks):
    data = b"".join(encode(m) for m in msgs)
    out, decoder = _decode_all(data, chunks)
    assert out == msgs
    assert decoder.frames == len(msgs) and decoder.resync_bytes == 0 and decoder.crc_errors == 0
    assert decoder.counts == {"detection": sum(isinstance(m, Detection) for m in msgs),
                              "status": sum(isinstance(m, Status) for m in msgs),
                              "track": sum(isinstance(m, Track) for m in msgs),
                              "plot": sum(isinstance(m, Plot) for m in msgs)}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 64), max_size=5))
def test_random_bytes_never_make_a_message(data, chunks):
    out, decoder = _decode_all(data, chunks)
    assert out == []
    assert decoder.resync_bytes == len(data) == decoder.bytes


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(1, 64), max_size=5))
def test_sync_heavy_garbage_never_makes_a_message(noise, chunks):
    """Garbage full of sync words and plausible headers, the worst case for the search."""
    pieces = [SYNC + bytes([TYPE_DETECTION, 18]), SYNC + bytes([TYPE_STATUS, 30]), SYNC, noise]
    data = b"".join(pieces[b % len(pieces)] if b < 8 else bytes([b]) for b in noise)
    out, decoder = _decode_all(data, chunks)
    assert out == []
    assert decoder.resync_bytes == len(data)


def _damage(frame, how, draw):
    if how == "truncate":
        return frame[:draw(st.integers(1, len(frame) - 1))]
    bit = draw(st.integers(0, 8 * len(frame) - 1))
    damaged = bytearray(frame)
    damaged[bit // 8] ^= 1 << (bit % 8)
    return bytes(damaged)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_interleaved_garbage_and_damaged_frames(data):
    """Every undamaged frame comes out, in order; damaged ones are lost and counted."""
    draw = data.draw
    stream, expect, good_bytes = b"", [], 0
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["good", "garbage", "truncate", "flip"]))
        if kind == "garbage":
            stream += draw(st.binary(min_size=1, max_size=40))
            continue
        message = draw(messages)
        frame = encode(message)
        if kind == "good":
            stream += frame
            expect.append(message)
            good_bytes += len(frame)
        else:
            stream += _damage(frame, kind, draw)
    out, decoder = _decode_all(stream, draw(st.lists(st.integers(1, 50), max_size=4)))
    assert out == expect
    assert decoder.frames == len(expect)
    assert decoder.resync_bytes == len(stream) - good_bytes


def test_bit_flips_are_crc_errors():
    frame = encode(Detection(5, 6, 7, 8, 9))
    errors = 0
    for bit in range(8 * len(SYNC) + 16, 8 * len(frame)):  # flips after the header
        damaged = bytearray(frame)
        damaged[bit // 8] ^= 1 << (bit % 8)
        out, decoder = _decode_all(bytes(damaged) + frame, [])
        assert out == [Detection(5, 6, 7, 8, 9)]
        errors += decoder.crc_errors
    assert errors == 8 * (len(frame) - 4)


def test_wrong_length_byte_is_rejected_even_with_a_good_crc():
    body = bytes([TYPE_DETECTION, 17]) + bytes(17)
    frame = SYNC + body + crc32(body).to_bytes(4, "big")
    good = encode(Detection(1, 1, 1, 1, 1))
    out, decoder = _decode_all(frame + good, [3])
    assert out == [Detection(1, 1, 1, 1, 1)] and decoder.resync_bytes == len(frame)


def test_incomplete_frame_waits_for_more_bytes():
    frame = encode(Status(*range(11)))
    decoder = Decoder()
    assert decoder.feed(frame[:-1]) == []
    assert decoder.resync_bytes == 0
    assert decoder.feed(frame[-1:]) == [Status(*range(11))]


def test_gaps_name_the_bytes_skipped_before_each_message():
    one, two = encode(Detection(1, 1, 1, 1, 1)), encode(Detection(2, 2, 2, 2, 2))
    decoder = Decoder()
    assert decoder.feed(b"xyz" + one + two[:5]) == [Detection(1, 1, 1, 1, 1)]
    assert decoder.gaps == [3]
    damaged = bytearray(one)
    damaged[-1] ^= 1
    assert decoder.feed(two[5:] + bytes(damaged) + two) == [Detection(2, 2, 2, 2, 2)] * 2
    assert decoder.gaps == [0, len(one)]
    assert decoder.finish() == [] and decoder.gaps == []


def _ending_in_sync_byte(cpi):
    """A detection of CPI ``cpi`` or later whose frame ends in 0xEB, the sync word's first byte."""
    while encode(Detection(cpi, 0, 0, 0, 0))[-1] != SYNC[0]:
        cpi += 1
    return Detection(cpi, 0, 0, 0, 0)


@pytest.mark.parametrize("chunk", [1, 2, 25, 26, 27, 100])
def test_a_frame_whose_last_byte_is_lost_does_not_cost_the_next(chunk):
    """The lost last byte 0xEB is made up by the next frame's first: both frames come
    out, the second with gap -1, in chunks of any size, and the byte count balances."""
    first, second = _ending_in_sync_byte(0), Detection(7, 7, 7, 7, 7)
    stream = encode(first)[:-1] + encode(second) + encode(second)
    out, decoder = _decode_all(stream, [chunk])
    assert out == [first, second, second]
    assert decoder.overlaps == 1 and decoder.resync_bytes == 0
    assert decoder.bytes == len(stream) == \
        decoder.resync_bytes + 3 * frame_bytes(TYPE_DETECTION) - decoder.overlaps


def test_a_frame_ending_in_the_sync_byte_is_no_overlap_when_intact():
    first = _ending_in_sync_byte(0)
    decoder = Decoder()
    assert decoder.feed(encode(first) + encode(first)) == [first, first]
    assert decoder.gaps == [0, 0] and decoder.overlaps == 0
    decoder.feed(encode(first)[:-1] + encode(first))
    assert decoder.gaps == [0, -1] and decoder.overlaps == 1
