"""The joint decision: which system tracks are threats, by a rule across the sites.

A system track is *threatening* when it closes on the defended point (default:
the first site) at ``closing_mps`` or faster and would reach it within
``time_to_reach_s`` (distance / closing speed, from the system track's state). A
site *sees* it when one of its site tracks updated it within ``fresh_s``. The rule
says how many sites must see a threatening track to declare it: ``any`` (one),
``all`` (every site; ``both`` is the same for two sites) or ``k_of_n`` (``k``).
A threatening track the rule does not carry is *withheld*. Each change of a
track's decision is logged with the evidence of every site (its track number,
the time, range and range rate it measured last) and why.
"""

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["RULES", "JointRule", "parse_rule", "Decisions"]

RULES = ("any", "all", "both", "k_of_n")


@dataclass(frozen=True)
class JointRule:
    kind: str = "any"
    k: int = 1
    closing_mps: float = 300.0
    time_to_reach_s: float = 600.0
    fresh_s: float = 1.0

    def needed(self, sites):
        return {"any": 1, "all": sites, "both": sites, "k_of_n": self.k}[self.kind]

    @property
    def name(self):
        return f"{self.kind}:{self.k}" if self.kind == "k_of_n" else self.kind


def parse_rule(text, sites, **thresholds):
    """A :class:`JointRule` of ``any``, ``all``, ``both`` or ``k_of_n:K``; ``ValueError``
    with one line naming the rule otherwise."""
    kind, _, k = str(text).partition(":")
    allowed = f"allowed: any, all, both, k_of_n:K with K from 1 to {sites}"
    if kind not in RULES or (kind == "k_of_n") != bool(k):
        raise ValueError(f"rule {text!r} is not known ({allowed})")
    if kind == "both" and sites != 2:
        raise ValueError(f"rule 'both' needs two sites, not {sites} ({allowed})")
    if kind == "k_of_n" and not (k.isdigit() and 1 <= int(k) <= sites):
        raise ValueError(f"rule {text!r}: K must be from 1 to {sites} ({allowed})")
    for name, value in thresholds.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, not {value!r}")
    return JointRule(kind, int(k) if k else 1, **thresholds)


class Decisions:
    """Evaluate ``rule`` on the system tracks step by step; ``log`` holds the entries."""

    def __init__(self, rule, site_names, defended_m=(0.0, 0.0)):
        self.rule, self.site_names = rule, list(site_names)
        self.defended = np.asarray(defended_m, dtype=np.float64)
        self.state, self.log = {}, []

    def step(self, time_s, tracks):
        for track in tracks:
            x = track.filter.x
            offset = self.defended - x[:2]
            distance = float(np.hypot(*offset))
            closing = float(x[2:] @ offset / distance) if distance else 0.0
            reach = distance / closing if closing > 0 else math.inf
            if not (closing >= self.rule.closing_mps and reach <= self.rule.time_to_reach_s):
                continue
            seen = {s: track.evidence[s] for s in self.site_names if s in track.evidence
                    and time_s - track.evidence[s].time_s <= self.rule.fresh_s}
            needed = self.rule.needed(len(self.site_names))
            decision = "declared" if len(seen) >= needed else "withheld"
            if self.state.get(track.track_id) == decision:
                continue
            self.state[track.track_id] = decision
            kinematics = (f"closing {closing:.0f} m/s >= {self.rule.closing_mps:g}, reaches the "
                          f"defended point in {reach:.1f} s <= {self.rule.time_to_reach_s:g}")
            missing = [s for s in self.site_names if s not in seen]
            why = (f"{kinematics}; rule {self.rule.name} needs {needed} of "
                   f"{len(self.site_names)} sites, {len(seen)} see it"
                   + (f" ({', '.join(missing)}: no fresh track)" if missing else ""))
            self.log.append({
                "time_s": time_s, "system_track_id": track.track_id, "decision": decision,
                "rule": self.rule.name, "why": why, "closing_mps": closing,
                "time_to_reach_s": reach, "east_m": float(x[0]), "north_m": float(x[1]),
                "sites": {s: ({"sees": True, "track_number": r.track_number, "time_s": r.time_s,
                               "range_m": r.range_m, "range_rate_mps": r.range_rate_mps}
                              if (r := seen.get(s)) else {"sees": False})
                          for s in self.site_names}})
