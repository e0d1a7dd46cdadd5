"""The parameters, checks and ports that the two FFT cores share."""

from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..formats import complex_layout, framed_layout
from .fft_tables import check_fft_parameters

__all__ = ["FFTCore"]


class FFTCore(wiring.Component):
    """The parameters, checks and ports shared by the FFT cores (see :class:`~amaradar.hdl.compress.fft.FFT`); a base class, not a block of its own."""

    def __init__(self, *, n, width, twiddle_width, inverse=False, scaling=None,
                 rounding="half_even", guard_bits=2, bit_reversed=False):
        self._scaling = check_fft_parameters(n, width, twiddle_width, scaling, rounding, guard_bits)
        for name, value in (("inverse", inverse), ("bit_reversed", bit_reversed)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, not {value!r}")
        self.n, self.width, self.twiddle_width = n, width, twiddle_width
        self.inverse, self.rounding, self.guard_bits = inverse, rounding, guard_bits
        self.bit_reversed = bit_reversed
        layout = framed_layout(complex_layout(width))
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(layout)),
                          "overflow": Out(1)})

    @property
    def scaling(self):
        """The scaling schedule, one shift per radix-2 stage (a tuple)."""
        return self._scaling
