"""Training metrics from log text, with the manifest's metric regexes (as SageMaker does).

Pure: the local runner feeds it container log lines, the cloud runner CloudWatch log events. The
first capture group of each regex is the value; every match is a point of the series, the last one
is the final value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sm_byo.manifest import MetricSpec


@dataclass
class MetricSeries:
    name: str
    values: list[float] = field(default_factory=list)

    @property
    def final(self) -> float | None:
        return self.values[-1] if self.values else None


@dataclass
class MetricScanner:
    """Feed it log lines one at a time; it keeps every metric's series."""

    specs: Sequence[MetricSpec]
    series: dict[str, MetricSeries] = field(init=False)
    _patterns: list[tuple[str, re.Pattern[str]]] = field(init=False)

    def __post_init__(self) -> None:
        self.series = {spec.name: MetricSeries(spec.name) for spec in self.specs}
        self._patterns = [(spec.name, re.compile(spec.regex)) for spec in self.specs]

    def feed(self, line: str) -> None:
        for name, pattern in self._patterns:
            for match in pattern.finditer(line):
                value = _to_float(match.group(1) if pattern.groups else match.group(0))
                if value is not None:
                    self.series[name].values.append(value)

    def feed_all(self, lines: Iterable[str]) -> MetricScanner:
        for line in lines:
            self.feed(line)
        return self

    def finals(self) -> dict[str, float]:
        """Final value of every metric that appeared at least once."""
        return {name: s.final for name, s in self.series.items() if s.final is not None}

    def all_series(self) -> dict[str, list[float]]:
        return {name: list(s.values) for name, s in self.series.items() if s.values}

    def to_dict(self) -> dict[str, Any]:
        return {"final": self.finals(), "series": self.all_series()}


def _to_float(text: str) -> float | None:
    """SageMaker ignores matches that are not numbers; so do we (also NaN/inf)."""
    try:
        value = float(text.strip().rstrip(",;"))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_metrics(specs: Sequence[MetricSpec], text: str | Iterable[str]) -> MetricScanner:
    """Scan a whole log (a string or lines) and return the scanner holding finals and series."""
    lines = text.splitlines() if isinstance(text, str) else text
    return MetricScanner(specs).feed_all(lines)


def metric_specs(definitions: Sequence[Mapping[str, Any]]) -> list[MetricSpec]:
    """A request's MetricDefinitions (``[{"Name", "Regex"}]``) as the scanner reads them."""
    return [MetricSpec(name=str(item["Name"]), regex=str(item["Regex"])) for item in definitions]
