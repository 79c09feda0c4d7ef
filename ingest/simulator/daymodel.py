"""The street's day: how busy each feed is at each hour, and the simulated clock (pure).

Profiles are 24 hourly weights (hour 0 = midnight, street local time, UTC+8), linearly
interpolated between the hours and periodic over the day. Guarantees: :func:`weight` is
positive and continuous; :func:`relative_weight` averages to 1.0 over a day, so a share
of the event stream scaled by it keeps its daily mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STREET_UTC_OFFSET_S = 8 * 3600  # China Standard Time, no daylight saving
DAY_S = 86_400

Profile = tuple[float, ...]

# Residents: quiet nights, a morning peak (8-9, before work) and a higher evening peak
# (18-20, back home), a lunchtime dip.
RESIDENT: Profile = (0.15, 0.1, 0.08, 0.06, 0.06, 0.1, 0.3, 0.9, 1.8, 1.7, 1.3, 1.1,
                     0.8, 0.8, 1.0, 1.0, 1.1, 1.4, 1.9, 2.1, 1.8, 1.2, 0.6, 0.3)
# Grid workers patrol during working hours (8:30-11:30, 14:00-17:30).
PATROL: Profile = (0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.05, 0.4, 1.6, 2.2, 2.2, 1.6,
                   0.4, 0.5, 1.8, 2.2, 2.1, 1.2, 0.3, 0.1, 0.05, 0.03, 0.02, 0.02)
# Property management reports in office hours.
PROPERTY: Profile = (0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.1, 0.6, 1.5, 1.8, 1.8, 1.4,
                     0.7, 1.0, 1.6, 1.7, 1.6, 1.0, 0.4, 0.2, 0.1, 0.1, 0.05, 0.05)


def weight(profile: Profile, hour: float) -> float:
    """The profile's weight at ``hour`` (any real number; taken modulo 24), interpolated."""
    h = hour % 24.0
    lo = int(h)
    frac = h - lo
    return profile[lo] * (1.0 - frac) + profile[(lo + 1) % 24] * frac


def daily_mean(profile: Profile) -> float:
    """The mean of :func:`weight` over a day (exact for piecewise-linear profiles)."""
    return sum(profile) / len(profile)


def relative_weight(profile: Profile, hour: float) -> float:
    """:func:`weight` divided by the daily mean: 1.0 on average over a day."""
    return weight(profile, hour) / daily_mean(profile)


def local_hour(epoch_ms: int) -> float:
    """The street's local time of day, in hours in [0, 24), of a UTC epoch-ms instant."""
    return ((epoch_ms / 1000.0 + STREET_UTC_OFFSET_S) % DAY_S) / 3600.0


def is_night(hour: float) -> bool:
    """True between 22:00 and 06:00 local time."""
    h = hour % 24.0
    return h >= 22.0 or h < 6.0


@dataclass(frozen=True)
class DayClock:
    """Maps virtual seconds since the start to the simulated time of day.

    The simulated street lives ``speedup`` times faster than the virtual clock: with
    ``speedup=60`` an hour of the street's day passes in a minute.
    """

    day_start_h: float
    speedup: float = 1.0

    def __post_init__(self) -> None:
        if not (self.speedup > 0 and math.isfinite(self.speedup)):
            raise ValueError("speedup must be a positive number")

    def hour_at(self, elapsed_s: float) -> float:
        """Simulated local hour in [0, 24) after ``elapsed_s`` virtual seconds."""
        return (self.day_start_h + elapsed_s * self.speedup / 3600.0) % 24.0
