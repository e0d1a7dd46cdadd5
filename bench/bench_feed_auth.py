"""Cost of the authenticated feed: sealing and verifying datagrams per second.

Seals and verifies ``DATAGRAMS`` datagrams (a twentieth of them for the largest) of each payload size (a CPI of a few
plots is about 100 bytes of ASTERIX; 1400 bytes fills an Ethernet frame; 65475
is the largest sealed payload a UDP datagram holds) with one site's key, on one
core: best of ``REPEATS``, in datagrams per second and microseconds each. The
machine is shared: its load average is recorded with the figures.
Writes bench/results/feed_auth.json. Usage: ``python3 bench/bench_feed_auth.py``.
"""

import os
import time
from pathlib import Path

from amaradar.host.asterix import MAX_DATAGRAM
from amaradar.host.feed_auth import OVERHEAD_BYTES, Accepted, FeedSealer, FeedVerifier
from machine import run_and_write

SIZES = (100, 1400, MAX_DATAGRAM - OVERHEAD_BYTES)
DATAGRAMS = 20000
REPEATS = 3
SITE = (25, 1)


def _best_rate(fresh_action, items):
    """Items per second of ``fresh_action()`` (a new one each run) over ``items``, the
    best of ``REPEATS`` runs."""
    best = 0.0
    for _ in range(REPEATS):
        action = fresh_action()
        start = time.perf_counter()
        for item in items:
            action(item)
        best = max(best, len(items) / (time.perf_counter() - start))
    return best


def bench():
    key = os.urandom(32)
    results = {"repeats": REPEATS, "sizes": []}
    for size in SIZES:
        count = DATAGRAMS if size < 10000 else DATAGRAMS // 20
        payload = os.urandom(size)
        sealer = FeedSealer(SITE, key, first_sequence=0)
        sealed = [sealer.seal(payload) for _ in range(count)]
        seal_rate = _best_rate(lambda: FeedSealer(SITE, key, first_sequence=0).seal,
                               [payload] * count)
        verify_rate = _best_rate(lambda: FeedVerifier({SITE: key}).verify, sealed)
        accepted = FeedVerifier({SITE: key})
        assert all(isinstance(accepted.verify(d), Accepted) for d in sealed)
        results["sizes"].append({"payload_bytes": size, "datagrams": count,
                                 "seal_per_s": round(seal_rate), "seal_us": round(1e6 / seal_rate, 2),
                                 "verify_per_s": round(verify_rate),
                                 "verify_us": round(1e6 / verify_rate, 2)})
        print(results["sizes"][-1])
    return results


if __name__ == "__main__":
    run_and_write(bench, Path(__file__).parent / "results" / "feed_auth.json")
