"""The shipped BPMN files pass bpmnlint's `recommended` rules, as Camunda Modeler shows them.

bpmnlint is the linter built into Camunda Modeler (npm package `bpmnlint`); the repository's
`.bpmnlintrc` says which rules apply. It needs node: `.ci/run` installs a pinned bpmnlint and
points `FLOWDESK_BPMNLINT` at it. Elsewhere the test uses a `bpmnlint` on the PATH, or skips
and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import BPMN

REPO = Path(__file__).resolve().parents[2]
BPMNLINT_ENV = "FLOWDESK_BPMNLINT"


def _bpmnlint() -> str | None:
    configured = os.environ.get(BPMNLINT_ENV)
    if configured:
        return configured if Path(configured).is_file() else None
    return shutil.which("bpmnlint")


def test_shipped_bpmn_files__pass_bpmnlint_recommended_rules() -> None:
    bpmnlint = _bpmnlint()
    if shutil.which("node") is None or bpmnlint is None:
        pytest.skip(
            f"bpmnlint needs node and an installed bpmnlint (set {BPMNLINT_ENV}, or "
            "npm install bpmnlint; .ci/run does both)"
        )
    files = sorted(str(path) for path in BPMN.glob("*.bpmn"))
    assert files

    # bpmnlint reads .bpmnlintrc from its working directory: the repository root.
    result = subprocess.run(
        [bpmnlint, *files], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "problem" not in result.stdout, result.stdout  # warnings count too
