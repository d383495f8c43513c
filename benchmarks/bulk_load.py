"""Fill a database with many five-step instances quickly, with the rows the engine writes.

Going through the engine costs ~30 ms an instance: 100,000 would take most of an hour. So a
few *template* instances are run through the real engine, one per state an instance can be
in (waiting at each task, a task claimed, finished, rejected), with marker values for the
team, the reviewer and the business key. Their rows in every table (instance with its
serialized workflow, user tasks, candidates, history) are then copied with fresh UUIDs (task
ids inside the workflow state included), real values for the markers and shifted timestamps,
and inserted in batches through the store's SQLAlchemy tables. Every copy is a row the engine
would have written for that instance; only the ids, names and times differ.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, insert, select, text

from flowdesk import Engine
from flowdesk.store import models

MODEL = Path(__file__).parent / "models" / "five_steps.bpmn"
PROCESS = "five_steps"
TEAM_MARK, USER_MARK = "tplteam0", "tpluser0"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TABLES = ("instances", "user_tasks", "task_candidates", "history", "jobs", "subscriptions")
BATCH = 2_000

# (name, share in %, the completions run through the engine, who claims the first task)
_SHAPES: tuple[tuple[str, int, tuple[dict[str, Any], ...], bool], ...] = (
    ("at_enter", 10, (), False),
    ("at_enter_claimed", 5, (), True),
    ("at_review", 15, ({"amount": 250},), False),
    ("at_ship", 10, ({"amount": 250}, {"approved": True}), False),
    ("shipped", 55, ({"amount": 250}, {"approved": True}, {}), False),
    ("rejected", 5, ({"amount": 250}, {"approved": False}), False),
)


@dataclass
class Probes:
    """Filter values that exist in the loaded data, to query with."""

    teams: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    instance_ids: list[str] = field(default_factory=list)
    business_keys: list[str] = field(default_factory=list)


@dataclass
class _Template:
    name: str
    rows: dict[str, list[dict[str, Any]]]
    uuids: list[str]
    business_key: str
    pattern: re.Pattern[str]


def load(url: str, total: int, *, seed: int = 7) -> Probes:
    """Deploy the model, run the templates, and copy them until `total` instances exist.

    Teams grow with the data (one per 100 instances) and so do reviewers (one per 50), so a
    team's or a user's open tasks stay about as many at any size, as in a growing company.
    """
    with Engine(url, groups={USER_MARK: [TEAM_MARK]}, load_entry_points=False) as engine:
        engine.deploy(MODEL)
        ids = {name: _run_template(engine, name, steps, claim) for name, _, steps, claim in _SHAPES}
    database = create_engine(url)
    tables = models.Base.metadata.tables
    try:
        with database.begin() as connection:
            templates = [
                _read_template(connection, name, instance_id) for name, instance_id in ids.items()
            ]
        weights = [share for _, share, _, _ in _SHAPES]
        rng = random.Random(seed)
        teams, users = max(2, total // 100), max(2, total // 50)
        probes = Probes(
            teams=[f"team-{i}" for i in range(teams)], users=[f"user-{i}" for i in range(users)]
        )
        clones = total - len(templates)
        copy_of = _Copier(datetime.now().astimezone() - timedelta(seconds=clones))
        for first in range(0, clones, BATCH):
            batch: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLES}
            for number in range(first, min(first + BATCH, clones)):
                template = rng.choices(templates, weights)[0]
                key = f"ORDER-{number:07d}"
                rows = copy_of(
                    template,
                    number,
                    {
                        TEAM_MARK: f"team-{rng.randrange(teams)}",
                        USER_MARK: f"user-{rng.randrange(users)}",
                        template.business_key: key,
                    },
                )
                for name, table_rows in rows.items():
                    batch[name].extend(table_rows)
                running = template.rows["instances"][0]["state"] == "running"
                if running and (rng.random() < 0.02 or number < 20):
                    probes.instance_ids.append(rows["instances"][0]["id"])
                    probes.business_keys.append(key)
            with database.begin() as connection:
                for name in _TABLES:
                    if batch[name]:
                        connection.execute(insert(tables[name]), batch[name])
        if database.dialect.name == "postgresql":
            # What autovacuum would do soon after a load this size; SQLite is left as flowdesk
            # leaves it (it never runs ANALYZE), so its planner works from the schema alone.
            with database.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    finally:
        database.dispose()
    return probes


def _run_template(engine: Engine, name: str, steps: tuple[dict[str, Any], ...], claim: bool) -> str:
    variables = {"team": TEAM_MARK, "reviewer": USER_MARK}
    instance = engine.start(PROCESS, variables, business_key=f"TPL-{name}", user="initiator")
    if claim:
        (task,) = engine.tasks(instance_id=instance.id)
        engine.claim(task.id, user=USER_MARK)
    for data in steps:
        (task,) = engine.tasks(instance_id=instance.id)
        engine.complete(task.id, data)
    return instance.id


def _read_template(connection: Any, name: str, instance_id: str) -> _Template:
    tables = models.Base.metadata.tables
    rows: dict[str, list[dict[str, Any]]] = {}
    for table_name in _TABLES:
        table: Table = tables[table_name]
        if table_name == "instances":
            where = table.c.id == instance_id
        elif table_name == "task_candidates":
            task_ids = select(tables["user_tasks"].c.id).where(
                tables["user_tasks"].c.instance_id == instance_id
            )
            where = table.c.task_id.in_(task_ids)
        else:
            where = table.c.instance_id == instance_id
        found = [dict(row._mapping) for row in connection.execute(select(table).where(where))]
        if table_name == "history":
            found.sort(key=lambda row: row["id"])
            for row in found:
                del row["id"]  # the database numbers history rows
        rows[table_name] = found
    uuids = sorted(set(_uuids_in(rows)))
    business_key = f"TPL-{name}"
    # Longest first: a marker must never match inside a longer one.
    marks = sorted([*uuids, TEAM_MARK, USER_MARK, business_key], key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(mark) for mark in marks))
    return _Template(name, rows, uuids, business_key, pattern)


def _uuids_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from _UUID.findall(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _uuids_in(key)
            yield from _uuids_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _uuids_in(item)


class _Copier:
    """Copies a template's rows with fresh UUIDs, marker values replaced, times shifted."""

    def __init__(self, base: datetime) -> None:
        self._base = base

    def __call__(
        self, template: _Template, number: int, values: dict[str, str]
    ) -> dict[str, list[dict[str, Any]]]:
        mapping = {old: str(uuid.uuid4()) for old in template.uuids}
        mapping.update(values)
        pattern = template.pattern
        # Each copy is one second older than the next, the templates being the newest.
        shift = self._base + timedelta(seconds=number) - _started_at(template)

        def substitute(value: Any) -> Any:
            if isinstance(value, str):
                return pattern.sub(lambda match: mapping[match.group(0)], value)
            if isinstance(value, datetime):
                return value + shift
            if isinstance(value, dict):
                return {substitute(k): substitute(v) for k, v in value.items()}
            if isinstance(value, list):
                return [substitute(item) for item in value]
            return value

        return {
            name: [{column: substitute(v) for column, v in row.items()} for row in rows]
            for name, rows in template.rows.items()
        }


def _started_at(template: _Template) -> datetime:
    started: datetime = template.rows["instances"][0]["started_at"]
    return started
