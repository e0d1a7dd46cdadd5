"""Bit-exact model of :class:`amaradar.hdl.link.report_framer.ReportFramer`'s output bytes."""

import numpy as np

from ....spec.link import Detection, Plot, Status, Track, encode
from ....spec.records import RESET_FLAG

__all__ = ["report_framer"]

_COUNTER_MAX = (1 << 32) - 1


def report_framer(events, *, cap):
    """Bytes the framer emits for a sequence of reports and status frames.

    The per-CPI cap is modelled; drops because the queue is full depend on the
    timing of the byte output and are not: the result is exact whenever the
    framer's queue never overflows (``dropped_full`` stays 0).

    Parameters
    ----------
    events : sequence of amaradar.spec.link.Detection, .Plot or .Track, and .Status
        In the order the framer sees them. A ``Status`` stands for a status frame
        and holds the framer's status input ports at the clock the frame starts;
        its ``dropped_cap`` and ``dropped_full`` are ignored and replaced by the
        framer's own counters. The gateware sends a status frame right after
        reset, so a run from reset starts with a ``Status``; the first ``Status``
        has the ``reset`` bit (``records.RESET_FLAG``) ORed into its ``flags``.
    cap : int
        Most report frames per CPI (a new CPI starts when ``cpi`` changes from
        one report to the next).

    Returns
    -------
    out : ndarray of int64
        The bytes, 0 to 255, in the order they leave ``o``.
    dropped_cap : int
        Reports dropped by the cap.
    """
    out = bytearray()
    cpi, taken, dropped_cap, reset = None, 0, 0, RESET_FLAG
    for event in events:
        if isinstance(event, Status):
            out += encode(event._replace(flags=event.flags | reset, dropped_cap=dropped_cap,
                                         dropped_full=0))
            reset = 0
        elif isinstance(event, (Detection, Plot, Track)):
            if event.cpi != cpi:
                cpi, taken = event.cpi, 0
            if taken < cap:
                taken += 1
                out += encode(event)
            else:
                dropped_cap = min(dropped_cap + 1, _COUNTER_MAX)
        else:
            raise TypeError(f"events must be Detection, Plot, Track or Status, not "
                            f"{type(event).__name__}")
    return np.frombuffer(bytes(out), dtype=np.uint8).astype(np.int64), dropped_cap
