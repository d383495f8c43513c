"""Cost of evaluating one typical condition, as the engine does on every gateway it passes.

Run: `python -m benchmarks.expressions`. It evaluates each expression through
`SandboxEnvironment.evaluate` (the path SpiffWorkflow takes for a sequence-flow condition)
against task data of two dozen variables, and prints the best of several repeats in
microseconds per evaluation, next to the same condition written in plain Python (which keeps
Python's operators), so the difference is what EL's coercing operators cost.

Not part of `python -m benchmarks`: it measures no engine call, only the evaluator.
"""

from __future__ import annotations

import timeit

from flowdesk.engine.languages import sandbox

DATA = {
    "amount": 1500,
    "approved": True,
    "category": "travel",
    "order": {"items": [1, 2, 3]},
    **{f"v{i}": i for i in range(20)},
}

CASES = [
    ("${amount > 1000}", "amount > 1000"),
    ("${approved && amount > 1000}", "approved and amount > 1000"),
    ("${category == 'travel'}", "category == 'travel'"),
    ("${order.items.size() > 2}", "len(order['items']) > 2"),
]


def _best(function: object, number: int) -> float:
    seconds = min(timeit.repeat(function, number=number, repeat=7))  # type: ignore[arg-type]
    return seconds / number * 1e6


def main() -> None:
    environment = sandbox.SandboxEnvironment({"business_key": "K", "instance_id": "I"})
    print(f"{'expression':34} {'JUEL us':>8} {'Python us':>10}")
    for juel, python in CASES:
        environment.evaluate(juel, DATA)
        environment.evaluate(python, DATA)
        el = _best(lambda text=juel: environment.evaluate(text, DATA), 20_000)
        py = _best(lambda text=python: environment.evaluate(text, DATA), 20_000)
        print(f"{juel:34} {el:8.2f} {py:10.2f}")


if __name__ == "__main__":
    main()
