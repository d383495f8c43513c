"""Hooks of the schemathesis run in test_rest_contract.py (loaded through SCHEMATHESIS_HOOKS).

A generated `fetchAndLock` that asks to wait (`asyncResponseTimeout`) waits for that long when
no task of its made-up topics exists: up to 30 minutes, Camunda's maximum, which the document
allows. The fuzzer's requests are cut to a 200 ms wait, so that a thousand of them finish;
values beyond the maximum are left as they are, for the server to refuse.
"""

from __future__ import annotations

from typing import Any

import schemathesis

_LONGEST = 200
_CAMUNDA_MAXIMUM = 1_800_000


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    body = case.body
    if case.operation.path == "/external-task/fetchAndLock" and isinstance(body, dict):
        wait = body.get("asyncResponseTimeout")
        if isinstance(wait, int) and not isinstance(wait, bool) and wait <= _CAMUNDA_MAXIMUM:
            body["asyncResponseTimeout"] = min(wait, _LONGEST)
    return case
