"""Every file of the public conformance corpus deploys and runs as `docs/conformance.md` says.

Each file runs on a fresh database of each backend (see `corpus.py` for how), as-is (no start
variables) and, when the harness has start variables for it, a second time with them. A file whose
outcome changes fails here until the table is regenerated with
`python -m tests.conformance.corpus --write`, so the documentation cannot drift from what the
engine does. Without the corpus (a user's checkout) the module is skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import (
    CORPUS_ENV,
    DOC,
    REGENERATE,
    START_VARIABLES,
    SUMMARY_END,
    SUMMARY_START,
    Corpus,
    Kind,
    Mode,
    corpus_root,
    helped,
    parse_table,
    render_summary,
    run_file,
)

ROOT = corpus_root()
if ROOT is None:
    pytest.skip(
        f"no conformance corpus: set {CORPUS_ENV} to its folder (it is not shipped with flowdesk)",
        allow_module_level=True,
    )
CORPUS = Corpus(ROOT)
DOC_TEXT = DOC.read_text(encoding="utf-8")
EXPECTED = parse_table(DOC_TEXT)


# A file the harness gives no start variables runs the same either way: once is enough.
RUNS = [(path, Mode.AS_IS) for path in sorted(CORPUS.files)]
RUNS += [(path, Mode.HELPED) for path in sorted(CORPUS.files) if helped(path)]


@pytest.mark.parametrize(("path", "mode"), RUNS, ids=[f"{p}-{m.name}" for p, m in RUNS])
def test_corpus_file__runs_as_the_conformance_table_says(
    path: str, mode: Mode, db_url: str, tmp_path: Path
) -> None:
    outcomes = run_file(CORPUS, path, db_url, tmp_path, mode)

    crashes = [o for o in outcomes if o.kind is Kind.CRASH]
    assert not crashes, f"{path}: not a flowdesk error\n{crashes[0].details}"
    expected = [o for o in EXPECTED[mode] if o.file == path]
    assert outcomes == expected, f"{mode} outcome changed: check it, then run {REGENERATE}"


def test_conformance_table__lists_every_corpus_file_and_process_once_per_mode() -> None:
    for mode in Mode:
        rows = [(o.file, o.process) for o in EXPECTED[mode]]

        assert len(rows) == len(set(rows))
        assert sorted({file for file, _ in rows}) == sorted(CORPUS.files)


def test_conformance_table__as_is_runs_flowdesk_without_the_harness_s_start_variables() -> None:
    # The help must show: a process it helps would otherwise read a variable nobody set.
    differing = {
        (plain.file, plain.process)
        for plain, help_ in zip(EXPECTED[Mode.AS_IS], EXPECTED[Mode.HELPED], strict=True)
        if plain != help_
    }

    assert differing
    assert all(helped(file) for file, _ in differing)


def test_conformance_summary__counts_the_table() -> None:
    summary = DOC_TEXT.split(SUMMARY_START, 1)[1].split(SUMMARY_END, 1)[0].strip()

    assert summary == render_summary(EXPECTED, CORPUS)


def test_conformance_table__no_outcome_is_a_crash() -> None:
    assert [o for mode in Mode for o in EXPECTED[mode] if o.kind is Kind.CRASH] == []


def test_start_variables__each_names_an_executable_process_of_the_corpus() -> None:
    processes = {(f.path, p.id) for f in CORPUS.files.values() for p in f.processes if p.executable}

    assert set(START_VARIABLES) <= processes
