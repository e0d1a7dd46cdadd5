"""Model of :class:`amaradar.hdl.waveform.barker_code.BarkerCode`: one Barker-13 pulse."""

import numpy as np

from ....hdl.waveform.barker_code import BARKER13
from ....hdl.formats import ADC_WIDTH
from ....hdl.waveform.sine_table import WIDTH_RANGE, amplitude
from ....spec.checks import check_integer

__all__ = ["barker13"]


def barker13(*, chip_samples, width=ADC_WIDTH):
    """One Barker-13 bi-phase pulse, bit for bit.

    Parameters
    ----------
    chip_samples : int
        Samples per chip, >= 1.
    width : int
        Bits per I and Q, 2 ... 32.

    Returns
    -------
    (i, q) : tuple of ndarray of int64, shape (13 * chip_samples,)
        ``i`` is ``+-(2**(width-1) - 1)`` LSBs following the code chip by chip,
        ``q`` is zero. The gateware repeats this pulse back to back.
    """
    chip_samples = check_integer("chip_samples", chip_samples, 1)
    width = check_integer("width", width, *WIDTH_RANGE)
    i = np.repeat(np.array(BARKER13, dtype=np.int64) * amplitude(width), chip_samples)
    return i, np.zeros_like(i)
