"""The sandbox's script limits: what stops at a limit, how fast, and what still runs as before.

Python scripts and expressions (and JUEL and FEEL, which run as Python in the sandbox) tick a
budget in every loop, function, lambda and comprehension, and single large allocations are
refused before they run (see `flowdesk.engine.languages.limits`).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from flowdesk.engine.languages import limits, sandbox
from flowdesk.engine.languages.limits import ScriptLimits
from flowdesk.engine.scripts import feel_scripts
from flowdesk.errors import ExpressionError, ScriptLimitError

TIGHT = ScriptLimits(cpu_seconds=0.2, wall_seconds=1.0, memory_bytes=32 * 1024 * 1024)
# Loose bound on elapsed time: the machine running the tests may be busy.
WITHIN = TIGHT.wall_seconds + 2.0


def run(script: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    context = dict(data or {})
    with limits.using(TIGHT):
        sandbox.SandboxEnvironment().execute(script, context)
    return context


@pytest.mark.parametrize(
    "script",
    [
        pytest.param("while True:\n    pass", id="while"),
        pytest.param(
            "while True:\n    try:\n        while True:\n            pass\n"
            "    except BaseException:\n        pass",
            id="catching-the-stop",
        ),
        pytest.param("def f(n):\n    return f(n - 1) + f(n - 1) if n else 0\nx = f(60)", id="def"),
        pytest.param("f = lambda n: f(n - 1) + f(n - 1) if n else 0\nx = f(60)", id="lambda"),
        pytest.param("x = [i for i in range(10**12) if False]", id="comprehension"),
        pytest.param("x = sum(range(10**12))", id="builtin-over-a-huge-range"),
        pytest.param("x = max(i for i in range(10**12))", id="generator"),
    ],
)
def test_a_runaway_stops_at_the_time_limit(script: str) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptLimitError) as caught:
        run(script)

    assert caught.value.kind == "time"
    assert "time limit" in caught.value.reason
    assert time.monotonic() - started < WITHIN


@pytest.mark.parametrize(
    ("script", "what"),
    [
        pytest.param("x = [0] * 10**8", "a repetition", id="list-repetition"),
        pytest.param("x = 'a' * 10**10", "a repetition", id="string-repetition"),
        pytest.param("x = [0]\nx *= 10**9", "a repetition", id="in-place-repetition"),
        pytest.param("x = list(range(10**10))", "list()", id="list-of-range"),
        pytest.param("x = ''.ljust(10**10)", "str.ljust()", id="padding"),
        pytest.param(
            "x = ['a' * 1000] * 10000\ny = ''.join([''.join(x)] * 1000)", "join", id="join"
        ),
        pytest.param("x = 'abcdefgh'.replace('', 'c' * 10**7)", "replace", id="replace"),
        pytest.param("n = 10**10\nx = f'{1:>{n}}'", "format width", id="f-string-width"),
        pytest.param("x = '%*d' % (10**10, 1)", "% format width", id="percent-width"),
        pytest.param("x = 9**9**9", "a power", id="power"),
        pytest.param("x = pow(10, 10**8)", "a power", id="pow-builtin"),
        pytest.param("x = 1 << 10**10", "a shift", id="shift"),
        pytest.param("x = [0]\nwhile True:\n    x.extend(x)", "used more", id="doubling-list"),
    ],
)
def test_a_memory_bomb_stops_before_it_takes_the_memory(script: str, what: str) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptLimitError) as caught:
        run(script)

    assert caught.value.kind == "memory"
    assert what in caught.value.reason
    assert "memory limit of 32 MiB" in caught.value.reason or "bits" in caught.value.reason
    assert time.monotonic() - started < WITHIN


def test_a_c_loop_that_grows_a_list_stops_at_whichever_limit_comes_first() -> None:
    # `list(map(...))` over a huge range: the range's iterator ticks, and the list grows by
    # about 8 bytes an item; on a busy machine the time limit may come first.
    started = time.monotonic()
    with pytest.raises(ScriptLimitError) as caught:
        run("x = list(map(abs, range(10**12)))")

    assert caught.value.kind in ("time", "memory")
    assert time.monotonic() - started < WITHIN


def test_ordinary_scripts_give_the_same_results_as_before() -> None:
    result = run(
        "doubled = [i * 2 for i in range(5)]\n"
        "is_list = isinstance(doubled, list) and isinstance((1,), (list, tuple))\n"
        "ordered = sorted({3, 1, 2})\n"
        "text = f'{3.14159:.2f}|{7:>5}|{\"x\"!r:>4}'\n"
        "old = '%05d-%s' % (42, 'a')\n"
        "power = 2 ** 64 + pow(3, 4) + pow(3, 10**6, 7)\n"
        "shifted = 1 << 40\n"
        "backwards = list(reversed(range(3)))\n"
        "big = range(10**9)[5] + len(range(10**9)) + (10**8 in range(10**9))\n"
        "ranges = isinstance(range(3), range)\n"
        "padded = 'ab'.ljust(4, '.') + ','.join(['x', 'y']) + 'aa'.replace('a', 'b')\n"
        "items = [0, 1]\nitems *= 2\n"
        "def total(values):\n    return sum(values)\n"
        "summed = total(v for v in items)\n"
    )

    assert result["doubled"] == [0, 2, 4, 6, 8]
    assert result["is_list"] is True
    assert result["ordered"] == [1, 2, 3]
    assert result["text"] == "3.14|    7| 'x'"
    assert result["old"] == "00042-a"
    assert result["power"] == 2**64 + 81 + pow(3, 10**6, 7)
    assert result["shifted"] == 1 << 40
    assert result["backwards"] == [2, 1, 0]
    assert result["big"] == 5 + 10**9 + 1
    assert result["ranges"] is True
    assert result["padded"] == "ab..x,ybb"
    assert result["items"] == [0, 1, 0, 1]
    assert result["summed"] == 2


def test_a_stopped_script_leaves_no_budget_behind_for_the_next() -> None:
    with pytest.raises(ScriptLimitError):
        run("while True:\n    pass")

    assert run("n = 0\nfor i in range(1000):\n    n += i")["n"] == sum(range(1000))


def test_the_script_cannot_catch_the_limit_as_an_exception() -> None:
    with pytest.raises(ScriptLimitError):
        run(
            "caught = False\ntry:\n    while True:\n        pass\nexcept Exception:\n    caught = 1"
        )


def test_expressions_stop_too() -> None:
    with limits.using(TIGHT), pytest.raises(ScriptLimitError):
        sandbox.evaluate("any(x < 0 for x in range(10**12))", {})
    with limits.using(TIGHT), pytest.raises(ScriptLimitError):
        sandbox.evaluate("len(items * 10**9) > 0", {"items": [1, 2, 3]})
    # JUEL has no loops and no repetition; its String.replace is size-checked like Python's.
    with limits.using(TIGHT), pytest.raises(ScriptLimitError):
        sandbox.evaluate('${s.replace("", t)}', {"s": "a" * 1000, "t": "y" * 100_000})
    assert sandbox.evaluate('${s.replace("b", "xy")}', {"s": "abc"}) == "axyc"


def test_feel_ranges_and_powers_are_bounded() -> None:
    with limits.using(TIGHT), pytest.raises(ScriptLimitError) as caught:
        feel_scripts.evaluate("count(for i in 1..10000000000 return i)", {})
    assert caught.value.kind == "memory"
    with limits.using(TIGHT), pytest.raises(ScriptLimitError):
        feel_scripts.evaluate("count(for i in 1..100000, j in 1..100000 return i)", {})
    with limits.using(TIGHT), pytest.raises(ExpressionError) as power:
        feel_scripts.evaluate("2 ** 100000000", {})
    assert "bits" in str(power.value)
    assert feel_scripts.evaluate("count(for i in 1..1000 return i) + 2 ** 10", {}) == 2024


def test_limits_must_be_positive_and_elapsed_at_least_cpu() -> None:
    with pytest.raises(ValueError):
        ScriptLimits(cpu_seconds=0)
    with pytest.raises(ValueError):
        ScriptLimits(cpu_seconds=5, wall_seconds=1)


def test_a_script_stopped_at_a_limit_leaves_the_variables_as_they_were() -> None:
    context: dict[str, Any] = {"kept": 1}
    with limits.using(TIGHT), pytest.raises(ScriptLimitError):
        sandbox.SandboxEnvironment().execute(
            "kept = 2\nhuge = []\nwhile True:\n    huge.append('y' * 1000)", context
        )

    assert context == {"kept": 1}
