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
  is how escapes from "empty builtins" sandboxes usually work. JUEL's property and method
  access (`expressions.el_members`) asks the same `attribute_policy` before any `getattr`;
  JUEL variables and map keys starting with `_` are data and readable, but JUEL refuses names
  like the sandbox's own (`__x`, `_x_`, `juel_*`) when it parses;
- assigning attributes of objects other than dicts and lists.

- running longer or allocating more than `ScriptLimits` allow: loops, functions, lambdas and
  comprehensions tick an evaluation's budget, and single large allocations (`'x' * 10**10`,
  `9**9**9`, `list(range(10**10))`) are refused before they run; see `limits`. Going
  over a limit is a `ScriptLimitError`, which the script cannot catch and go on.

What it does not prevent:

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
import textwrap
import traceback
import types
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, cast

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)

from flowdesk.engine.languages import expressions, juel_functions, limits
from flowdesk.engine.languages.expressions.attribute_policy import AttributeRefused, check_attribute
from flowdesk.engine.languages.expressions.spin import SpinJsonNode
from flowdesk.errors import BpmnError, ExpressionError, FlowdeskError, ScriptLimitError


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

    def evaluate_with(
        self,
        expression: str,
        context: Mapping[str, Any],
        *,
        beans: Mapping[str, Any] | None = None,
        objects: Mapping[str, Any] | None = None,
    ) -> Any:
        """`evaluate` with beans beneath the task data and context objects above it.

        Args:
            expression: As for `evaluate`.
            context: The task data.
            beans: Objects expressions may call (see `HandlerRegistry.beans`).
            objects: Names that win over task data: Camunda's `execution` and `task`.

        Raises:
            ExpressionError: As for `evaluate`.
        """
        source = expressions.translate(_require_text(expression))
        return _evaluate(source, expression, self.globals, beans, context, None, objects)

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Run a Python script with the task data as its namespace, like Spiff's environment.

        The script changes `context` in place. Afterwards the sandbox removes `__builtins__`,
        every callable, every module and every injected global from it, so only data is left
        (a failed script also leaves whatever it assigned before the failure, except one
        stopped at a `ScriptLimits` limit: the names it bound are restored).

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
        code, ticks = _compile(textwrap.dedent(script), "exec", script, None)
        injected = {**self.globals, **(external_context or {}), **_RESERVED_GLOBALS}
        clashes = sorted(set(injected).intersection(context))
        if _TICK in context:
            clashes.append(_TICK)
        if clashes:
            # Spiff raises here too (check_for_overwrite): the injected value would overwrite
            # the variable, and the clean-up below would then delete it.
            raise ExpressionError(script, f"task data uses names the sandbox reserves: {clashes}")
        # What a script stopped at a limit assigned is dropped (a memory bomb's list would
        # otherwise be saved with the incident); only new names and rebindings are undone.
        before = dict(context)
        context.update(injected)
        try:
            _run(code, context, ticks)
        except (BpmnError, FlowdeskError):
            raise
        except limits.LimitExceeded as over:
            context.clear()
            context.update(before)
            raise _limit_error(script, over, None) from None
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
    expression: str,
    variables: Mapping[str, Any],
    *,
    element_id: str | None = None,
    beans: Mapping[str, Any] | None = None,
    objects: Mapping[str, Any] | None = None,
) -> Any:
    """Translate and evaluate an expression-context text (JUEL or Python) in the sandbox.

    This is the call for "evaluate this JUEL expression with these context objects", e.g. a
    listener's `${approvals.check(execution, task)}`:
    `evaluate(text, variables, beans=registry.beans, objects={"execution": ..., "task": ...})`.

    Args:
        expression: A condition or other expression, e.g. `${amount > 1000}`.
        variables: The process variables. The mapping itself is not changed (an
            `ExpressionExecution` in `objects` may write to the mapping it was given).
        element_id: The BPMN element the text belongs to, for the error message.
        beans: Objects the expression may name and call public methods of
            (`HandlerRegistry.beans`); variables of the same name win over them.
        objects: Context objects that win over variables of the same name, as Camunda's
            `execution` and `task` do. `execution` should be an `ExpressionExecution`;
            without one, JUEL's `execution` is a read-only view of `variables`.

    Returns:
        The value of the expression.

    Raises:
        ExpressionError: The text cannot be translated, is not allowed, names an unknown
            variable, or fails while running.
    """
    source = expressions.translate(_require_text(expression), element_id=element_id)
    return _evaluate(source, expression, {}, beans, variables, element_id, objects)


def evaluate_value(
    text: str,
    variables: Mapping[str, Any],
    *,
    element_id: str | None = None,
    beans: Mapping[str, Any] | None = None,
    objects: Mapping[str, Any] | None = None,
) -> Any:
    """Translate and evaluate a value-context text (assignee, due date, input parameter).

    Args:
        text: The attribute text; without `${...}` it is a literal string.
        variables: The process variables. They are not changed.
        element_id: The BPMN element the text belongs to, for the error message.
        beans: As for `evaluate`.
        objects: As for `evaluate`.

    Returns:
        The literal text, the value of the single expression, or the built string.

    Raises:
        ExpressionError: As for `evaluate`.
    """
    if "{" not in _require_text(text) and "\\" not in text:
        return text  # no expression and nothing escaped: the literal text, as translated
    source = expressions.translate_value(text, element_id=element_id)
    return _evaluate(source, text, {}, beans, variables, element_id, objects)


def check_script(script: str, *, element_id: str | None = None) -> None:
    """Check at deploy that a Python script can run in the sandbox at all.

    It compiles with the sandbox's own compiler (refusing imports, `_` names, `exec`/`eval`)
    and must not call a builtin the sandbox leaves out (`open(...)`, `getattr(...)`) unless
    the script defines that name itself.

    Raises:
        ExpressionError: The script would be refused every time it runs.
    """
    _require_text(script)
    source = textwrap.dedent(script)
    _compile(source, "exec", script, element_id)
    _check_absent_builtins(source, script, element_id)


def check_expression(
    text: str, *, element_id: str | None = None, value_context: bool = False
) -> None:
    """Check at deploy that an expression (JUEL or plain Python) can run in the sandbox at all.

    Beyond translating, it compiles the result with the sandbox's compiler, refuses calls of
    builtins the sandbox leaves out, and refuses JUEL calls of functions that do not exist
    (Camunda's functions are `now()`, `dateTime()`, `S()` and `JSON()`).

    Raises:
        ExpressionError: The expression would be refused every time it runs.
    """
    _require_text(text)
    translate = expressions.translate_value if value_context else expressions.translate
    source = translate(text, element_id=element_id)
    _compile(source, "eval", text, element_id)
    if expressions.is_juel(text):
        unknown = sorted(expressions.called_functions(text) - set(juel_functions.FUNCTIONS))
        unsupported = [name for name in unknown if name in _CAMUNDA_FUNCTIONS_NOT_SUPPORTED]
        if unsupported:
            raise ExpressionError(
                text,
                f"calls Camunda's {unsupported[0]}(), which flowdesk does not support "
                "(it has no authenticated user inside an expression)",
                element_id=element_id,
            )
        if unknown:
            known = ", ".join(f"{name}()" for name in juel_functions.FUNCTIONS)
            raise ExpressionError(
                text,
                f"calls the function {unknown[0]}(), which does not exist "
                f"(expressions can call {known}, and methods of beans and variables)",
                element_id=element_id,
            )
    else:
        _check_absent_builtins(source, text, element_id)


# Camunda 7's command-context functions; flowdesk passes no user into expressions.
_CAMUNDA_FUNCTIONS_NOT_SUPPORTED = frozenset({"currentUser", "currentUserGroups"})


def _check_absent_builtins(source: str, original: str, element_id: str | None) -> None:
    tree = ast.parse(source)
    assigned = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)
    } | {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _ABSENT_BUILTINS
            and node.func.id not in assigned
        ):
            raise ExpressionError(
                original,
                f"line {node.lineno}: {node.func.id!r} is not available in the sandbox",
                element_id=element_id,
            )


# --- guards -------------------------------------------------------------------------------

_TICK = "_tick_"  # the global the compiled ticks call (see `_Policy`)


class _SandboxViolation(Exception):
    """Raised by a guard when running code reaches for something the sandbox forbids."""


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    try:
        check_attribute(obj, name)
    except AttributeRefused as err:
        raise _SandboxViolation(str(err)) from None
    # JUEL reads map entries as properties (`${order.amount}`), and task data is dicts.
    if isinstance(obj, Mapping):
        try:
            return obj[name]
        except KeyError:
            pass
    try:
        return getattr(obj, name, *default)
    except AttributeError as err:
        if isinstance(obj, Mapping):
            raise AttributeError(f"no key or attribute {name!r}") from err
        raise


def _guarded_getattr_sized(obj: Any, name: str, *default: Any) -> Any:
    value = _guarded_getattr(obj, name, *default)
    if isinstance(obj, (str, bytes)):
        # `'x'.ljust(10**10)` and friends allocate in one step; check their size first.
        return limits.guard_method(obj, name, value)
    return value


def _guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
    "<<=": operator.ilshift, ">>=": operator.irshift, "&=": operator.iand,
    "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul,
}  # fmt: skip


def _inplace_var(op: str, target: Any, value: Any) -> Any:
    check = limits.CHECKS.get(op)
    if check is not None:  # `items *= 10**9` allocates in one step: check the size first
        check(target, value)
    return _INPLACE_OPERATORS[op](target, value)


_OPERATOR_GUARDS: dict[str, Callable[..., Any]] = {
    "_mul_": limits.guarded_mul,
    "_pow_": limits.guarded_pow,
    "_lshift_": limits.guarded_lshift,
    "_mod_": limits.guarded_mod,
    "_fmt_": limits.formatted,
}


def _real_types(classinfo: Any) -> Any:
    if isinstance(classinfo, tuple):
        return tuple(_real_types(item) for item in classinfo)
    return limits.REAL_TYPES.get(classinfo, classinfo)


def _isinstance(obj: Any, classinfo: Any) -> bool:
    # `list`, `tuple`, ... are size-checking constructors in the sandbox (see
    # script_limits.BUILTINS); `isinstance(x, list)` must still mean the type.
    return isinstance(obj, _real_types(classinfo))


def _issubclass(cls: Any, classinfo: Any) -> bool:
    return issubclass(_real_types(cls), _real_types(classinfo))


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
    **limits.BUILTINS,
    "isinstance": _isinstance,
    "issubclass": _issubclass,
    # The size guards `_Policy` compiles calls of (see script_limits). In the builtins, not
    # the globals: every evaluation copies the globals, and sandboxed code cannot name `_`
    # names, so nothing but data (which is never callable) could shadow them.
    **_OPERATOR_GUARDS,
}

_RESERVED_GLOBALS: dict[str, Any] = {
    "__builtins__": _BUILTINS,
    "_getattr_": _guarded_getattr_sized,
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

_ABSENT_BUILTINS = frozenset(
    name for name in dir(builtins) if not name.startswith("_") and name not in _BUILTINS
) - {"True", "False", "None", "print"}  # RestrictedPython rewrites print() itself

RESERVED_NAMES: frozenset[str] = frozenset(_RESERVED_GLOBALS) | {_TICK}
"""Global names the sandbox injects; task data and `extra_globals` cannot use them."""


# --- compile and run ----------------------------------------------------------------------

_FILENAMES = {"eval": "<expression>", "exec": "<script>"}


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, with imports refused while compiling instead of at runtime,
    budget ticks in every loop, function, lambda and comprehension, and size guards on the
    operators that can allocate a lot in one step (see `limits`)."""

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> ast.AST:
        self.error(node, "imports are not allowed")
        return node

    visit_ImportFrom = visit_Import

    def visit_While(self, node: ast.While) -> ast.AST:
        return _tick_first(super().visit_While(node))

    def visit_For(self, node: ast.For) -> ast.AST:
        return _tick_first(super().visit_For(node))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return _tick_first(super().visit_FunctionDef(node))

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        visited: Any = super().visit_Lambda(node)
        visited.body = ast.copy_location(
            ast.BoolOp(op=ast.And(), values=[_tick_call(visited.body), visited.body]),
            visited.body,
        )
        return cast(ast.AST, visited)

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        visited: Any = super().visit_comprehension(node)
        # First, so that a filter that is always false does not skip it.
        visited.ifs.insert(0, _tick_call(visited.iter))
        return cast(ast.AST, visited)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        visited: Any = super().visit_BinOp(node)
        guard = _GUARDED_OPERATORS.get(type(visited.op))
        if guard is None:
            return cast(ast.AST, visited)
        call = ast.Call(
            func=ast.Name(guard, ast.Load()), args=[visited.left, visited.right], keywords=[]
        )
        return ast.fix_missing_locations(ast.copy_location(call, visited))

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        visited: Any = super().visit_FormattedValue(node)
        if visited.format_spec is None:
            return cast(ast.AST, visited)
        # `f"{x:>{n}}"`: the width is known only when it runs, so format through the guard.
        call = ast.Call(
            func=ast.Name("_fmt_", ast.Load()),
            args=[visited.value, ast.Constant(visited.conversion), visited.format_spec],
            keywords=[],
        )
        call = ast.fix_missing_locations(ast.copy_location(call, visited))
        return ast.copy_location(
            ast.FormattedValue(value=call, conversion=-1, format_spec=None), visited
        )


_GUARDED_OPERATORS: dict[type[ast.operator], str] = {
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
}


def _tick_call(near: ast.AST) -> ast.expr:
    call = ast.Call(func=ast.Name(_TICK, ast.Load()), args=[], keywords=[])
    return ast.fix_missing_locations(ast.copy_location(call, near))


def _tick_first(node: Any) -> ast.AST:
    """A loop or function whose body begins by ticking the budget."""
    tick = ast.copy_location(ast.Expr(_tick_call(node)), node)
    node.body.insert(0, tick)
    return cast(ast.AST, node)


def _ticks(code: types.CodeType) -> bool:
    """Whether compiled code (or code nested in it) calls the budget tick."""
    return _TICK in code.co_names or any(
        isinstance(const, types.CodeType) and _ticks(const) for const in code.co_consts
    )


def _compile(
    source: str, mode: str, original: str, element_id: str | None
) -> tuple[types.CodeType, bool]:
    """The code, and whether it ticks a budget (has loops, functions or comprehensions)."""
    try:
        return _compile_cached(source, mode)
    except _CompileFailed as err:
        raise ExpressionError(original, str(err), element_id=element_id) from (err.__cause__ or err)


class _CompileFailed(Exception):
    pass


@functools.lru_cache(maxsize=4096)
def _compile_cached(source: str, mode: str) -> tuple[types.CodeType, bool]:
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(source, filename=_FILENAMES[mode], policy=_Policy)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        # RestrictedPython reports parse errors in a list, but Python's own compile step
        # after its checks (e.g. `return` outside a function) still raises.
        raise _CompileFailed(f"does not compile: {err}") from err
    if result.errors or result.code is None:
        raise _CompileFailed("not allowed: " + "; ".join(result.errors))
    return result.code, _ticks(result.code)


def _evaluate(
    source: str,
    original: str,
    extra_globals: Mapping[str, Any],
    external_context: Mapping[str, Any] | None,
    context: Mapping[str, Any],
    element_id: str | None,
    objects: Mapping[str, Any] | None = None,
) -> Any:
    code, ticks = _compile(source, "eval", original, element_id)
    # Camunda's resolver order: functions and beans, then variables, then the context objects
    # (`execution`, `task`). Reserved names come last so that nothing replaces a guard.
    namespace = {
        **juel_functions.FUNCTIONS,
        **extra_globals,
        **(external_context or {}),
        **context,
        **(objects or {}),
        **_RESERVED_GLOBALS,
    }
    namespace[expressions.SCOPE_NAME] = namespace
    try:
        value = _run(code, namespace, ticks)
    except (BpmnError, FlowdeskError):
        raise
    except limits.LimitExceeded as over:
        raise _limit_error(original, over, element_id) from None
    except Exception as err:
        raise _runtime_error(original, err, element_id) from err
    # A Spin node stays an expression's intermediate; as a result its JSON data is the value,
    # since process variables are JSON.
    return value.value() if isinstance(value, SpinJsonNode) else value


def _run(code: types.CodeType, namespace: dict[str, Any], ticks: bool) -> Any:
    """Run compiled code; code that ticks gets a fresh budget under the current limits."""
    if not ticks:
        return eval(code, namespace)
    budget = limits.Budget(limits.current())
    namespace[_TICK] = budget.tick
    token = limits.start_accounting(budget)
    try:
        return eval(code, namespace)
    finally:
        limits.stop_accounting(token)


def _limit_error(
    original: str, over: limits.LimitExceeded, element_id: str | None
) -> ScriptLimitError:
    return ScriptLimitError(original, over.reason, kind=over.kind, element_id=element_id)


def _runtime_error(original: str, err: Exception, element_id: str | None) -> ExpressionError:
    if isinstance(err, (_SandboxViolation, AttributeRefused)):
        reason = f"not allowed: {err}"
    elif isinstance(err, expressions.ELError):
        reason = str(err)
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
