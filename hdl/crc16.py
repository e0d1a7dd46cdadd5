"""Byte-at-a-time CRC-16/CCITT-FALSE, the check word of the report link."""

from amaranth import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..link import CRC_INIT, CRC_POLY

__all__ = ["Crc16"]


class Crc16(wiring.Component):
    """CRC-16/CCITT-FALSE register that absorbs one byte per clock.

    Polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR: the CRC
    of the report link (``amaradar.link``). The eight bit steps of a byte are
    unrolled into one combinational XOR network in front of the register.

    Parameters
    ----------
    None.

    Members
    -------
    data : In(8)
        Byte to absorb, most significant bit first.
    en : In(1)
        Absorb ``data`` at this clock edge.
    clear : In(1)
        Restart from 0xFFFF at this clock edge; with ``en`` also set, ``data`` is
        the first byte of the new CRC.
    crc : Out(16, init=0xFFFF)
        CRC of the bytes absorbed since the last ``clear`` (or reset).

    Bit growth
    ----------
    None: a 16-bit register.

    Rounding/overflow
    -----------------
    None (modulo-2 arithmetic).

    Latency/throughput
    ------------------
    ``crc`` includes a byte one clock after its ``en``; one byte per clock.

    Model
    -----
    ``amaradar.link.crc16``.
    """

    data: In(8)
    en: In(1)
    clear: In(1)
    crc: Out(16, init=CRC_INIT)

    def elaborate(self, platform):
        m = Module()
        crc = Mux(self.clear, CRC_INIT, self.crc) ^ (self.data << 8)
        for _ in range(8):
            crc = (crc << 1)[:16] ^ Mux(crc[15], CRC_POLY, 0)
        with m.If(self.en):
            m.d.sync += self.crc.eq(crc)
        with m.Elif(self.clear):
            m.d.sync += self.crc.eq(CRC_INIT)
        return m
