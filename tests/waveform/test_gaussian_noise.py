import numpy as np
import pytest
from scipy import stats

from amaradar.hdl.formats import complex_layout, unpack
from amaradar.hdl.waveform.gaussian_noise import (LFSR_LENGTH, LFSR_TAP, NOISE_WIDTH,
                                                  GaussianNoise, lfsr_initial_state)
from amaradar.sim.models.waveform.gaussian_noise import gaussian_noise, lfsr_bits, noise_sums, noise_variance

from amaradar.sim.engines.streams import cocotb_stream, simulate_stream

N = 400_000
Z = 5.0   # every statistical bound below is Z standard errors of its estimator


def _word_distribution_convolved():
    """Exact pmf of u = sum of 12 signed 8-bit uniform words + 6, on -1530 ... 1530."""
    word = np.full(256, 1 / 256)
    pmf = word
    for _ in range(11):
        pmf = np.convolve(pmf, word)
    return np.arange(-1530, 1531), pmf


def _gf2_mulmod(a, b, poly, degree):
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a <<= 1
        if a >> degree & 1:
            a ^= poly
    return result


def test_lfsr_polynomial_is_primitive():
    # x**p + x**(p - tap) + 1 of prime degree p is irreducible iff x**(2**p) = x modulo
    # it (it has no root: f(0) = f(1) = 1); 2**521 - 1 is prime, so irreducible means
    # primitive and the sequence has period 2**521 - 1.
    poly = (1 << LFSR_LENGTH) | (1 << (LFSR_LENGTH - LFSR_TAP)) | 1
    x = 2
    for _ in range(LFSR_LENGTH):
        x = _gf2_mulmod(x, x, poly, LFSR_LENGTH)
    assert x == 2
    wrong = (1 << LFSR_LENGTH) | (1 << 33) | 1      # the check can fail
    y = 2
    for _ in range(LFSR_LENGTH):
        y = _gf2_mulmod(y, y, wrong, LFSR_LENGTH)
    assert y != 2


def test_lfsr_bits_follow_the_recurrence():
    init = lfsr_initial_state(11)
    naive = [(init >> n) & 1 for n in range(LFSR_LENGTH)]
    for n in range(LFSR_LENGTH, 6000):
        naive.append(naive[n - LFSR_LENGTH] ^ naive[n - LFSR_TAP])
    bits = lfsr_bits(3_000_000, seed=11)
    assert np.array_equal(bits[:6000], naive)
    n = np.arange(LFSR_LENGTH, bits.size)
    assert np.array_equal(bits[n], bits[n - LFSR_LENGTH] ^ bits[n - LFSR_TAP])


def test_initial_state_is_never_dead_and_depends_on_seed():
    states = {lfsr_initial_state(s) for s in (0, 1, 2, 2**32 - 1)}
    assert len(states) == 4 and 0 not in states
    assert all(s < 1 << LFSR_LENGTH for s in states)


def test_noise_sums_statistics():
    u_i, u_q = noise_sums(N, seed=1)
    values, pmf = _word_distribution_convolved()
    var = 65535.0
    kurt = float((pmf * values.astype(float) ** 4).sum() / var**2)
    assert kurt == pytest.approx(2.9, abs=1e-5)
    for u in (u_i, u_q):
        assert np.abs(u).max() <= 1530
        assert abs(u.mean()) < Z * np.sqrt(var / N)
        assert abs(u.var() / var - 1) < Z * np.sqrt((kurt - 1) / N)
        assert abs(stats.kurtosis(u, fisher=False) - kurt) < Z * np.sqrt(24 / N)
        # whiteness: lags 1 ... 3 uncorrelated
        for lag in (1, 2, 3):
            assert abs(np.corrcoef(u[lag:], u[:-lag])[0, 1]) < Z / np.sqrt(N)
        # tail beyond 3 rms: the exact Irwin-Hall-like value, not the Gaussian one
        p3 = pmf[np.abs(values) > 3 * np.sqrt(var)].sum()
        assert p3 == pytest.approx(0.75 * 2 * stats.norm.sf(3), rel=0.01)
        hits = np.count_nonzero(np.abs(u) > 3 * np.sqrt(var))
        assert abs(hits - N * p3) < Z * np.sqrt(N * p3)
    assert abs(np.corrcoef(u_i, u_q)[0, 1]) < Z / np.sqrt(N)


@pytest.mark.parametrize("scale", [256 * 32, 256 * 4 + 77])
def test_scaled_noise_variance(scale):
    x = gaussian_noise(N, scale=scale, seed=2)
    expected = noise_variance(scale) + 1 / 12
    for part in (x.real, x.imag):
        assert np.all(part == np.round(part))
        assert abs(part.mean()) < Z * np.sqrt(expected / N)
        assert abs(part.var() / expected - 1) < Z * np.sqrt(1.9 / N)
    assert abs(np.corrcoef(x.real, x.imag)[0, 1]) < Z / np.sqrt(N)


def test_seeds_give_uncorrelated_sequences_from_the_start():
    a = gaussian_noise(20_000, scale=256 * 16, seed=0)
    b = gaussian_noise(20_000, scale=256 * 16, seed=1)
    assert abs(np.corrcoef(a.real, b.real)[0, 1]) < Z / np.sqrt(a.size)
    assert abs(np.corrcoef(a.real[:200], b.real[:200])[0, 1]) < Z / np.sqrt(200)


def test_zero_scale_is_silent():
    assert not np.any(gaussian_noise(1000, scale=0, seed=3))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(seed=-1), ValueError, "seed must be between 0 and 4294967295, not -1"),
    (dict(seed=2**32), ValueError, "seed must be between 0 and 4294967295, not 4294967296"),
    (dict(seed=1.5), TypeError, "seed must be an integer, not 1.5"),
])
@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        GaussianNoise(**kwargs)
    with pytest.raises(error, match=f"^{message}$"):
        gaussian_noise(10, scale=256, **kwargs)


def test_model_scale_errors():
    with pytest.raises(ValueError, match="^scale must be between 0 and 65535, not 65536$"):
        gaussian_noise(10, scale=65536)
    with pytest.raises(TypeError, match="^scale must be an integer, not 2.0$"):
        gaussian_noise(10, scale=2.0)


def _check(words, scale, seed):
    got = unpack(complex_layout(NOISE_WIDTH), words)
    ref = gaussian_noise(len(words), scale=scale, seed=seed)
    np.testing.assert_array_equal(got["i"], ref.real)
    np.testing.assert_array_equal(got["q"], ref.imag)


@pytest.mark.parametrize("p_stall", [0.0, 0.5])
def test_gateware_matches_model(p_stall):
    words = simulate_stream(GaussianNoise(seed=9), None, 400, p_out_stall=p_stall, seed=4,
                            ports={"scale": 65535})
    _check(words, 65535, 9)


def test_gateware_cocotb():
    words = cocotb_stream(GaussianNoise(seed=123456789), "gaussian_noise", None, 2000,
                          p_out_stall=0.4, seed=5, ports={"scale": 3 * 256 + 5})
    _check(words, 3 * 256 + 5, 123456789)
