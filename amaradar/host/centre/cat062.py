"""The system tracks as ASTERIX CAT062 (SDPS track messages, edition 1.21, libasterix).

One data block per step (the rows of ``system_tracks.csv`` of one time), one
record per system track:

- I062/010 the centre's SAC/SIC (``source``: the first site's SAC and SIC 255 unless
  given); I062/015 service identification 1;
- I062/070 time of track information: the step's UTC time of day (the first
  site's ``start_utc`` plus ``time_s``), 1/128 s;
- I062/105 WGS-84 latitude and longitude (180/2**25 degree) and I062/100 x = east,
  y = north (0.5 m) in the first site's frame; I062/185 vx, vy (0.25 m/s);
- I062/040 the system track id (modulo 65536);
- I062/080 MON = 1 when one site updated the track at this step (a degraded,
  mono-sensor track) or none (coasting), SRC = 0 (no height), CNF = 0, SIM = 1 when
  a site report the track holds as evidence was marked simulated (I048/020 SIM);
- I062/290 TRK: the age of the track's last update (1/4 s, saturated at 63.75 s).

Values rounded half to even; a track whose x, y or velocity do not fit their
fields is left out of the block.
"""

from .geometry import enu_to_geodetic

__all__ = ["cat062_blocks"]

_XY_LSB = 0.5
_V_LSB = 0.25
_LATLON_LSB = 180 / (1 << 25)


def _fits(value, bits):
    return -(1 << (bits - 1)) <= value < 1 << (bits - 1)


def cat062_blocks(steps, origin, source=None):
    """The CAT062 data blocks (``bytes``) of ``steps``: ``[(time_s, rows, ages, simulated)]``
    with ``ages`` ``{system track id: seconds since its last update}`` and ``simulated``
    the ids of the tracks built on simulated reports."""
    import asterix.generated as gen
    cat = gen.Cat_062_1_21
    sac, sic = source if source is not None else (origin.sac, 255)
    blocks = []
    for time_s, rows, ages, simulated in steps:
        records = []
        for row in rows:
            x, y = round(row["east_m"] / _XY_LSB), round(row["north_m"] / _XY_LSB)
            vx, vy = round(row["east_mps"] / _V_LSB), round(row["north_mps"] / _V_LSB)
            if not (_fits(x, 24) and _fits(y, 24) and _fits(vx, 16) and _fits(vy, 16)):
                continue
            lat, lon, _ = enu_to_geodetic(origin, row["east_m"], row["north_m"])
            mono = int("+" not in row["sites"])
            age = min(255, round(ages[row["system_track_id"]] * 4))
            records.append(cat.cv_record.create({
                "010": (("SAC", sac), ("SIC", sic)),
                "015": 1,
                "070": round(origin.time_of_day_s(time_s) * 128) % (86400 * 128),
                "105": (("LAT", round(lat / _LATLON_LSB)), ("LON", round(lon / _LATLON_LSB))),
                "100": (("X", x), ("Y", y)),
                "185": (("VX", vx), ("VY", vy)),
                "040": row["system_track_id"] % 65536,
                "080": ((("MON", mono), ("SPI", 0), ("MRH", 0), ("SRC", 0), ("CNF", 0), None),
                        (("SIM", int(row["system_track_id"] in simulated)), ("TSE", 0), ("TSB", 0), ("FPC", 0), ("AFF", 0), ("STP", 0),
                         ("KOS", 0), None)),
                "290": {"TRK": age},
            }))
        if records:
            blocks.append(cat.create(records).unparse().to_bytes())
    return blocks
