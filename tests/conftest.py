"""Database fixtures for the whole suite: a test that uses `db_url` runs on SQLite and PostgreSQL.

SQLite: a fresh file under `tmp_path`, copied from a database migrated once per session.
PostgreSQL (when `FLOWDESK_TEST_PG` names a server): a fresh database per test, created with
`CREATE DATABASE ... TEMPLATE flowdesk_template_<id>` from a template migrated once per
session (its own name, so that test sessions may share a server), and dropped after the test.
Tests marked `@pytest.mark.postgresql` run only on PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from flowdesk.engine.instances import task_rows
from flowdesk.engine.spiff import serializer, task_search
from flowdesk.store import Store

PG_ENV = "FLOWDESK_TEST_PG"
PG_SKIP_REASON = (
    "PostgreSQL tests need FLOWDESK_TEST_PG, e.g. "
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres (.ci/run starts a throwaway cluster)"
)
POSTGRESQL_ONLY_REASON = "needs PostgreSQL row locks"

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql")]

# Fixtures that take a backend parameter; the `postgresql` marker skips their sqlite variant.
_DATABASE_FIXTURES = ("db_url", "empty_db_url")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason=POSTGRESQL_ONLY_REASON)
    for item in items:
        if item.get_closest_marker("postgresql") is None:
            continue
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if any(params.get(name) == "sqlite" for name in _DATABASE_FIXTURES):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; tests get copies of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "flowdesk.db"
    Store(f"sqlite:///{path}").dispose()  # disposing checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the server's maintenance database, for CREATE/DROP DATABASE."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(PG_SKIP_REASON)
    engine = create_engine(_pg_url(url), isolation_level="AUTOCOMMIT")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_admin: Engine) -> Iterator[str]:
    """The name of a PostgreSQL database migrated to head once per session."""
    template = f"flowdesk_template_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{template}"'))
    # The Store's connections must be closed: CREATE DATABASE ... TEMPLATE needs it idle.
    Store(_database_url(pg_admin.url, template)).dispose()
    try:
        yield template
    finally:
        _drop_database(pg_admin, template)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the schema's head revision, as a URL; one per backend."""
    if request.param == "sqlite":
        path = tmp_path / "flowdesk.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    yield from _fresh_pg_database(request.getfixturevalue("pg_admin"), template=template)


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no tables at all, as a URL; one per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    yield from _fresh_pg_database(request.getfixturevalue("pg_admin"), template=None)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A `Store` on a fresh database, disposed after the test."""
    s = Store(db_url)
    try:
        yield s
    finally:
        s.dispose()


def _fresh_pg_database(admin: Engine, *, template: str | None) -> Iterator[str]:
    # Cloning copies ~300 files; on tmpfs that takes ~10 ms, on ext4 ~300 ms, which is why
    # .ci/run puts its cluster in /dev/shm.
    name = f"test_{uuid.uuid4().hex}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    try:
        yield _database_url(admin.url, name)
    finally:
        # FORCE (PostgreSQL 13+) ends connections a test left open, e.g. an undisposed engine.
        _drop_database(admin, name)


def _drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _pg_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _database_url(server: URL, database: str) -> str:
    return server.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
def shortcuts_match_what_they_replace() -> Iterator[None]:
    """Every test checks flowdesk's task search and task serialization against SpiffWorkflow's
    own, and the open task rows the workflow's marks give against the store's: each answer
    that differed fails the test (see `flowdesk.engine.spiff.task_search`,
    `flowdesk.engine.spiff.serializer` and `flowdesk.engine.instances.task_rows`)."""
    modules = (task_search, serializer, task_rows)
    for module in modules:
        module.VERIFY = True
        module.mismatches.clear()
    yield
    found = [mismatch for module in modules for mismatch in module.mismatches]
    for module in modules:
        module.mismatches.clear()
    assert not found, f"differs from what it replaces: {found[:3]}"
