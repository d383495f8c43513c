"""The live server fixture of the REST API tests (see rest_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_server import LiveServer, start_server, stop_server


@pytest.fixture
def live_server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    try:
        process, server = start_server(db_url, tmp_path)
    except RuntimeError as err:
        pytest.fail(str(err))
    try:
        yield server
    finally:
        stop_server(process)
    # A request that failed unexpectedly is logged with its traceback; none may have.
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log
