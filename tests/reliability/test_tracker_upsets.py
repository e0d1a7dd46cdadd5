# amaranth: UnusedElaboratable=no
"""A flipped bit in a RAM of the tracker, under random stalls: it never locks up
(every CPI's plots are taken and its ``cpi_end`` word comes out), the CPIs done
before the upset are untouched, and its reports stay well-formed.

Recovery differs by RAM. ``pairs`` (gate candidates) and ``assoc`` (the CPI's
assignment) are rebuilt every CPI: the reports are the model's again from the CPI
after the one whose plots were arriving at the upset. ``plots`` (the CPI's plots) and ``tracks`` (the track file) carry
state across CPIs: a corrupted plot can start a false track and a corrupted track
coasts until it is dropped (``delete_k`` misses) or, if the flipped bit is one the
updates overwrite, is corrected at its next update; a flipped ``track_id`` bit or a
bit no update rewrites lasts as long as the track. Those two are checked for no
lock-up and well-formed reports only (README, "Resets and upsets").
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
REBUILT_EVERY_CPI = ("pairs", "assoc")


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


@pytest.mark.parametrize("seed", [0, 1, pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("ram", ["tracks", "plots", "pairs", "assoc"])
def test_tracker_upset(ram, seed):
    cfg = TrackerConfig(radar=UHF, max_tracks=10, max_plots=8, max_speed_mps=3000)
    frames = crossing_frames(CPIS, seed=2)
    dut = Tracker(cfg, power_bits=POWER_BITS)
    model = TrackerModel(cfg, confirm_m=3, confirm_n=5, delete_k=DELETE_K)
    words, _ = expected_words(dut, model, frames)
    inputs = input_words(dut, frames)
    fragment = Fragment.get(dut, None)
    data = memories(fragment)[ram]
    rng = random.Random(seed)
    at = rng.randrange(len(inputs) // 4, len(inputs) // 2)
    upset = Upset(ram, rng.randrange(data.depth), rng.randrange(Shape.cast(data.shape).width))
    run = run_with_fault(dut, inputs, fault=upset, trigger=lambda fed, _: fed == at,
                         ports=runtime(model), seed=seed, fragment=fragment, settle_cycles=3000)
    layout = dut.o.payload.shape()
    got, tail = _per_cpi(unpack(layout, run.before + run.after))
    want, _ = _per_cpi(unpack(layout, words))
    assert len(got) == CPIS and not tail            # no lock-up: every CPI came out, ended
    end_bit = 1 << (Shape.cast(dut.i.payload.shape()).width - 1)
    # plots of CPI ``entering`` arrive at the upset; the one before may still be in work
    entering = sum(bool(word & end_bit) for word in inputs[:at])
    assert got[:entering - 1] == want[:entering - 1]
    if ram in REBUILT_EVERY_CPI:
        assert got[entering + 1:] == want[entering + 1:]
    found = unpack(layout, run.before + run.after)
    reports = np.asarray(found["cpi_end"]) == 0
    assert (np.asarray(found["track.status"])[reports] < 3).all()
    assert (np.asarray(found["track.misses"])[reports] <= DELETE_K).all()
