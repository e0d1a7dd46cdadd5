"""The Cfar gateware in Verilator on noise-only ULX3S-sized maps at the design-Pfa scale
words (``bench/bench_cfar_pfa_rtl.py``, fewer CPIs): every output word equals the
model's, and the false alarms at the independent trial cells are binomial at the
design Pfa of the rounded word (5 sigma). 1-D: CA, GO, SO, OS; 2-D: CA, GO, SO."""

import numpy as np
import pytest

from bench_cfar_pfa_rtl import builds, measure
from test_cfar_family_theory import assert_binomial


@pytest.mark.parametrize("name", ["1d", "2d"])
def test_gateware_false_alarms_at_the_design_pfa(name):
    types, info = measure(name, 25_000, np.random.default_rng(["1d", "2d"].index(name) + 90),
                          log=lambda *args, **kwargs: None)
    assert list(types) == [t for group in builds(name) for t in group]
    assert info["clipped_cells"] == 0
    for cfar_type, r in types.items():
        assert r["rtl_equals_model"], (cfar_type, r["mismatched_words"])
        assert r["trials"] >= 25_000
        assert r["design_pfa"] == pytest.approx(1e-3, rel=2e-3)
        assert_binomial(r["count"], r["trials"], r["design_pfa"])
