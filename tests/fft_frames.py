"""Stimulus and checker shared by the FFT cores' tests (test_fft.py, test_fft_iterative.py):
random frames with random framing flags, and a comparison with amaradar.sim.models.compress.fft.fft."""

import numpy as np

from amaradar.hdl.formats import complex_layout, framed_layout, pack, unpack
from amaradar.sim.models.compress.fft import fft


def random_frames(n, width, count, seed, amplitude=1.0):
    """``count`` frames of uniform random complex ints at ``amplitude`` of full scale."""
    rng = np.random.default_rng(seed)
    top = int(amplitude * (2**(width - 1) - 1))
    return rng.integers(-top, top + 1, (count, n)) + 1j * rng.integers(-top, top + 1, (count, n))


def random_flags(n, count, seed):
    """Random framing flags per sample; ``first``/``last`` set on most frame edges."""
    rng = np.random.default_rng(seed)
    first, last, cpi_end = (rng.random((count, n)) < 0.3 for _ in range(3))
    first[:, 0] = rng.random(count) < 0.8
    last[:, -1] = rng.random(count) < 0.8
    return first, last, cpi_end


def frame_words(x, width, flags):
    first, last, cpi_end = flags
    return pack(framed_layout(complex_layout(width)), **{
        "data.i": x.real.ravel().astype(np.int64), "data.q": x.imag.ravel().astype(np.int64),
        "first": first.ravel(), "last": last.ravel(), "cpi_end": cpi_end.ravel()})


def check_fft_output(out, x, width, flags, **params):
    """Compare output words with the model and the flags with the frame edges."""
    n = x.shape[1]
    cols = unpack(framed_layout(complex_layout(width)), out)
    got = (cols["data.i"] + 1j * cols["data.q"]).reshape(x.shape)
    want, _ = fft(x, n=n, width=width, **params)
    np.testing.assert_array_equal(got, want)
    first, last, cpi_end = flags
    expect_first = np.zeros_like(first)
    expect_first[:, 0] = first[:, 0]
    expect_last = np.zeros_like(last)
    expect_last[:, -1] = last[:, -1]
    expect_cpi = np.zeros_like(cpi_end)
    expect_cpi[:, -1] = cpi_end[:, -1]
    np.testing.assert_array_equal(cols["first"].reshape(x.shape), expect_first)
    np.testing.assert_array_equal(cols["last"].reshape(x.shape), expect_last)
    np.testing.assert_array_equal(cols["cpi_end"].reshape(x.shape), expect_cpi)
