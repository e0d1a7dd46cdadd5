import time

import numpy as np
import pytest
from amaranth import signed, unsigned
from amaranth.lib import data
from hypothesis import given, settings
from hypothesis import strategies as st

from amaradar.hdl.formats import leaf_fields, complex_layout, detection_layout, framed_layout, pack, unpack
from amaradar.sim.engines.payloads import pack_bytes, payload_bytes, unpack_bytes

WIDE = data.StructLayout({
    "flag": 1,
    "a": signed(63),
    "b": unsigned(63),
    "inner": data.StructLayout({"c": signed(7), "d": unsigned(13)}),
})

LAYOUTS = [
    complex_layout(12),
    framed_layout(complex_layout(18)),
    framed_layout(unsigned(36)),
    detection_layout(range_bits=14, power_bits=40),
    WIDE,
]


def _leaves(layout):
    return [(name, width, sign) for name, _, width, sign in leaf_fields(layout)]


def _random_columns(layout, n, rng):
    """Random values per leaf, with the signed/unsigned extremes forced into the first rows."""
    columns = {}
    for name, width, sign in _leaves(layout):
        lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if sign else (0, (1 << width) - 1)
        values = rng.integers(lo, hi, size=n, endpoint=True, dtype=np.int64)
        values[:3] = [lo, hi, 0]
        columns[name] = values
    return columns


def _as_bytes(words, nbytes):
    return np.array([list(w.to_bytes(nbytes, "little")) for w in words], dtype=np.uint8)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: f"{layout.size}bit")
def test_pack_bytes_equals_formats_pack(layout):
    rng = np.random.default_rng(layout.size)
    columns = _random_columns(layout, 500, rng)
    nbytes = payload_bytes(layout)
    assert nbytes == (layout.size + 7) // 8
    words = pack_bytes(layout, columns)
    assert words.dtype == np.uint8 and words.shape == (500, nbytes)
    np.testing.assert_array_equal(words, _as_bytes(pack(layout, **columns), nbytes))


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: f"{layout.size}bit")
def test_unpack_bytes_equals_formats_unpack(layout):
    rng = np.random.default_rng(layout.size + 1)
    nbytes = payload_bytes(layout)
    ints = [int(rng.integers(0, 1 << 62)) | int(rng.integers(0, 1 << 62)) << 62
            for _ in range(500)]
    ints = [w & ((1 << layout.size) - 1) for w in ints]
    got = unpack_bytes(layout, _as_bytes(ints, nbytes))
    want = unpack(layout, ints)
    assert set(got) == set(want)
    for name in want:
        assert got[name].dtype == np.int64
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_round_trip_random_struct(draw):
    """Random struct layouts (fields of 1..63 bits, nested, > 64 bits in total) round-trip."""
    widths = draw.draw(st.lists(st.tuples(st.integers(1, 63), st.booleans()), min_size=1, max_size=6))
    fields = {f"f{k}": (signed(w) if s else unsigned(w)) for k, (w, s) in enumerate(widths)}
    layout = data.StructLayout({"pad": draw.draw(st.integers(0, 9)), "x": data.StructLayout(fields)})
    rows = draw.draw(st.integers(1, 20))
    columns = {}
    for k, (w, s) in enumerate(widths):
        lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if s else (0, (1 << w) - 1)
        columns[f"x.f{k}"] = np.array(draw.draw(st.lists(st.integers(lo, hi), min_size=rows,
                                                         max_size=rows)), dtype=np.int64)
    words = pack_bytes(layout, columns)
    np.testing.assert_array_equal(words, _as_bytes(pack(layout, **columns), payload_bytes(layout)))
    back = unpack_bytes(layout, words)
    for name, values in columns.items():
        np.testing.assert_array_equal(back[name], values, err_msg=name)
    if "pad" in back:
        assert not back["pad"].any()


def test_values_wrap_like_formats_pack():
    layout = complex_layout(12)
    columns = {"i": np.array([2048, -2049, 4095]), "q": np.array([-1, 1 << 40, 7])}
    np.testing.assert_array_equal(pack_bytes(layout, columns),
                                  _as_bytes(pack(layout, **columns), 3))


def test_million_rows_is_fast():
    layout = framed_layout(complex_layout(18))
    rng = np.random.default_rng(5)
    columns = _random_columns(layout, 1_000_000, rng)
    start = time.process_time()
    back = unpack_bytes(layout, pack_bytes(layout, columns))
    assert time.process_time() - start < 2.0
    for name, values in columns.items():
        np.testing.assert_array_equal(back[name], values)


def test_errors():
    layout = complex_layout(12)
    with pytest.raises(KeyError, match=r"layout has no field\(s\) \['x'\]"):
        pack_bytes(layout, {"x": [1]})
    with pytest.raises(ValueError, match=r"columns differ in length: \[1, 2\]"):
        pack_bytes(layout, {"i": [1], "q": [1, 2]})
    with pytest.raises(ValueError, match=r"words must be a uint8 array of shape \(n, 3\), "
                                         r"not uint8 \(2, 4\)"):
        unpack_bytes(layout, np.zeros((2, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="field 'w' is 64 bits wide; pack_bytes handles "
                                         "fields of up to 63 bits"):
        pack_bytes(data.StructLayout({"w": 64}), {})
