"""A seeded source of approximately Gaussian complex noise: sum of 12 uniforms per part."""

from amaranth import Cat, Const, Module, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..formats import NOISE_SEED_WIDTH, complex_layout
from ..numerics import shift_right
from ..stream.pipeline import delay, multiply

__all__ = [
    "LFSR_LENGTH", "LFSR_TAP", "NOISE_TERMS", "NOISE_TERM_WIDTH", "NOISE_BITS_PER_SAMPLE",
    "NOISE_SCALE_WIDTH", "NOISE_SCALE_FRAC", "NOISE_WIDTH",
    "check_seed", "lfsr_initial_state", "GaussianNoise",
]

# Bit recurrence b[n] = b[n - LFSR_LENGTH] ^ b[n - LFSR_TAP]: characteristic polynomial
# x**521 + x**32 + 1, primitive (2**521 - 1 is a Mersenne prime), period 2**521 - 1.
LFSR_LENGTH = 521
LFSR_TAP = 489
NOISE_TERMS = 12          # uniform words summed per I (and per Q) sample
NOISE_TERM_WIDTH = 8      # bits per uniform word (two's complement)
NOISE_BITS_PER_SAMPLE = 2 * NOISE_TERMS * NOISE_TERM_WIDTH
NOISE_SCALE_WIDTH = 16    # unsigned scale: rms of I and of Q in LSB, times 2**NOISE_SCALE_FRAC
NOISE_SCALE_FRAC = 8
NOISE_WIDTH = 12          # |noise| <= 1530 for every scale

_MASK64 = (1 << 64) - 1


def check_seed(seed):
    """Return ``seed`` after checking ``0 <= seed < 2**NOISE_SEED_WIDTH`` (exact messages)."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, not {seed!r}")
    if not 0 <= seed < 1 << NOISE_SEED_WIDTH:
        raise ValueError(f"seed must be between 0 and {(1 << NOISE_SEED_WIDTH) - 1}, not {seed}")
    return seed


def lfsr_initial_state(seed):
    """The ``LFSR_LENGTH`` first bits ``b[0 .. 520]`` of the sequence, bit ``n`` = ``b[n]``.

    The seed is expanded by SplitMix64 (Steele, Lea & Flood 2014) into 64-bit words,
    least significant bit first; bit 0 is then forced to one so that no seed gives the
    all-zero (dead) state. Every seed starts far from the all-zero state, and two
    seeds give unrelated sequences from the first sample on.
    """
    check_seed(seed)
    state, bits, filled = seed, 0, 0
    while filled < LFSR_LENGTH:
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        bits |= (z ^ (z >> 31)) << filled
        filled += 64
    return (bits & ((1 << LFSR_LENGTH) - 1)) | 1


class GaussianNoise(wiring.Component):
    """Independent, approximately Gaussian I and Q noise samples, one per transfer.

    Each sample consumes the next ``NOISE_BITS_PER_SAMPLE`` = 192 bits of a maximal
    length binary sequence ``b[n] = b[n-521] ^ b[n-489]`` (period ``2**521 - 1``;
    489 new bits per clock would be possible, 192 are used). Sample ``t`` takes the
    bits ``b[329 + 192*t ...]``, cuts them into 24 words of 8 bits (bit ``8*j`` is the
    least significant bit of word ``j``), reads each word as a signed integer
    ``s_j`` in ``[-128, 127]``, and forms::

        u_I = s_0 + ... + s_11 + 6            u_Q = s_12 + ... + s_23 + 6
        I = round_half_even(u_I * scale / 2**16)   (same for Q)

    ``u = sum (s_j + 1/2)`` is a sum of 12 independent uniforms with zero mean,
    symmetric, variance exactly ``4**8 - 1 = 65535`` and bounded by ``|u| <= 1530``.

    Parameters
    ----------
    seed : int
        ``0 <= seed < 2**NOISE_SEED_WIDTH``: selects the sequence (see
        :func:`lfsr_initial_state`). A parameter: the initial state is the reset
        value of the generator, so it costs no logic.

    Members
    -------
    scale : In(unsigned(NOISE_SCALE_WIDTH))
        Noise amplitude: the rms of I and of Q is ``scale / 2**8`` LSB (before the
        output rounding), 0 ... 255.996 LSB. Read when a sample is scaled.
    o : Out(stream.Signature(complex_layout(NOISE_WIDTH)))
        The noise samples.

    Bit growth
    ----------
    ``u`` needs 12 bits (``|u| <= 1530``); ``u * scale`` 28 bits; after the shift by
    16 the result is at most ``round(1530 * 65535 / 65536) = 1530`` in magnitude, so
    ``NOISE_WIDTH`` = 12 bits hold it without saturation.

    Rounding/overflow
    -----------------
    ``u * scale`` is rounded half to even, which is odd-symmetric: the output has
    exactly zero mean. No overflow is possible.

    Statistics
    ----------
    Variance of I (and of Q) ``= (scale/256)**2 * (1 - 2**-16)`` before the output
    rounding, which adds about ``1/12`` LSB**2 when the rms is a few LSB or more. I and
    Q use disjoint bits. Kurtosis of ``u``: ``3 - 6/(5*12) = 2.9`` up to the
    discreteness of the 8-bit words (2.899997).

    Tails are lighter than Gaussian: there are none beyond ``1530/255.998 = 5.977``
    rms, and the exact distribution of ``u`` (the 12-fold convolution of the word
    distribution) gives ``P(|u| > k rms) / P(|N(0,1)| > k)`` = 1.02, 0.98, 0.75,
    0.53, 0.27, 0.08, 0.007 for k = 1, 2, 3, 3.5, 4, 4.5, 5. For the complex power
    ``I**2 + Q**2`` against a threshold set for an exponential false-alarm rate
    ``pfa`` the true rate is 0.99, 0.84, 0.60, 0.34, 0.062 times ``pfa`` for
    ``pfa`` = 1e-1, 1e-2, 1e-3, 1e-4, 1e-6: CFAR false-alarm measurements below
    about 1e-2 with this source read low.

    Latency/throughput
    ------------------
    One sample per clock after a 4-cycle fill (the sum of the words, the
    multiplier's operand register, the product, the rounded output). All stages advance on
    ``~o.valid | o.ready``; the generator advances only when its words enter the
    pipeline, which happens exactly once per output transfer, so the sequence does
    not depend on stalls.

    Model
    -----
    :func:`amaradar.sim.models.waveform.gaussian_noise.gaussian_noise`.
    """

    def __init__(self, *, seed=0):
        self._init = lfsr_initial_state(seed)
        self.seed = seed
        super().__init__({
            "scale": In(unsigned(NOISE_SCALE_WIDTH)),
            "o": Out(stream.Signature(complex_layout(NOISE_WIDTH))),
        })

    def elaborate(self, platform):
        m = Module()
        en = ~self.o.valid | self.o.ready
        history = Signal(LFSR_LENGTH, init=self._init)   # bit i = b[n - 521 + i]
        step = NOISE_BITS_PER_SAMPLE
        fresh = history[:step] ^ history[LFSR_LENGTH - LFSR_TAP:LFSR_LENGTH - LFSR_TAP + step]
        with m.If(en):
            m.d.sync += history.eq(Cat(history[step:], fresh))
        block = history[LFSR_LENGTH - step:]
        words = [block[j * NOISE_TERM_WIDTH:(j + 1) * NOISE_TERM_WIDTH].as_signed()
                 for j in range(2 * NOISE_TERMS)]
        latency = 0
        for part in ("i", "q"):
            # Stage 1: the sum of the words plus the offset (a balanced adder tree);
            # then the multiplier's operand register, the product and the rounded
            # output.
            terms = words[:NOISE_TERMS] if part == "i" else words[NOISE_TERMS:]
            while len(terms) > 1:
                terms = [sum(terms[j:j + 2]) for j in range(0, len(terms), 2)]
            total = Signal(signed(NOISE_WIDTH), name=f"sum_{part}", reset_less=True)
            with m.If(en):
                m.d.sync += total.eq(terms[0] + NOISE_TERMS // 2)
            product, latency = multiply(m, en, self.scale, total, f"scaled_{part}", a_static=True)
            with m.If(en):
                m.d.sync += self.o.payload[part].eq(
                    shift_right(product, NOISE_TERM_WIDTH + NOISE_SCALE_FRAC, "half_even"))
        m.d.comb += self.o.valid.eq(delay(m, en, Const(1), latency + 2, "valid", reset_less=False))
        return m
