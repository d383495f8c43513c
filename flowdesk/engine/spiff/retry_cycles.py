"""How often a failed job runs again, and when: `camunda:failedJobRetryTimeCycle`.

Counted as Camunda 7 counts: a job has a number of *retries*, each failed run takes one, and
a job that has none left fails for good (the instance goes into incident). A job therefore runs
at most `retries` times. The cycle sets both the number and the waits between runs:

- `R3/PT5M`: 3 runs, 5 minutes after each failure;
- `PT1M,PT10M,PT1H` (a list, as Camunda 7.7+ reads it): as many runs as waits listed, the
  first wait after the first failure, the second after the second, and so on;
- nothing: `DEFAULT`, 3 runs, waiting 1 minute after the first failure and 5 minutes after the
  second (Camunda's default retries at once, which only repeats a failure that a moment's wait
  might have cured, e.g. a lost database connection).

Expressions (`${...}`) are not read; deploy rejects them (`parse` raises).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from flowdesk.engine.languages import timer_texts

_REPEATED = re.compile(r"R(\d+)/(P\S+)")
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A job's retries and the ISO 8601 waits between its runs (the last one repeats)."""

    retries: int
    waits: tuple[str, ...]

    def next_due(self, now: datetime, failures: int) -> datetime:
        """When to run again after the job failed `failures` times in all (1 for the first)."""
        wait = self.waits[min(max(failures, 1), len(self.waits)) - 1]
        return timer_texts.after_duration(now, wait)


DEFAULT = RetryPolicy(retries=3, waits=("PT1M", "PT5M"))


def parse(text: str | None) -> RetryPolicy:
    """The policy a `failedJobRetryTimeCycle` text gives; `DEFAULT` for None or blank.

    Raises:
        ValueError: The text is neither `R<n>/<duration>` nor a list of ISO 8601 durations.
    """
    if text is None or not text.strip():
        return DEFAULT
    stripped = text.strip()
    repeated = _REPEATED.fullmatch(stripped)
    if repeated:
        waits: tuple[str, ...] = (repeated[2],)
        retries = int(repeated[1])
    else:
        waits = tuple(part.strip() for part in stripped.split(","))
        retries = len(waits)
    for wait in waits:
        if not wait.startswith("P"):
            raise ValueError(_problem(stripped))
        try:
            timer_texts.after_duration(_PROBE, wait)
        except ValueError as err:
            raise ValueError(_problem(stripped)) from err
    return RetryPolicy(retries=retries, waits=waits)


def _problem(text: str) -> str:
    return (
        f"camunda:failedJobRetryTimeCycle {text!r} is not R<n>/<ISO 8601 duration> (e.g. "
        "R3/PT5M) nor a comma-separated list of ISO 8601 durations (e.g. PT1M,PT10M); "
        "expressions are not supported"
    )
