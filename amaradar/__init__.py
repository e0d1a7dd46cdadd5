"""amaradar: pulse-Doppler radar gateware in Amaranth HDL with bit-exact numpy models."""

__version__ = "0.1.0"
