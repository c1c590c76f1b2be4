"""Names unique per submission: AWS refuses to create an Algorithm or Model Package twice."""

from __future__ import annotations

from datetime import datetime, timezone

MAX_NAME_LENGTH = 63


def timestamped(base: str, now: datetime | None = None) -> str:
    """``<base>-<YYYYmmddHHMMSS>`` within SageMaker's 63 characters (the base is cut, not the stamp)."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d%H%M%S")
    head = base[: MAX_NAME_LENGTH - len(stamp) - 1].rstrip("-")
    return f"{head}-{stamp}"
