"""`InputLimits`: how much one call may hand the engine before it is refused.

BPMN/DMN files and process variables come from people and systems flowdesk does not control.
Below these limits the engine's work grows linearly with the input; above them a call is refused
with a typed error before anything is stored (see docs/limits.md). Each `Engine` takes its own
limits, so a service that must accept a larger model or payload raises them for itself only.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
# The deepest nesting any Engine accepts; `variable_types.HARD_DEPTH` stores what scripts make.
MAX_DEPTH = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class InputLimits:
    """Limits on what a call may give the engine; `Engine(input_limits=...)` sets them.

    Attributes:
        max_file_bytes: The largest BPMN or DMN file `deploy` accepts, in bytes (default
            8 MiB; Camunda Modeler's largest real models are a few hundred KiB).
        max_variables_bytes: The largest set of variables one call (`start`, `complete`,
            `correlate`, `signal`, `trigger`, `evaluate_decision`) may pass, measured as their
            stored JSON in UTF-8 bytes (default 4 MiB).
        max_variable_depth: How deeply lists and dicts may nest inside one variable (default
            64, at most 200; a flat dict is depth 1).
    """

    max_file_bytes: int = 8 * MIB
    max_variables_bytes: int = 4 * MIB
    max_variable_depth: int = 64

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_variables_bytes", "max_variable_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"InputLimits.{name} must be a positive integer, not {value!r}")
        if self.max_variable_depth > MAX_DEPTH:
            # Deeper values would reach Python's recursion limit while they are stored.
            raise ValueError(f"InputLimits.max_variable_depth may be at most {MAX_DEPTH}")
