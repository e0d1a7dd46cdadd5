"""Corner turn: bit-exact model of ``hdl.doppler.corner_turn.CornerTurn`` and its buffer addresses."""

import numpy as np

from ....spec.checks import check_integer

__all__ = ["corner_turn", "corner_turn_stream", "corner_turn_flags", "corner_turn_addresses"]


def _check(line_length, pulses):
    check_integer("line_length", line_length, 2)
    check_integer("pulses", pulses, 2, 4096)


def corner_turn_flags(*, line_length, pulses, cpis=1):
    """The output framing of ``cpis`` CPIs: ``(first, last, cpi_end)``, bool arrays.

    Output position ``t = r*M + m`` (range bin ``r``, pulse ``m``) has ``first``
    iff ``m = 0``, ``last`` iff ``m = M-1``, ``cpi_end`` iff ``t = L*M - 1``.
    """
    _check(line_length, pulses)
    n = line_length * pulses
    t = np.arange(n * cpis) % n
    return t % pulses == 0, t % pulses == pulses - 1, t == n - 1


def corner_turn(lines, *, pulses):
    """Bin-major order of whole CPIs of range lines (what ``CornerTurn`` outputs).

    Parameters
    ----------
    lines : array_like, shape (K*M, L, ...)
        ``K`` CPIs of ``M`` range lines of ``L`` samples each, in the order they
        enter; trailing axes (e.g. ``i``, ``q``) and the dtype are carried along.
    pulses : int
        ``M``, lines per CPI, ``2 ... 4096``.

    Returns
    -------
    data : ndarray, shape (K*L*M, ...)
        For each CPI, for each range bin ``r``, the ``M`` samples of that bin in
        pulse order: element ``k*L*M + r*M + m`` is ``lines[k*M + m, r]``.
    first, last, cpi_end : ndarray of bool, shape (K*L*M,)
        The output framing (:func:`corner_turn_flags`).
    """
    lines = np.asarray(lines)
    if lines.ndim < 2:
        raise ValueError(f"lines must be lines x samples, not shape {lines.shape}")
    length = lines.shape[1]
    _check(length, pulses)
    if lines.shape[0] % pulses:
        raise ValueError(f"lines must hold whole CPIs of pulses={pulses} lines, "
                         f"not {lines.shape[0]}")
    cpis = lines.shape[0] // pulses
    rest = lines.shape[2:]
    cube = lines.reshape(cpis, pulses, length, *rest)
    data = cube.swapaxes(1, 2).reshape(cpis * length * pulses, *rest)
    return (data, *corner_turn_flags(line_length=length, pulses=pulses, cpis=cpis))


def corner_turn_stream(data, first, last, cpi_end, *, line_length, pulses):
    """``CornerTurn`` on a framed sample stream, framing errors included.

    Parameters
    ----------
    data : array_like, shape (n, ...)
        Input samples in stream order (any dtype, trailing axes carried along).
    first, last, cpi_end : array_like of bool, shape (n,)
        The input's framing markers.
    line_length, pulses : int
        ``L >= 2`` and ``M`` in ``2 ... 4096``.

    Returns
    -------
    data, first, last, cpi_end : ndarray
        The output of every CPI the input completes, as :func:`corner_turn`; a
        final CPI the input has not completed stays in the buffer and is not
        output.
    errors : ndarray of bool, shape (n,)
        ``errors[k]``: input sample ``k`` disagreed with the position the
        block's counters gave it (``first`` iff ``r = 0``, ``last`` iff
        ``r = L-1``, ``cpi_end`` iff ``(m, r) = (M-1, L-1)``). The gateware's
        sticky ``framing_error`` after accepting sample ``k`` is
        ``errors[:k+1].any()``. Samples dropped after a long CPI are not checked.

    Notes
    -----
    Positions come from the block's own count of ``L*M`` samples per CPI. A
    sample with ``last`` and ``cpi_end`` at position ``j < L*M - 1`` ends its CPI
    early: positions ``j+1 ...`` are zeros. A CPI whose sample ``L*M - 1`` lacks
    them is cut there and the input dropped up to and including the next sample
    with both. Misplaced markers within a CPI change nothing but ``errors``.
    """
    _check(line_length, pulses)
    data = np.asarray(data)
    first, last, cpi_end = (np.asarray(x, dtype=bool) for x in (first, last, cpi_end))
    count = len(data)
    if not len(first) == len(last) == len(cpi_end) == count:
        raise ValueError(f"data, first, last and cpi_end must have one length, not "
                         f"{[count, len(first), len(last), len(cpi_end)]}")
    n = line_length * pulses
    j = np.arange(count) % n
    expect = (j % line_length == 0, j % line_length == line_length - 1, j == n - 1)
    errors = (first != expect[0]) | (last != expect[1]) | (cpi_end != expect[2])
    if not errors.any():                 # well framed: whole CPIs, no resynchronising
        whole = count // n * n
        lines = data[:whole].reshape(whole // line_length, line_length, *data.shape[1:])
        return (*corner_turn(lines, pulses=pulses), errors)
    cpis, errors = _resynchronise(data, first, last, cpi_end, line_length, n)
    lines = np.array(cpis, dtype=data.dtype).reshape(len(cpis) * pulses, line_length,
                                                      *data.shape[1:])
    return (*corner_turn(lines, pulses=pulses), errors)


def _resynchronise(data, first, last, cpi_end, line_length, n):
    """Whole CPIs (arrays of ``n`` samples) and per-sample errors, sample by sample."""
    errors = np.zeros(len(data), dtype=bool)
    cpis = []
    current = np.zeros((n, *data.shape[1:]), dtype=data.dtype)
    j, dropping = 0, False
    for k in range(len(data)):
        ends = last[k] and cpi_end[k]
        if dropping:
            dropping = not ends
            continue
        r = j % line_length
        errors[k] = (first[k] != (r == 0)) or (last[k] != (r == line_length - 1)) or \
            (cpi_end[k] != (j == n - 1))
        current[j] = data[k]
        if j == n - 1 or ends:           # complete (the rest of an early CPI stays zero)
            dropping = j == n - 1 and not ends
            cpis.append(current)
            current = np.zeros_like(current)
            j = 0
        else:
            j += 1
    return cpis, errors


def corner_turn_addresses(*, line_length, pulses, cpi):
    """Buffer address of each input sample of CPI ``cpi`` (0 after reset).

    Returns ``a(j) = j * L**cpi mod (L*M - 1)`` for ``j < L*M - 1`` and
    ``a(L*M - 1) = L*M - 1``, an int64 array of ``L*M`` addresses. CPI ``k`` is
    written in the order ``corner_turn_addresses(cpi=k)`` and read in the order
    ``corner_turn_addresses(cpi=k+1)``: each sample of CPI ``k+1`` lands in the
    word the reader of CPI ``k`` freed at the same step.
    """
    _check(line_length, pulses)
    check_integer("cpi", cpi, 0)
    n = line_length * pulses
    stride = pow(line_length, cpi, n - 1)
    address = np.arange(n, dtype=np.int64) * stride % (n - 1)
    address[-1] = n - 1
    return address
