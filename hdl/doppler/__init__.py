"""Doppler processing: corner turn, MTI cancellers, the Doppler filter bank."""
