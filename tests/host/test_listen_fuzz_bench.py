"""The listen fuzz bench (``bench/bench_listen_fuzz.py``) at CI size: its invariants on a
few hundred streams per case, and that its accounting catches an invented row."""

from bench_listen_fuzz import KINDS, RATES, WRAP_S, _match, _same_row, run

from amaradar.spec.link import TYPE_STATUS, frame_bytes

SIZES = {"streams_per_rate": 120, "streams_per_kind": 120, "false_accept_trials": 4000}


def test_bench_invariants():
    result = run(SIZES, workers=1)
    cases = result["byte_error_rates"] + result["one_damaged_frame"]
    assert [c["rate"] for c in result["byte_error_rates"]] == list(RATES)
    assert [c["kind"] for c in result["one_damaged_frame"]] == list(KINDS)
    assert result["streams"] == 5 * 120 + 4 * 120
    for case in cases:
        assert case["rows_invented"] == 0
        assert case["rows_lost_of_intact_frames"] == 0
        assert case["rows_written"] + case["rows_lost"] == case["rows_sent"]
        assert case["frames_lost"] <= case["frames_damaged"] <= case["byte_errors"]
        assert case["regions_never_resynced"] == 0
        for figure in ("bytes_after_region", "frames_after_region"):
            assert case["resync"][figure] is None or case["resync"][figure]["max"] == 0
    for case in result["one_damaged_frame"]:
        assert case["frames_damaged"] == case["byte_errors"] == 120
        # a flip, a drop or a cut always costs its frame; a duplicated edge byte may not
        assert case["frames_lost"] == 120 if case["kind"] != "dup" else case["frames_lost"] > 60
        # resync within the damaged frame: the longest (a status) and a duplicated byte
        assert case["resync"]["bytes_from_first_error"]["max"] <= frame_bytes(TYPE_STATUS) + 1
    assert result["byte_error_rates"][-1]["byte_errors"] > 0
    for trials in (result["false_accept"]["flipped_4_to_8_bits"],
                   result["false_accept"]["random_frames"]):
        assert trials["trials"] == 4000
        assert trials["crc_errors"] > 0
        # CRC-32: a forged frame is expected once in 2**32 trials, and the seeds are fixed
        assert trials["forged_frames_accepted"] == trials["forged_rows_written"] == 0
        assert trials["forged_frames_expected"] == 4000 * 2.0 ** -32
    assert result["false_accept"]["theory"]["crc_bits"] == 32


def test_match_counts_a_row_not_sent():
    want = [("1,a",), ("1,b", "1,b'"), ("1,c",)]
    assert _match(["1,a", "1,b'", "1,c"], want, 0) == ({0, 1, 2}, 0)
    assert _match(["1,a", "1,x", "1,c"], want, 0) == ({0, 2}, 1)
    assert _match(["1,c", "1,a"], want, 0) == ({2}, 1)      # out of order: not what was sent


def test_a_row_may_differ_only_by_whole_wraps_of_its_time():
    """listen's session starts at the first CPI it hears, so a row's time_s may differ
    from the undamaged run's by whole wraps of the CPI counter, and by nothing else."""
    sent = f"0,,{WRAP_S + 0.008:.3f},129558.121"
    assert _same_row("0,,0.008,129558.121", sent, 2)
    assert _same_row(f"0,,{3 * WRAP_S + 0.008:.3f},129558.121", sent, 2)
    assert not _same_row(f"0,,{WRAP_S / 2 + 0.008:.3f},129558.121", sent, 2)
    assert not _same_row("0,,0.010,129558.121", sent, 2)
    assert not _same_row("0,,0.008,129558.122", sent, 2)
    assert not _same_row("0,,,129558.121", sent, 2)
