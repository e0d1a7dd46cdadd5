# amaranth: UnusedElaboratable=no
"""Flipped bits in the tracker's RAMs, under random stalls: it never locks up
(every CPI's plots are taken and its ``cpi_end`` word comes out), the CPIs done
before the upset are untouched, and its reports stay well-formed.

Recovery differs by RAM. ``plots`` (the CPI's plots) and ``tracks`` (the track
file) carry state across CPIs and hold SECDED code words: one flipped bit is put
right on every read, so every report is the model's, and ``ecc_corrected`` is
raised when the word is used; two flipped bits in one word raise
``ecc_uncorrectable`` and are not put right (the track may be wrong until it is
rewritten or dropped). ``pairs`` (gate candidates) and ``assoc`` (the CPI's
assignment) are rebuilt every CPI and not coded: the reports are the model's
again from the CPI after the one whose plots were arriving at the upset.
"""

import random

import numpy as np
import pytest
from amaranth import Fragment, Shape

from amaradar.hdl.formats import unpack
from amaradar.hdl.track.tables import TrackerConfig
from amaradar.hdl.track.tracker import Tracker
from amaradar.sim.engines.fault_bench import Upset, memories, run_with_fault
from amaradar.sim.models.track.tracker import TrackerModel
from tracker_frames import (POWER_BITS, UHF, crossing_frames, expected_words, input_words,
                            runtime)

CPIS = 40
DELETE_K = 5
CODED = ("tracks", "plots")
ECC_FLAGS = ("ecc_corrected", "ecc_uncorrectable")


def _per_cpi(columns):
    """The reports of each CPI, as sorted tuples of their fields."""
    ends = np.asarray(columns["cpi_end"])
    names = [k for k in columns if k != "cpi_end"]
    cpis, current = [], []
    for n, end in enumerate(ends):
        if end:
            cpis.append(sorted(current))
            current = []
        else:
            current.append(tuple(int(columns[k][n]) for k in names))
    return cpis, current


def _run(seed, upset_at):
    """Run the tracker on the crossing targets with the upset ``upset_at(data, inputs,
    ends, rng)`` gives (``ends``: the indices of the input's ``cpi_end`` words):
    ``(Upset, input words taken when it strikes)``. Returns the reports per CPI, the
    model's, the CPI whose plots were arriving at the upset, the flags."""
    cfg = TrackerConfig(radar=UHF, max_tracks=10, max_plots=8, max_speed_mps=3000)
    frames = crossing_frames(CPIS, seed=2)
    dut = Tracker(cfg, power_bits=POWER_BITS)
    model = TrackerModel(cfg, confirm_m=3, confirm_n=5, delete_k=DELETE_K)
    words, _ = expected_words(dut, model, frames)
    inputs = input_words(dut, frames)
    end_bit = 1 << (Shape.cast(dut.i.payload.shape()).width - 1)
    ends = [n for n, word in enumerate(inputs) if word & end_bit]
    fragment = Fragment.get(dut, None)
    upset, at = upset_at(memories(fragment), inputs, ends, random.Random(seed))
    run = run_with_fault(dut, inputs, fault=upset, trigger=lambda fed, _: fed == at,
                         ports=runtime(model), watch=ECC_FLAGS, seed=seed, fragment=fragment,
                         settle_cycles=3000, max_cycles=60_000)
    layout = dut.o.payload.shape()
    found = unpack(layout, run.before + run.after)
    got, tail = _per_cpi(found)
    want, _ = _per_cpi(unpack(layout, words))
    assert len(got) == CPIS and not tail            # no lock-up: every CPI came out, ended
    reports = np.asarray(found["cpi_end"]) == 0
    assert (np.asarray(found["track.status"])[reports] < 3).all()
    assert (np.asarray(found["track.misses"])[reports] <= DELETE_K).all()
    entering = sum(n < at for n in ends)
    # plots of CPI ``entering`` arrive at the upset; the one before may still be in work
    assert got[:entering - 1] == want[:entering - 1]
    return got, want, entering, run.watched


def _first_plot_of_cpi(ends, cpi):
    """Index of the first input word of CPI ``cpi`` (plots, then its ``cpi_end`` word),
    from the indices ``ends`` of the ``cpi_end`` words."""
    return ends[cpi - 1] + 1


@pytest.mark.parametrize("seed", [0, 1, pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("ram", ["tracks", "plots", "pairs", "assoc"])
def test_one_flipped_bit(ram, seed):
    def upset_at(rams, inputs, ends, rng):
        data = rams[ram]
        bit = rng.randrange(Shape.cast(data.shape).width)
        upset = Upset(ram, rng.randrange(data.depth), (bit,))
        return upset, rng.randrange(len(inputs) // 4, len(inputs) // 2)

    got, want, entering, flags = _run(seed, upset_at)
    if ram in CODED:
        assert got == want
    else:
        assert got[entering + 1:] == want[entering + 1:]
    assert flags["ecc_uncorrectable"] == 0


@pytest.mark.parametrize("ram", CODED)
def test_a_flipped_bit_in_a_word_in_use_is_corrected_and_flagged(ram):
    # track slot 0 holds a track from the first CPIs on; plot 0 of CPI 20 is written
    # (a clock after it is taken), then flipped while the CPI's other plots arrive,
    # then read. Code bit 3 is data bit 0: the track's id, the plot's range (1/256 cell).
    def upset_at(rams, inputs, ends, rng):
        return Upset(ram, 0, (3,)), _first_plot_of_cpi(ends, 20) + 2

    got, want, _, flags = _run(3, upset_at)
    assert got == want
    assert flags == {"ecc_corrected": 1, "ecc_uncorrectable": 0}


def test_two_flipped_bits_in_a_track_are_flagged_uncorrectable():
    def upset_at(rams, inputs, ends, rng):
        width = Shape.cast(rams["tracks"].shape).width
        return Upset("tracks", 0, tuple(rng.sample(range(width), 2))), \
            _first_plot_of_cpi(ends, 20)

    _, _, _, flags = _run(4, upset_at)
    assert flags["ecc_uncorrectable"] == 1
