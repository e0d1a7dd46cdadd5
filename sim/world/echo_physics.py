"""What a point target does to the echo: the physics shared by the scenario's
receiver model (:func:`amaradar.sim.world.scenario.receive_iq`) and the boards'
on-chip echo presets (``amaradar.boards.build.echo_preset``).

Units are SI; phases in turns (1 turn = 2π rad).
"""

import math

from ...spec.physics import SPEED_OF_LIGHT

__all__ = ["echo_amplitude", "echo_delay_s", "carrier_phase_turns", "doppler_hz"]


def echo_amplitude(snr_db, noise_rms):
    """Amplitude ``|a|`` of a complex echo sample whose ``|a|² / E|n|²`` is ``snr_db``,
    in complex noise of ``noise_rms`` rms in I and in Q (``E|n|² = 2 noise_rms²``)."""
    return math.sqrt(10 ** (snr_db / 10) * 2) * noise_rms


def echo_delay_s(range_m):
    """Two-way delay ``2 R / c`` of an echo from ``range_m``."""
    return 2 * range_m / SPEED_OF_LIGHT


def carrier_phase_turns(range_m, wavelength_m):
    """Carrier phase of the echo from ``range_m``: ``-2 R / λ`` turns (``-4πR/λ`` rad)."""
    return -2 * range_m / wavelength_m


def doppler_hz(velocity_mps, wavelength_m):
    """Doppler shift ``f_d = -2 v / λ`` of a radial velocity (closing, ``v < 0``: ``f_d > 0``)."""
    return -2 * velocity_mps / wavelength_m
