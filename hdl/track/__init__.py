"""Tracking: the multi-target tracker's integer tables and parameters (the gateware comes later)."""
