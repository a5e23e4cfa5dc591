"""Decay score (issue 14): how much an indicator still deserves attention, from 0 to 100.

    score = min(100, 100 × c × 2^(−a / H) × (1 + ¼ × log2(1 + s)))     (0 once revoked or expired)

    c  confidence / 100, from the object's STIX `confidence` (50 when it has none)
    a  days since the latest activity: the item's newest version or its newest sighting
       the reader may read
    H  half-life in days, HUB_DECAY_HALF_LIFE_DAYS (default 30): with no new activity the
       score halves every H days
    s  how many sightings of it the reader may read: each doubling of the sightings adds a
       quarter of the score (but never above 100)

So a confidence-80 indicator shared today scores 80; unsighted, 40 after 30 days and 20 after 60;
seen by three organisations yesterday, 80 × 2^(−1/30) × 1.5 ≈ 100 (capped).
"""
from __future__ import annotations

import math

from hub.db import now_us as clock_us

DEFAULT_CONFIDENCE = 50
DEFAULT_HALF_LIFE_DAYS = 30.0
_US_PER_DAY = 86_400 * 1_000_000


def decay_score(*, confidence: int | None, last_activity_us: int, sightings: int, half_life_days: float,
                active: bool = True, now_us: int | None = None) -> int:
    """The documented formula above, rounded to a whole number."""
    if not active:
        return 0
    c = (DEFAULT_CONFIDENCE if confidence is None else max(0, min(100, confidence))) / 100
    age_days = max(0, (now_us or clock_us()) - last_activity_us) / _US_PER_DAY
    score = 100 * c * 2 ** (-age_days / max(half_life_days, 0.001)) * (1 + 0.25 * math.log2(1 + max(0, sightings)))
    return round(min(100.0, score))
