"""Float test pulses and compression measures shared by the pulse-compression and CFAR tests."""

import numpy as np
from scipy import signal

__all__ = ["centred_lfm", "quantise", "peak_sidelobe_db"]


def centred_lfm(bt, oversample):
    """Unit LFM pulse of time-bandwidth product ``bt`` sampled at fs = ``oversample`` * B.

    ``round(bt * oversample)`` samples sweeping B through 0 Hz at the middle sample,
    so the pulse is symmetric in time (as the chain's transmit pulse is).
    """
    n = round(bt * oversample)
    t = (np.arange(n) - (n - 1) / 2) / oversample   # in units of 1/B
    return np.exp(1j * np.pi * t ** 2 / bt)
def quantise(x):
    """``x`` rounded to complex integers (half to even)."""
    return np.round(x.real) + 1j * np.round(x.imag)


def peak_sidelobe_db(y, upsample=16):
    """Peak sidelobe ratio of |y| band-limited interpolated ``upsample`` times (dB)."""
    mag = np.abs(signal.resample(y, len(y) * upsample))
    peak = int(np.argmax(mag))
    left, right = peak, peak
    while left > 0 and mag[left - 1] < mag[left]:
        left -= 1
    while right < len(mag) - 1 and mag[right + 1] < mag[right]:
        right += 1
    sidelobes = np.concatenate([mag[:left], mag[right + 1:]])
    return 20 * np.log10(sidelobes.max() / mag[peak])
