"""Evaluate expressions and run scripts from BPMN models in a RestrictedPython sandbox.

SpiffWorkflow 3.2 runs every condition and script with plain `eval`/`exec` and full builtins,
so a model could `__import__('os')`. `SandboxEnvironment` replaces Spiff's
`TaskDataEnvironment` (pass it as `PythonScriptEngine(environment=...)`; it sees every
expression Spiff evaluates). Expressions go through `expressions.translate` first, so JUEL and
plain Python both work. Scripts are Python and are not translated.

What the sandbox prevents:

- imports (`import` is rejected at compile time; there is no `__import__`);
- file, process and network access through builtins: `open`, `eval`, `exec`, `compile`,
  `globals`, `locals`, `vars`, `getattr`, `type`, `dir`, `input`, `breakpoint` are absent;
- any attribute or name starting with `_` (`(1).__class__.__mro__`, `__subclasses__()`,
  `__globals__`), frame and code attributes such as `gi_frame`, and `str.format` tricks, which
  is how escapes from "empty builtins" sandboxes usually work;
- assigning attributes of objects other than dicts and lists.

What it does not prevent:

- CPU and memory exhaustion: `9**9**9`, `'x' * 10**10`, `list(range(10**10))` and
  `while True: pass` run until they finish or the process dies. A caller that runs untrusted
  models needs a time limit outside the process.
- Whatever the objects it is given can do: task data and `extra_globals` are reachable, with
  all their public methods. Put only plain data and vetted functions there.
- Reading the wall clock (`datetime.now()`) or the `random` state of the process.

Every failure (translation, compile, forbidden access, unknown variable, error at runtime)
surfaces as `ExpressionError`, with the original exception on `__cause__`. It is never a
`SyntaxError`: SpiffWorkflow 3.2 crashes on one without a line number
(`PythonScriptEngine.get_error_line_number_and_content`). Two kinds pass through unwrapped:
`flowdesk.errors.BpmnError` and other `FlowdeskError`s raised by functions the caller put in
the context (service "beans" called from an expression), since they are signals for the engine.
"""

from __future__ import annotations

import ast
import builtins
import datetime
import functools
import operator
import string
import textwrap
import traceback
import types
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)

from flowdesk.engine import expressions, juel_functions
from flowdesk.errors import BpmnError, ExpressionError, FlowdeskError


class SandboxEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]  # Spiff is untyped
    """A SpiffWorkflow script environment that evaluates JUEL and Python in a sandbox.

    Args:
        extra_globals: Names every expression and script may use besides the task data, such
            as vetted helper functions. Task data of the same name wins in expressions.

    Raises:
        ValueError: `extra_globals` uses one of `RESERVED_NAMES`.
    """

    def __init__(self, extra_globals: Mapping[str, Any] | None = None) -> None:
        super().__init__(dict(extra_globals or {}))
        clashes = RESERVED_NAMES.intersection(self.globals)
        if clashes:
            raise ValueError(f"extra_globals may not define {sorted(clashes)}")

    def evaluate(
        self,
        expression: str,
        context: Mapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Evaluate an expression-context text (JUEL or Python) against task data.

        Args:
            expression: The text from the model; translated with `expressions.translate`.
            context: The task data. It is read, never changed.
            external_context: More names, e.g. Spiff's data objects; task data wins over them.

        Returns:
            The value of the expression.

        Raises:
            ExpressionError: The text cannot be translated or compiled, does something the
                sandbox forbids, names an unknown variable, or fails while running.
        """
        source = expressions.translate(_require_text(expression))
        return _evaluate(source, expression, self.globals, external_context, context, None)

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Run a Python script with the task data as its namespace, like Spiff's environment.

        The script changes `context` in place. Afterwards the sandbox removes `__builtins__`,
        every callable, every module and every injected global from it, so only data is left
        (a failed script also leaves whatever it assigned before the failure).

        Args:
            script: Python statements. Common indentation from the XML is removed.
            context: The task data, changed in place.
            external_context: More names for the script; removed again afterwards.

        Returns:
            True, as SpiffWorkflow expects.

        Raises:
            ExpressionError: The script does not compile, does something the sandbox forbids,
                fails while running, or the task data already uses a name the sandbox injects.
        """
        _require_text(script)
        code = _compile(textwrap.dedent(script), "exec", script, None)
        injected = {**self.globals, **(external_context or {}), **_RESERVED_GLOBALS}
        clashes = sorted(set(injected).intersection(context))
        if clashes:
            # Spiff raises here too (check_for_overwrite): the injected value would overwrite
            # the variable, and the clean-up below would then delete it.
            raise ExpressionError(script, f"task data uses names the sandbox reserves: {clashes}")
        context.update(injected)
        try:
            exec(code, context)
        except (BpmnError, FlowdeskError):
            raise
        except Exception as err:
            raise _runtime_error(script, err, None) from err
        finally:
            _remove_non_data(context, injected)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> NoReturn:
        """Not used: flowdesk runs service tasks through its handler registry instead.

        Raises:
            NotImplementedError: Always.
        """
        raise NotImplementedError("flowdesk does not call services from the script environment")


def evaluate(
    expression: str, variables: Mapping[str, Any], *, element_id: str | None = None
) -> Any:
    """Translate and evaluate an expression-context text (JUEL or Python) in the sandbox.

    Args:
        expression: A condition or other expression, e.g. `${amount > 1000}`.
        variables: The names the expression may use. They are not changed.
        element_id: The BPMN element the text belongs to, for the error message.

    Returns:
        The value of the expression.

    Raises:
        ExpressionError: The text cannot be translated, is not allowed, names an unknown
            variable, or fails while running.
    """
    source = expressions.translate(_require_text(expression), element_id=element_id)
    return _evaluate(source, expression, {}, None, variables, element_id)


def evaluate_value(
    text: str, variables: Mapping[str, Any], *, element_id: str | None = None
) -> Any:
    """Translate and evaluate a value-context text (assignee, due date, input parameter).

    Args:
        text: The attribute text; without `${...}` it is a literal string.
        variables: The names the expression may use. They are not changed.
        element_id: The BPMN element the text belongs to, for the error message.

    Returns:
        The literal text, the value of the single expression, or the built string.

    Raises:
        ExpressionError: As for `evaluate`.
    """
    source = expressions.translate_value(_require_text(text), element_id=element_id)
    return _evaluate(source, text, {}, None, variables, element_id)


# --- guards -------------------------------------------------------------------------------


class _SandboxViolation(Exception):
    """Raised by a guard when running code reaches for something the sandbox forbids."""


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    if not isinstance(name, str):
        raise _SandboxViolation("attribute names must be strings")
    if name.startswith("_"):
        raise _SandboxViolation(f"attribute {name!r} is not allowed (it starts with '_')")
    if name in INSPECT_ATTRIBUTES:
        raise _SandboxViolation(f"attribute {name!r} is not allowed")
    # JUEL reads map entries as properties (`${order.amount}`), and task data is dicts.
    if isinstance(obj, Mapping):
        try:
            return obj[name]
        except KeyError:
            pass
    # RestrictedPython's safer_getattr refuses these too: format strings can reach `_` names
    # (`'{0.__class__}'.format(x)`) without an attribute access the compiler could check.
    if name in ("format", "format_map") and (
        isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    ):
        raise _SandboxViolation(f"str.{name}() is not allowed; use an f-string")
    if isinstance(obj, string.Formatter) or obj is string.Formatter:
        raise _SandboxViolation("string.Formatter is not allowed")
    try:
        return getattr(obj, name, *default)
    except AttributeError as err:
        if isinstance(obj, Mapping):
            raise AttributeError(f"no key or attribute {name!r}") from err
        raise


def _guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
    "<<=": operator.ilshift, ">>=": operator.irshift, "&=": operator.iand,
    "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul,
}  # fmt: skip


def _inplace_var(op: str, target: Any, value: Any) -> Any:
    return _INPLACE_OPERATORS[op](target, value)


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


_EXTRA_BUILTINS: tuple[Any, ...] = (
    len, min, max, sum, abs, round, sorted, any, all, str, int, float, bool, list, dict, set,
    frozenset, tuple, range, enumerate, zip, isinstance, map, filter, reversed,
)  # fmt: skip

# RestrictedPython leaves out sorted, tuple, zip and reversed because they iterate in C,
# bypassing `_getiter_`. Our `_getiter_` is plain `iter` (it restricts nothing), so they lose
# no protection here. `_getattr_` is dropped: the guard in the globals is the one to use.
_BUILTINS: dict[str, Any] = {
    **{name: value for name, value in safe_builtins.items() if name != "_getattr_"},
    **{function.__name__: function for function in _EXTRA_BUILTINS},
    "datetime": datetime.datetime,
    "date": datetime.date,
    "timedelta": datetime.timedelta,
}

_RESERVED_GLOBALS: dict[str, Any] = {
    "__builtins__": _BUILTINS,
    "_getattr_": _guarded_getattr,
    "_getitem_": _guarded_getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplace_var,
    "_apply_": _apply,
    # `print(...)` writes into a collector that nobody reads: output is dropped.
    "_print_": PrintCollector,
    **expressions.RUNTIME_HELPERS,
    expressions.SCOPE_NAME: None,  # set to the namespace itself for each evaluation
}

RESERVED_NAMES: frozenset[str] = frozenset(_RESERVED_GLOBALS)
"""Global names the sandbox injects; task data and `extra_globals` cannot use them."""


# --- compile and run ----------------------------------------------------------------------

_FILENAMES = {"eval": "<expression>", "exec": "<script>"}


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, with imports refused while compiling instead of at runtime."""

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> ast.AST:
        self.error(node, "imports are not allowed")
        return node

    visit_ImportFrom = visit_Import


def _compile(source: str, mode: str, original: str, element_id: str | None) -> types.CodeType:
    try:
        return _compile_cached(source, mode)
    except _CompileFailed as err:
        raise ExpressionError(original, str(err), element_id=element_id) from (err.__cause__ or err)


class _CompileFailed(Exception):
    pass


@functools.lru_cache(maxsize=4096)
def _compile_cached(source: str, mode: str) -> types.CodeType:
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(source, filename=_FILENAMES[mode], policy=_Policy)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        # RestrictedPython reports parse errors in a list, but Python's own compile step
        # after its checks (e.g. `return` outside a function) still raises.
        raise _CompileFailed(f"does not compile: {err}") from err
    if result.errors or result.code is None:
        raise _CompileFailed("not allowed: " + "; ".join(result.errors))
    return result.code


def _evaluate(
    source: str,
    original: str,
    extra_globals: Mapping[str, Any],
    external_context: Mapping[str, Any] | None,
    context: Mapping[str, Any],
    element_id: str | None,
) -> Any:
    code = _compile(source, "eval", original, element_id)
    # Reserved names come last so that task data cannot replace a guard or a helper.
    namespace = {
        **juel_functions.FUNCTIONS,
        **extra_globals,
        **(external_context or {}),
        **context,
        **_RESERVED_GLOBALS,
    }
    namespace[expressions.SCOPE_NAME] = namespace
    try:
        return eval(code, namespace)
    except (BpmnError, FlowdeskError):
        raise
    except Exception as err:
        raise _runtime_error(original, err, element_id) from err


def _runtime_error(original: str, err: Exception, element_id: str | None) -> ExpressionError:
    if isinstance(err, _SandboxViolation):
        reason = f"not allowed: {err}"
    elif isinstance(err, NameError) and err.name is not None:
        if hasattr(builtins, err.name):
            reason = f"{err.name!r} is not available in the sandbox"
        else:
            reason = f"unknown variable {err.name!r}"
    else:
        reason = f"{type(err).__name__}: {err}"
    line = _script_line(err)
    if line is not None:
        reason = f"line {line}: {reason}"
    return ExpressionError(original, reason, element_id=element_id)


def _script_line(err: BaseException) -> int | None:
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(err.__traceback__)
        if frame.filename == _FILENAMES["exec"]
    ]
    return lines[-1] if lines else None


def _remove_non_data(context: dict[str, Any], injected: Mapping[str, Any]) -> None:
    for key in list(context):
        value = context[key]
        if (
            key == "__builtins__"
            or key in injected
            or callable(value)
            or isinstance(value, types.ModuleType)
        ):
            del context[key]


def _require_text(text: object) -> str:
    # Spiff hands over whatever the model holds; a missing text would otherwise fail in
    # translation with a TypeError.
    if not isinstance(text, str):
        raise ExpressionError(repr(text), "expression must be text")
    return text
