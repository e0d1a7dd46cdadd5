"""The joint centre's picture: system tracks from the sites' track reports.

Time alignment: the centre steps at a fixed period (by default the fastest site's
CPI: the shortest median interval between a site's successive report times). At
the step at ``t``, each site track's latest report of ``(t - period, t]`` is
extrapolated to ``t`` with its own range rate (``range + rate (t - t_report)``);
its noise grows by ``rate_sigma |t - t_report|``.

A system track holds at most one site track of each site (by SAC/SIC and track
number) and runs a :class:`~.estimator.TrackFilter`. At each step it is predicted
to ``t`` and updated with its site tracks' measurements that pass a gate (NIS of
range and range rate below ``gate``). Its ``sites`` at a step are those whose
measurements updated it, joined by ``+``: two or more, a fused track; one, a
degraded track (the bearing pseudo-measurement bounds its cross-range); none, a
coasting track. A site track that has not reported for ``member_memory_s`` leaves
its system track; a system track without an update for ``drop_s`` is dropped.
So when a site's stream stops, its system tracks coast on the other sites'
measurements, degrade, and take the same site tracks back when it resumes.

New system tracks: pairings of site tracks across sites
(:class:`~.association.PairingBook`, judged over ``pairing_s`` with process noise
``pairing_accel_sigma_mps2``), for site tracks no system track holds, or held by
one that has no site track of the other site (a degraded track then becomes
fused); a pairing waits while one of its site tracks misses steps, for up to
``continue_s``. A site tracker that loses a target and starts a new track on it
breaks nothing here: a new site track that continues one of its site's tracks
that ended within ``continue_s`` (the ended track's last measured range and rate,
extrapolated, gate the new one and nothing else does, both ways, and the new one
gates no live track of its site) takes the ended track's place in its system
track and in its pairings, with their scores. A
site track left alone for ``single_after_s`` becomes a degraded system track of its
own: at its range along the boresight, cross-range sigma ``range * beamwidth /
sqrt(12)``; if it is then in a pairing that has gathered half its evidence, it
waits for that pairing up to ``pairing_s / 2`` longer (what the pairing still needs).

Limits: ghosts are told from real targets by second-order kinematics; targets
flying in formation (the same velocity) or very slow ones stay ambiguous for
longer than ``pairing_s`` and then appear as degraded single-site tracks.
"""

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from .association import PairingBook
from .estimator import Measurement, TrackFilter, beam_sigma

__all__ = ["CentreConfig", "SystemTrack", "Centre"]


@dataclass(frozen=True)
class CentreConfig:
    """The centre's settings (units in the names; ``period_s`` None: found from the
    reports, see :class:`~.replay.Stepper`)."""
    period_s: float = None
    range_sigma_m: float = 20.0
    rate_sigma_mps: float = 2.0
    accel_sigma_mps2: float = 30.0
    pairing_accel_sigma_mps2: float = 0.5
    pairing_s: float = 5.0
    pairing_margin: float = 40.0
    gate: float = 25.0
    single_after_s: float = 6.0
    member_memory_s: float = 10.0
    drop_s: float = 10.0
    beam_margin_deg: float = 0.5
    continue_s: float = 1.0
    settle_s: float = 0.5

    @property
    def pairing_steps(self):
        return max(2, round(self.pairing_s / self.period_s))


@dataclass
class SystemTrack:
    """A target as the centre holds it."""
    track_id: int
    filter: TrackFilter
    members: dict = field(default_factory=dict)      # site name -> track number
    evidence: dict = field(default_factory=dict)     # site name -> last SiteReport measured
    sites_now: tuple = ()
    last_update_s: float = 0.0


class Centre:
    """System tracks of the sites ``positions`` (SitePosition, the first the frame's)."""

    def __init__(self, positions, config):
        self.positions = {p.name: p for p in positions}
        self.config = config
        self.tracks = {}                  # id -> SystemTrack
        self.owner = {}                   # (site, track number) -> system track id
        self.free_since = {}              # (site, track number) -> time first seen free
        self.last_seen = {}               # (site, track number) -> time of last report
        self.first_seen = {}              # (site, track number) -> time of first report
        self.last_measured = {}           # (site, track number) -> last measured SiteReport
        self.successors = set()           # site tracks that took an ended one's place
        self.next_id = 1
        pairing_nis = PairingBook.nis_bound(4, config.pairing_steps)
        self.books = {(a.name, b.name): PairingBook(
            (a, b), window=config.pairing_steps, nis_max=pairing_nis,
            margin=config.pairing_margin, accel_sigma=config.pairing_accel_sigma_mps2,
            beam_margin_rad=math.radians(config.beam_margin_deg))
            for a, b in combinations(positions, 2)}

    # --- measurements -----------------------------------------------------------------------

    def _measurements(self, time_s, reports):
        """``{(site, track number): (Measurement, report)}`` of the latest measured report
        of each site track, extrapolated to ``time_s``."""
        latest = {}
        for r in reports:
            key = (r.site, r.track_number)
            self.last_seen[key] = max(self.last_seen.get(key, r.time_s), r.time_s)
            self.first_seen.setdefault(key, r.time_s)
            if r.measured and (key not in latest or r.time_s >= latest[key].time_s):
                latest[key] = r
        self.last_measured.update(latest)
        c = self.config
        out = {}
        for key, r in latest.items():
            dt = time_s - r.time_s
            out[key] = (Measurement(self.positions[r.site], r.range_m + r.range_rate_mps * dt,
                                    r.range_rate_mps,
                                    math.hypot(c.range_sigma_m, c.rate_sigma_mps * dt),
                                    c.rate_sigma_mps), r)
        return out

    # --- one step -----------------------------------------------------------------------------

    def step(self, time_s, reports):
        """Advance the picture to ``time_s`` with the ``reports`` (SiteReport) of the step."""
        fresh = self._measurements(time_s, reports)
        self._continue_site_tracks(time_s, fresh)
        self._update_tracks(time_s, fresh)
        self._pair(time_s, fresh)
        self._singles(time_s, fresh)
        self._forget(time_s)

    def _forget(self, time_s):
        """Drop what is held of site tracks unheard for ``member_memory_s`` and no
        longer in a system track, so that a centre running for months holds only the
        live ones."""
        stale = [k for k, t in self.last_seen.items()
                 if time_s - t > self.config.member_memory_s and k not in self.owner]
        for key in stale:
            for held in (self.last_seen, self.first_seen, self.last_measured, self.free_since):
                held.pop(key, None)
            self.successors.discard(key)

    def _continuation_nis(self, time_s, before, m):
        """NIS of Measurement ``m`` against SiteReport ``before`` extrapolated to
        ``time_s`` (constant rate; the acceleration noise ``accel_sigma_mps2``)."""
        c = self.config
        dt = time_s - before.time_s
        range_var = m.range_sigma ** 2 + c.range_sigma_m ** 2 + (c.rate_sigma_mps * dt) ** 2 \
            + (c.accel_sigma_mps2 * dt * dt / 2) ** 2
        rate_var = m.rate_sigma ** 2 + c.rate_sigma_mps ** 2 + (c.accel_sigma_mps2 * dt) ** 2
        return (m.range_m - before.range_m - before.range_rate_mps * dt) ** 2 / range_var \
            + (m.range_rate_mps - before.range_rate_mps) ** 2 / rate_var

    def _continue_site_tracks(self, time_s, fresh):
        c = self.config
        for site in self.positions:
            new = [k for k in fresh if k[0] == site and k not in self.owner
                   and time_s - self.first_seen[k] <= c.continue_s]
            ended = [k for k, r in self.last_measured.items() if k[0] == site
                     and time_s - c.continue_s <= self.last_seen[k] < time_s - 1.5 * c.period_s]
            if not (new and ended):
                continue
            live = [k for k in fresh if k[0] == site and k not in new]
            gated = np.array([[self._continuation_nis(time_s, self.last_measured[old], fresh[k][0])
                               <= c.gate for k in new] for old in ended])
            for i, j in zip(*np.nonzero(gated)):
                m = fresh[new[j]][0]
                if gated[i].sum() == 1 and gated[:, j].sum() == 1 and not any(
                        self._continuation_nis(time_s, fresh[k][1], m) <= c.gate for k in live):
                    self._succeed(ended[i], new[j])

    def _succeed(self, old, new):
        """Site track ``new`` takes the place of ``old``, which ended."""
        del self.last_seen[old], self.last_measured[old]
        self.free_since.pop(old, None)
        owner = self.owner.pop(old, None)
        if owner is not None:
            self.tracks[owner].members[new[0]] = new[1]
            self.owner[new] = owner
            self.free_since.pop(new, None)
        if sum(book.rename(old, new) for book in self.books.values()):
            self.successors.add(new)

    def _update_tracks(self, time_s, fresh):
        c = self.config
        for track in list(self.tracks.values()):
            track.filter.predict(time_s)
            used, reports = [], []
            for site, number in list(track.members.items()):
                key = (site, number)
                if key in fresh:
                    m, r = fresh[key]
                    if track.filter.nis([m]) <= c.gate:
                        used.append(m)
                        reports.append(r)
                        continue
                if time_s - self.last_seen.get(key, -math.inf) > c.member_memory_s:
                    self._release(track, site)
            bearings = [used[0].position] if len(used) == 1 and \
                track.filter.bearing_sigma(used[0].position) > beam_sigma(used[0].position) else []
            track.filter.update(used, bearings)
            track.sites_now = tuple(sorted(m.position.name for m in used))
            for r in reports:
                track.evidence[r.site] = r
            if used:
                track.last_update_s = time_s
            elif time_s - track.last_update_s > c.drop_s:
                for site in list(track.members):
                    self._release(track, site)
                del self.tracks[track.track_id]

    def _release(self, track, site):
        key = (site, track.members.pop(site))
        self.owner.pop(key, None)

    def _open(self, key, other_site):
        """Whether site track ``key`` may pair with a site track of ``other_site``."""
        owner = self.owner.get(key)
        return owner is None or other_site not in self.tracks[owner].members

    def _pair(self, time_s, fresh):
        """Advance the pairings; the pairings a successor took over wait until it is
        ``settle_s`` old (a new site track's range rate is still settling: the pairings'
        filters, which expect a straight path, would take it for a ghost)."""
        settled = {k: m for k, (m, _) in fresh.items() if k not in self.successors
                   or time_s - self.first_seen[k] >= self.config.settle_s}
        for (a, b), book in self.books.items():
            side_a = {k: m for k, m in settled.items() if k[0] == a and self._open(k, b)}
            side_b = {k: m for k, m in settled.items() if k[0] == b and self._open(k, a)}
            alive = lambda key: time_s - self.last_seen.get(key, -math.inf) <= self.config.continue_s
            for pairing in book.step(time_s, side_a, side_b, alive):
                self._adopt(pairing, fresh)

    def _adopt(self, pairing, fresh):
        """A confirmed pairing: a new system track, or the degraded one(s) it completes."""
        owners = sorted({self.owner[k] for k in (pairing.a, pairing.b) if k in self.owner})
        if owners:
            track = self.tracks[owners[0]]
            for other in owners[1:]:
                for site in list(self.tracks[other].members):
                    self._release(self.tracks[other], site)
                del self.tracks[other]
        else:
            track = SystemTrack(self.next_id, None)
            self.tracks[track.track_id] = track
            self.next_id += 1
        track.filter = pairing.filter.copy()
        track.filter.accel_sigma = self.config.accel_sigma_mps2
        track.last_update_s = pairing.filter.time_s
        for key in (pairing.a, pairing.b):
            track.members[key[0]] = key[1]
            self.owner[key] = track.track_id
            self.free_since.pop(key, None)
            if key in fresh:
                track.evidence[key[0]] = fresh[key][1]
        track.sites_now = tuple(sorted({pairing.a[0], pairing.b[0]}))
        for book in self.books.values():
            book.forget({pairing.a, pairing.b})

    def _singles(self, time_s, fresh):
        c = self.config
        for key, (m, r) in fresh.items():
            if key in self.owner:
                continue
            alone = time_s - self.free_since.setdefault(key, time_s)
            if alone < c.single_after_s or alone < c.single_after_s + c.pairing_s / 2 and any(
                    book.pairing_steps(key) >= c.pairing_steps // 2 for book in self.books.values()):
                continue
            position = m.position
            point = position.boresight_point(m.range_m)
            along = position.boresight
            across = np.array([along[1], -along[0]])
            cross_sigma = m.range_m * beam_sigma(position)
            p = np.zeros((4, 4))
            p[:2, :2] = m.range_sigma ** 2 * np.outer(along, along) + \
                cross_sigma ** 2 * np.outer(across, across)
            p[2:, 2:] = m.rate_sigma ** 2 * np.outer(along, along) + \
                (c.accel_sigma_mps2 * c.single_after_s) ** 2 * np.outer(across, across)
            f = TrackFilter(np.concatenate([point, m.range_rate_mps * along]), p, time_s,
                            accel_sigma=c.accel_sigma_mps2)
            track = SystemTrack(self.next_id, f, {key[0]: key[1]}, {key[0]: r}, (key[0],), time_s)
            self.tracks[track.track_id] = track
            self.next_id += 1
            self.owner[key] = track.track_id
            del self.free_since[key]

    # --- output -----------------------------------------------------------------------------

    def rows(self, time_s):
        """One ``system_tracks.csv`` row (dict) per system track at ``time_s``."""
        out = []
        for track in sorted(self.tracks.values(), key=lambda t: t.track_id):
            x = track.filter.x
            se, sn = track.filter.sigma_east_north
            out.append({"time_s": time_s, "system_track_id": track.track_id,
                        "east_m": x[0], "north_m": x[1], "east_mps": x[2], "north_mps": x[3],
                        "sigma_east_m": se, "sigma_north_m": sn,
                        "sites": "+".join(track.sites_now)})
        return out
