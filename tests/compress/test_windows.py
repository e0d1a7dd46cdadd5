"""Windows: textbook sidelobe levels (Harris 1978), quantisation to ROM words."""

import numpy as np
import pytest
from scipy.signal import find_peaks

from amaradar.sim.models.compress.windows import WINDOWS, quantize_window, window


def _sidelobes_db(weights, pad=64):
    """Sidelobe peaks (dB below the main lobe), nearest first, from a padded DFT."""
    spectrum = np.abs(np.fft.fft(weights, len(weights) * pad))[: len(weights) * pad // 2]
    db = 20 * np.log10(np.maximum(spectrum / spectrum.max(), 1e-12))
    peaks, _ = find_peaks(db)
    return db[peaks]


@pytest.mark.parametrize("name, psl_db, tolerance", [
    ("rectangular", -13.26, 0.05),
    ("hamming", -42.68, 0.1),
    ("hann", -31.47, 0.05),
    ("blackman_harris", -92.0, 0.2),
])
def test_peak_sidelobe_levels(name, psl_db, tolerance):
    for length in (257, 1024):
        assert abs(_sidelobes_db(window(name, length)).max() - psl_db) <= tolerance


def test_taylor_35_db_nbar_5():
    lobes = _sidelobes_db(window("taylor", 1024, nbar=5, sll=35))
    # The first nbar - 1 sidelobes sit near the design level, then they fall off.
    assert -35.5 <= lobes.max() <= -34.9
    assert -36.0 <= np.mean(lobes[:4]) <= -35.0
    assert lobes[8] < -38


def test_windows_are_symmetric_and_peak_at_one():
    for name in WINDOWS:
        w = window(name, 101)
        np.testing.assert_allclose(w, w[::-1], atol=1e-12)
        assert abs(w.max() - 1) < 1e-12


def test_quantized_hamming_keeps_its_sidelobes():
    words = quantize_window(window("hamming", 1024), 16)
    assert words.max() == 2**16 - 1 and words.min() >= 0
    assert abs(_sidelobes_db(words.astype(float)).max() + 42.68) <= 0.1


def test_quantize_rounds_half_to_even():
    # 2**2 - 1 = 3: weights 1/6 -> 0.5 -> 0, 1/2 -> 1.5 -> 2, 5/6 -> 2.5 -> 2.
    np.testing.assert_array_equal(quantize_window([1 / 6, 0.5, 5 / 6, 1.0], 2), [0, 2, 2, 3])


@pytest.mark.parametrize("call, message", [
    (lambda: window("kaiser", 8), f"name must be one of {WINDOWS}, not 'kaiser'"),
    (lambda: window("hann", 0), "length must be an integer >= 1, not 0"),
    (lambda: window("taylor", 8, nbar=0), "nbar must be an integer >= 1, not 0"),
    (lambda: window("taylor", 8, sll=-3), "sll must be a positive number of dB, not -3"),
    (lambda: quantize_window([0.5], 1), "width must be between 2 and 32, not 1"),
    (lambda: quantize_window([1.5], 8), "weights must lie in [0, 1]"),
])
def test_window_errors(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message
