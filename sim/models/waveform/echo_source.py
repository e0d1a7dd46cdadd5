"""Models of :class:`amaradar.hdl.waveform.echo_source.EchoSource`: bit-exact and ideal.

Complex int arrays are numpy complex arrays with integer real and imaginary parts
(as in :mod:`amaradar.sim.models.compress.matched_filter`). A *target* is a dict with the fields of
:func:`amaradar.hdl.waveform.echo_source.target_layout`::

    {"delay": 10, "amplitude": 40000, "phase": 0, "doppler": 1200, "enable": True}

``delay`` in samples (0 ... L-1), ``amplitude`` in units of 2**-16 (0 ... 65535),
``phase`` and ``doppler`` in turns * 2**16 (any integer, taken modulo 2**16);
``phase``, ``doppler`` and ``enable`` may be left out (0, 0, True).
"""

import numpy as np
from amaranth.lib import data

from ....hdl.waveform.echo_source import (AMPLITUDE_WIDTH, PHASE_TABLE_BITS, PHASE_WIDTH,
                                          ROTATOR_WIDTH, check_echo_parameters, phase_table,
                                          target_layout)
from ....hdl.formats import ADC_WIDTH
from .gaussian_noise import check_scale, gaussian_noise
from ..numerics import saturate, shift_right

__all__ = ["target_entries", "targets_value", "echo_lines", "echo_lines_ideal"]

_FIELDS = ("enable", "delay", "amplitude", "phase", "doppler")


def target_entries(targets, *, line_length, max_targets):
    """Checked port entries for ``targets``, padded with disabled targets to ``max_targets``.

    Returns
    -------
    list of dict
        ``max_targets`` dicts with every field of ``target_layout(line_length)``; a
        valid initializer of ``data.ArrayLayout(target_layout(line_length), max_targets)``
        (what ``ctx.set(dut.targets, ...)`` takes in an Amaranth testbench).
    """
    targets = list(targets)
    if len(targets) > max_targets:
        raise ValueError(f"targets has {len(targets)} entries, more than max_targets "
                         f"{max_targets}")
    modulus = 1 << PHASE_WIDTH
    entries = []
    for n, target in enumerate(targets):
        unknown = set(target) - set(_FIELDS)
        if unknown:
            raise ValueError(f"targets[{n}] has unknown field(s) {sorted(unknown)}; "
                             f"allowed: {list(_FIELDS)}")
        entry = {"enable": int(bool(target.get("enable", True)))}
        for name, high in (("delay", line_length - 1), ("amplitude", (1 << AMPLITUDE_WIDTH) - 1)):
            if name not in target:
                raise ValueError(f"targets[{n}] needs a {name!r}")
            value = target[name]
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) \
                    or not 0 <= value <= high:
                raise ValueError(f"targets[{n}][{name!r}] must be an integer between 0 and "
                                 f"{high}, not {value!r}")
            entry[name] = int(value)
        for name in ("phase", "doppler"):
            value = target.get(name, 0)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise ValueError(f"targets[{n}][{name!r}] must be an integer, not {value!r}")
            entry[name] = int(value) % modulus
        entries.append(entry)
    off = dict.fromkeys(_FIELDS, 0)
    return entries + [off] * (max_targets - len(entries))


def targets_value(targets, *, line_length, max_targets):
    """The ``targets`` port as one integer: the flattened Verilog port ``targets``."""
    layout = data.ArrayLayout(target_layout(line_length), max_targets)
    entries = target_entries(targets, line_length=line_length, max_targets=max_targets)
    return layout.const(entries).as_bits()


def echo_lines(*, pulse, pulse_width, line_length, pulses_per_cpi, targets=(), noise_scale=0,
               seed=0, lines, width=ADC_WIDTH, full_output=False, switches=()):
    """The first ``lines`` range lines of the echo source, bit for bit.

    Parameters
    ----------
    pulse : array_like of complex int, shape (P,)
        Transmitted pulse, as given to the gateware.
    pulse_width : int
        Bits of each pulse part, 2 ... 32.
    line_length : int
        Samples per range line L, >= 1.
    pulses_per_cpi : int
        Range lines per CPI M, >= 1.
    targets : sequence of dict
        Point targets (see the module docstring); any number.
    noise_scale : int
        Noise rms per part in units of 1/256 LSB, 0 ... 65535.
    seed : int
        Noise seed, ``0 <= seed < 2**32``.
    lines : int
        Range lines to produce, >= 0, counted from reset.
    width : int
        ADC bits per part, 2 ... 32.
    full_output : bool
        Also return the saturation flags and the CPI ends.
    switches : sequence of (int, sequence of dict)
        ``(line, targets)``, lines increasing, each the first line of a CPI: from
        that line on the source plays these targets, its Doppler phases restarted
        there (the gateware's ``restart``: line ``n`` has ``phase + (n - line) *
        doppler``). The noise runs on.

    Returns
    -------
    iq : ndarray of complex128, shape (lines, L)
        Integer parts in ADC LSB, saturated to ``width`` bits.
    overflow : ndarray of bool, shape (lines, L)
        Only with ``full_output``: I or Q of the sample was saturated (the gateware's
        ``overflow`` flag rises at the first such sample and stays).
    cpi_end : ndarray of bool, shape (lines,)
        Only with ``full_output``: the line ends a CPI (its last sample has ``cpi_end``).
    """
    pulse_i, pulse_q = check_echo_parameters(
        pulse=pulse, pulse_width=pulse_width, line_length=line_length,
        pulses_per_cpi=pulses_per_cpi, width=width, seed=seed)
    check_scale(noise_scale, "noise_scale")
    if not isinstance(lines, (int, np.integer)) or isinstance(lines, bool) or lines < 0:
        raise ValueError(f"lines must be a non-negative integer, not {lines!r}")
    segments = [(0, targets), *switches]
    starts = [start for start, _ in segments]
    if any(not isinstance(s, (int, np.integer)) or s % pulses_per_cpi for s in starts[1:]) \
            or starts != sorted(set(starts)):
        raise ValueError(f"switches must be at increasing CPI starts (multiples of "
                         f"pulses_per_cpi {pulses_per_cpi}) after line 0, not at "
                         f"{starts[1:]}")
    noise = gaussian_noise(lines * line_length, scale=noise_scale, seed=seed)
    total_i = noise.real.astype(np.int64).reshape(lines, line_length)
    total_q = noise.imag.astype(np.int64).reshape(lines, line_length)
    for (start, played), stop in zip(segments, starts[1:] + [lines]):
        _add_echoes(total_i[start:stop], total_q[start:stop], pulse_i, pulse_q, played)
    out_i, over_i = saturate(total_i, width)
    out_q, over_q = saturate(total_q, width)
    iq = out_i + 1j * out_q
    if not full_output:
        return iq
    index = np.arange(lines, dtype=np.int64)
    return iq, over_i | over_q, (index % pulses_per_cpi) == pulses_per_cpi - 1


def _add_echoes(total_i, total_q, pulse_i, pulse_q, targets):
    """Add the echoes of ``targets`` to lines ``n = 0, 1, ...`` of ``total_i``/``total_q``."""
    lines, line_length = total_i.shape
    targets = list(targets)
    table = np.array(phase_table(), dtype=np.int64)
    index = np.arange(lines, dtype=np.int64)
    entries = target_entries(targets, line_length=line_length, max_targets=len(targets))
    for target in entries:
        if not target["enable"]:
            continue
        phase = (target["phase"] + index * target["doppler"]) % (1 << PHASE_WIDTH)
        rot = table[phase >> (PHASE_WIDTH - PHASE_TABLE_BITS)]
        gain_i, gain_q = (shift_right(target["amplitude"] * rot[:, n], AMPLITUDE_WIDTH,
                                      "half_even")[:, None] for n in (0, 1))
        span = slice(target["delay"], min(line_length, target["delay"] + pulse_i.size))
        p_i = pulse_i[:span.stop - span.start]
        p_q = pulse_q[:span.stop - span.start]
        total_i[:, span] += shift_right(gain_i * p_i - gain_q * p_q, ROTATOR_WIDTH - 1,
                                        "half_even")
        total_q[:, span] += shift_right(gain_i * p_q + gain_q * p_i, ROTATOR_WIDTH - 1,
                                        "half_even")


def echo_lines_ideal(*, pulse, line_length, targets=(), lines):
    """Noise-free float echoes: exact gains and phases, no rounding, no saturation.

    Line ``n``, sample ``k``: the sum over enabled targets of
    ``amplitude/2**16 * exp(2j*pi*(phase + n*doppler)/2**16) * pulse[k - delay]``.

    Returns
    -------
    ndarray of complex128, shape (lines, L)
    """
    pulse = np.asarray(pulse, dtype=np.complex128)
    targets = list(targets)
    entries = target_entries(targets, line_length=line_length, max_targets=len(targets))
    out = np.zeros((lines, line_length), dtype=np.complex128)
    index = np.arange(lines)
    for target in entries:
        if not target["enable"]:
            continue
        turns = (target["phase"] + index * target["doppler"]) / (1 << PHASE_WIDTH)
        gain = target["amplitude"] / (1 << AMPLITUDE_WIDTH) * np.exp(2j * np.pi * turns)
        span = slice(target["delay"], min(line_length, target["delay"] + pulse.size))
        out[:, span] += gain[:, None] * pulse[:span.stop - span.start]
    return out
