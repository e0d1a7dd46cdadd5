"""Bit-exact numpy models of ``amaradar.hdl.doppler``."""
