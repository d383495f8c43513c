"""CPU-time and memory limits for every script and expression a model runs.

A model is untrusted input: `while True: pass` or `x = [0] * 10**8` in a script task must end
as an incident within a bound, not freeze the engine (on SQLite a step holds the write lock
for its whole transaction, so a runaway script would stop every other writer too).

`ScriptLimits` holds the bounds; `Engine(script_limits=...)` sets them for every call it makes
(`using`, a context variable, so threads and engines sharing a process do not mix them). They
apply per evaluation: one script, one condition, one expression.

How each language is bounded:

- Python scripts and expressions, and JUEL and FEEL (both are translated to Python and run in
  the sandbox): the sandbox's compiler puts a call of `Budget.tick` at the top of every loop
  body, every function and lambda body, and every comprehension step. Each tick reads a cheap
  wall clock; once as much wall time has passed as the CPU limit, it reads the thread's CPU
  time, and once the CPU time or the elapsed time is over its limit every further tick raises
  (a script cannot catch its way out). Every 10 ms of wall time the tick also reads the
  process's resident memory (Linux `/proc/self/statm`) and stops the evaluation once it has
  grown by more than the memory limit since the first reading, 10 ms into the evaluation.
  An expression with no loop, function or comprehension runs no tick at all and costs
  nothing extra.
- Single operations that would allocate a lot at once, before any tick could run, are checked
  before they run (`guarded_mul` and its siblings): sequence repetition (`'x' * n`,
  `[0] * n`), `**`/`pow` and `<<` on integers, `list`/`tuple`/`set`/`sorted` of something
  with a length, `range` objects too large to iterate in one go, `str.join`,
  `str.replace` and the padding methods, and widths in `%` formatting and f-strings.
- JavaScript: QuickJS's own limits, per context: `set_time_limit` (process CPU time, via
  `clock()`) and `set_memory_limit` (the runtime's heap).

Why not a watchdog thread with `PyThreadState_SetAsyncExc`, `sys.settrace` or `resource`
limits: an asynchronous exception can land in engine code after the script has returned (or
inside a `finally` of the engine), `settrace` costs every line of every script and replaces a
debugger's or coverage tool's tracer, and `setrlimit` limits the whole host process. The ticks
are synchronous, raised only inside sandboxed code, and cost one call and one clock read
(about 0.1 microsecond) per loop iteration.

What is not bounded: one built-in operation that is slow without allocating (sorting ten
million items, a regular expression) runs to its end before the next tick; time and memory
spent in a bean or handler that a script calls count toward the limit but the handler is not
interrupted; and memory is the process's resident size, so other threads allocating at the same
moment count against the script.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScriptLimits:
    """How much one script or expression evaluation may use.

    Attributes:
        cpu_seconds: CPU time of one evaluation (Python: the evaluating thread's; JavaScript:
            QuickJS measures the process's). Default 2 seconds.
        wall_seconds: Elapsed time of one Python evaluation, however busy the machine is: on
            SQLite the step holds the write lock meanwhile, and the default of 4 seconds is
            inside SQLite's 5-second wait for that lock (`busy_timeout`), so another writer
            waits for a runaway script instead of failing. At least `cpu_seconds`.
        memory_bytes: Memory one evaluation may add (Python: growth of the process's resident
            memory, and the size any single operation may allocate; JavaScript: the QuickJS
            heap). Default 128 MiB.

    Raises:
        ValueError: A limit is not positive.
    """

    cpu_seconds: float = 2.0
    wall_seconds: float = 4.0
    memory_bytes: int = 128 * _MIB

    def __post_init__(self) -> None:
        if not (self.cpu_seconds > 0 and self.wall_seconds > 0 and self.memory_bytes > 0):
            raise ValueError("script limits must be positive")
        if self.wall_seconds < self.cpu_seconds:
            raise ValueError("wall_seconds must be at least cpu_seconds")


DEFAULT_LIMITS = ScriptLimits()
"""The limits of an `Engine` given none."""

_current: contextvars.ContextVar[ScriptLimits] = contextvars.ContextVar(
    "flowdesk_script_limits", default=DEFAULT_LIMITS
)

# Integers above this many bits are refused in `*`, `**` and `<<`: far beyond any business
# number, and multiplying two of them takes tens of milliseconds in one uninterruptible step.
MAX_INT_BITS = 1 << 20
# Ranges longer than this iterate through a generator that ticks, so that C loops over them
# (`sum(range(10**12))`) can be stopped; shorter ones stay plain `range`.
_LARGE_RANGE = 1 << 20
_MEMORY_PERIOD_SECONDS = 0.01
_POINTER_BYTES = 8


def current() -> ScriptLimits:
    """The limits in force for the evaluation running now."""
    return _current.get()


@contextlib.contextmanager
def using(limits: ScriptLimits) -> Iterator[None]:
    """Evaluations inside the block (this thread or task) use `limits`."""
    token = _current.set(limits)
    try:
        yield
    finally:
        _current.reset(token)


class LimitExceeded(BaseException):
    """Raised inside sandboxed code when an evaluation goes over a limit.

    A `BaseException`, so that the code's own `except Exception` does not swallow it; the
    sandbox turns it into a `ScriptLimitError`. `kind` is "time" or "memory".
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def time_reason(limits: ScriptLimits, *, wall: bool = False) -> str:
    """The reason an evaluation stopped for time, naming the limit."""
    if wall:
        return (
            f"ran longer than the time limit of {limits.wall_seconds:g} s elapsed "
            "(ScriptLimits.wall_seconds)"
        )
    return (
        f"ran longer than the time limit of {limits.cpu_seconds:g} s of CPU time "
        "(ScriptLimits.cpu_seconds)"
    )


def memory_reason(limits: ScriptLimits, what: str = "used") -> str:
    """The reason an evaluation stopped for memory, naming the limit."""
    return (
        f"{what} more than the memory limit of {_size(limits.memory_bytes)} "
        "(ScriptLimits.memory_bytes)"
    )


class Budget:
    """One evaluation's running account of time and memory; `tick` is the check.

    The clocks are first read at the first tick, so an evaluation that never ticks costs one
    small object.

    Attributes:
        tick: The function the compiled code calls: it returns True, so that the compiler can
            put it into a lambda body or a comprehension condition (`_tick_() and body`), and
            raises `LimitExceeded` once the evaluation is over a limit, and on every call
            after that (the code may catch it, but may not go on).
    """

    __slots__ = (
        "_cpu_start",
        "_limits",
        "_memory_start",
        "_next",
        "_next_clock",
        "_next_memory",
        "_started",
        "_tripped",
        "_wall_end",
        "_wall_start",
        "tick",
    )

    def __init__(self, limits: ScriptLimits) -> None:
        self._limits = limits
        self._tripped: LimitExceeded | None = None
        self._started = False
        self._cpu_start = 0.0
        self._memory_start = 0
        self._next_clock = 0.0
        self._next_memory = 0.0
        self._wall_end = 0.0
        self._wall_start = 0.0
        # When the next tick must do more than read the clock; 0 makes the first tick start
        # the clocks, -inf makes every tick raise. A one-item list the closure can read fast.
        self._next = [0.0]
        self.tick = self._ticker()

    def _ticker(self) -> Callable[[], bool]:
        # A closure over locals: the cheapest call Python has, since it runs on every loop
        # iteration. The wall clock needs no system call; one iteration may double a list, so
        # it is read on every tick, not every few.
        clock = time.perf_counter
        next_check = self._next
        slow = self._slow

        def tick() -> bool:
            if clock() >= next_check[0]:
                slow()
            return True

        return tick

    def _slow(self) -> None:
        if self._tripped is not None:
            raise self._tripped
        now = time.perf_counter()
        if self._started:
            self._check(now)
        else:
            self._start(now)
        self._next[0] = min(self._next_clock, self._next_memory)

    def _start(self, now: float) -> None:
        # Neither the thread's CPU clock nor the resident memory is read yet: each is a system
        # call (the CPU clock took up to 100 us on a busy virtual machine), more than a short
        # loop costs. Both are first read at the first check, 10 ms in; the CPU time before
        # then is counted as the whole 10 ms, and what is allocated before then is small or
        # refused by the single-allocation checks.
        self._started = True
        self._wall_start = now
        self._cpu_start = -1.0
        self._memory_start = -1
        self._wall_end = now + self._limits.wall_seconds
        self._next_clock = now + self._limits.cpu_seconds
        self._next_memory = now + _MEMORY_PERIOD_SECONDS

    def _cpu_used(self, now: float) -> float:
        if self._cpu_start < 0:
            self._cpu_start = time.thread_time() - (now - self._wall_start)
        return time.thread_time() - self._cpu_start

    def _check(self, now: float) -> None:
        limits = self._limits
        if now >= self._wall_end:
            self._trip(LimitExceeded("time", time_reason(limits, wall=True)))
        if now >= self._next_memory:
            resident = resident_bytes()
            if self._memory_start < 0:
                self._memory_start = resident
                self._cpu_used(now)  # the CPU clock's first reading, too
            elif resident - self._memory_start > limits.memory_bytes:
                self._trip(LimitExceeded("memory", memory_reason(limits)))
            self._next_memory = now + _MEMORY_PERIOD_SECONDS
        if now >= self._next_clock:
            # CPU time never runs ahead of wall time, so the thread clock is read only once
            # the wall clock says the limit could have been reached.
            used = self._cpu_used(now)
            if used >= limits.cpu_seconds:
                self._trip(LimitExceeded("time", time_reason(limits)))
            self._next_clock = min(now + (limits.cpu_seconds - used), self._wall_end)

    def _trip(self, exceeded: LimitExceeded) -> None:
        self._tripped = exceeded
        self._next[0] = -math.inf
        raise exceeded


def resident_bytes() -> int:
    """The process's resident memory now, or 0 where the platform does not tell cheaply."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# --- guards for single large operations -------------------------------------------------------


def check_allocation(size_bytes: int, what: str) -> None:
    """Refuse one operation that would allocate more than the memory limit at once.

    Raises:
        LimitExceeded: `size_bytes` is over the current memory limit.
    """
    limits = _current.get()
    if size_bytes > limits.memory_bytes:
        raise LimitExceeded("memory", memory_reason(limits, f"{what} would allocate"))


def _check_int_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise LimitExceeded(
            "memory", f"{what} would give an integer of more than {MAX_INT_BITS:,} bits"
        )


def _item_bytes(value: object) -> int | None:
    """Bytes per item a repetition of `value` takes, or None if it is not a sequence."""
    if isinstance(value, (str, bytes, bytearray)):
        return 1
    if isinstance(value, (list, tuple)):
        return _POINTER_BYTES
    return None


def check_mul(left: Any, right: Any) -> None:
    """Refuse `left * right` when it is a repetition or integer product over the limits."""
    if type(left) is int and type(right) is int:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            _check_int_bits(left.bit_length() + right.bit_length(), "a multiplication")
    elif isinstance(right, int) and (per_item := _item_bytes(left)) is not None:
        check_allocation(len(left) * right * per_item, "a repetition")
    elif isinstance(left, int) and (per_item := _item_bytes(right)) is not None:
        check_allocation(len(right) * left * per_item, "a repetition")


def check_pow(base: Any, exponent: Any) -> None:
    """Refuse `base ** exponent` when its integer result would be over `MAX_INT_BITS`."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _check_int_bits((abs(base).bit_length() - 1) * exponent, "a power")


def check_lshift(left: Any, right: Any) -> None:
    """Refuse `left << right` when its result would be over `MAX_INT_BITS`."""
    if isinstance(left, int) and isinstance(right, int) and left and right > 0:
        _check_int_bits(left.bit_length() + right, "a shift")


def check_mod(left: Any, right: Any) -> None:
    """Refuse `%` formatting whose field widths or precisions are over the memory limit."""
    if not isinstance(left, (str, bytes)):
        return
    raw = left.encode("utf-8", "replace") if isinstance(left, str) else left
    widths = [0]
    starred = False
    for match in _PERCENT_FIELD.finditer(raw):
        for group in match.groups():
            if group == b"*":
                starred = True
            elif group:
                widths.append(int(group))
    if starred and isinstance(right, tuple):
        widths.extend(abs(value) for value in right if isinstance(value, int))
    check_allocation(max(widths), "a % format width")


_PERCENT_FIELD = re.compile(rb"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def guarded_mul(left: Any, right: Any) -> Any:
    """`left * right`, after `check_mul`."""
    if type(left) is float or type(right) is float:
        return left * right  # the common case, and never large
    check_mul(left, right)
    return left * right


def guarded_pow(base: Any, exponent: Any, modulus: Any = None) -> Any:
    """`base ** exponent` and the `pow` builtin, after `check_pow`."""
    if modulus is not None:
        return pow(base, exponent, modulus)  # the result is below the modulus
    check_pow(base, exponent)
    return base**exponent


def guarded_lshift(left: Any, right: Any) -> Any:
    """`left << right`, after `check_lshift`."""
    check_lshift(left, right)
    return left << right


def guarded_mod(left: Any, right: Any) -> Any:
    """`left % right`, after `check_mod`."""
    check_mod(left, right)
    return left % right


CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "*=": check_mul,
    "**=": check_pow,
    "<<=": check_lshift,
    "%=": check_mod,
}
"""The checks of the in-place operators, by operator text."""


def check_format_spec(spec: str) -> None:
    """Refuse a format spec (`f'{x:>{n}}'`, `format(x, spec)`) whose width is over the limit."""
    digits = "".join(ch if ch.isdigit() else " " for ch in spec).split()
    if digits:
        check_allocation(max(int(d) for d in digits), "a format width")


def guarded_format(value: Any, spec: str = "") -> str:
    """The `format` builtin with the width check of `check_format_spec`."""
    check_format_spec(str(spec))
    return format(value, spec)


def formatted(value: Any, conversion: int, spec: str) -> str:
    """An f-string field `{value!conversion:spec}`, with the width check."""
    if conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("s"):
        value = str(value)
    elif conversion == ord("a"):
        value = ascii(value)
    return guarded_format(value, spec)


def _sized(constructor: Callable[..., Any], per_item: int) -> Callable[..., Any]:
    def build(*args: Any, **kwargs: Any) -> Any:
        if args and hasattr(args[0], "__len__"):
            check_allocation(len(args[0]) * per_item, f"{constructor.__name__}()")
        return constructor(*args, **kwargs)

    build.__name__ = constructor.__name__
    build.__doc__ = constructor.__doc__
    return build


class _LargeRange:
    """A `range` too long to iterate in one C loop: same answers, but its iterator ticks."""

    __slots__ = ("_range",)

    def __init__(self, real: range) -> None:
        self._range = real

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: Any) -> Any:
        return self._range[index]

    def __contains__(self, value: object) -> bool:
        return value in self._range

    def __iter__(self) -> Iterator[int]:
        tick = _current_tick()
        for value in self._range:
            tick()
            yield value

    def __reversed__(self) -> Iterator[int]:
        return iter(_LargeRange(self._range[::-1]))

    def __repr__(self) -> str:
        return repr(self._range)

    def count(self, value: Any) -> int:
        return self._range.count(value)

    def index(self, value: Any) -> int:
        return self._range.index(value)

    @property
    def start(self) -> int:
        return self._range.start

    @property
    def stop(self) -> int:
        return self._range.stop

    @property
    def step(self) -> int:
        return self._range.step


_tick_of_thread: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar(
    "flowdesk_tick", default=None
)


def _current_tick() -> Callable[[], bool]:
    tick = _tick_of_thread.get()
    return tick if tick is not None else Budget(_current.get()).tick


AccountingToken = contextvars.Token[Callable[[], bool] | None]


def start_accounting(budget: Budget) -> AccountingToken:
    """Make `budget` the one large ranges tick for, until `stop_accounting(token)`.

    Two calls rather than a context manager: this runs for every evaluation that ticks.
    """
    return _tick_of_thread.set(budget.tick)


def stop_accounting(token: AccountingToken) -> None:
    """Undo the `start_accounting` that returned `token`."""
    _tick_of_thread.reset(token)


def limited_range(*args: Any) -> Any:
    """`range`, whose very long instances iterate through a ticking generator."""
    real = range(*args)
    return real if len(real) <= _LARGE_RANGE else _LargeRange(real)


def _sized_method(method: Callable[..., Any], size: Callable[..., int], name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        check_allocation(size(*args, **kwargs), f"str.{name}()")
        return method(*args, **kwargs)

    return call


def _join_size(owner: str | bytes) -> Callable[..., int]:
    def size(items: Any) -> int:
        if not hasattr(items, "__len__"):
            return 0
        total = len(owner) * max(len(items) - 1, 0)
        return total + sum(len(item) for item in items if hasattr(item, "__len__"))

    return size


def _replace_size(owner: str | bytes) -> Callable[..., int]:
    def size(old: Any, new: Any, count: int = -1) -> int:
        if not hasattr(old, "__len__") or not hasattr(new, "__len__"):
            return 0
        hits = len(owner) + 1 if not old else owner.count(old)
        if count >= 0:
            hits = min(hits, count)
        return len(owner) + hits * max(len(new) - len(old), 0)

    return size


def _width_size(owner: str | bytes) -> Callable[..., int]:
    def size(width: Any = 0, *rest: Any) -> int:
        return width if isinstance(width, int) else 0

    return size


def _tabs_size(owner: str | bytes) -> Callable[..., int]:
    def size(tabsize: Any = 8) -> int:
        tabs = owner.count("\t" if isinstance(owner, str) else b"\t")  # type: ignore[arg-type]
        return len(owner) + tabs * (tabsize if isinstance(tabsize, int) else 0)

    return size


_STRING_METHODS: dict[str, Callable[[Any], Callable[..., int]]] = {
    "join": _join_size,
    "replace": _replace_size,
    "ljust": _width_size,
    "rjust": _width_size,
    "center": _width_size,
    "zfill": _width_size,
    "expandtabs": _tabs_size,
}


def guard_method(owner: Any, name: str, method: Any) -> Any:
    """A string's method that can build a large string, wrapped with a size check."""
    sizer = _STRING_METHODS.get(name)
    if sizer is None or not isinstance(owner, (str, bytes)):
        return method
    return _sized_method(method, sizer(owner), name)


BUILTINS: dict[str, Any] = {
    "list": _sized(list, _POINTER_BYTES),
    "tuple": _sized(tuple, _POINTER_BYTES),
    "set": _sized(set, _POINTER_BYTES),
    "frozenset": _sized(frozenset, _POINTER_BYTES),
    "sorted": _sized(sorted, _POINTER_BYTES),
    "pow": guarded_pow,
    "range": limited_range,
}
"""Sandbox builtins that replace the ones the sandbox had, with the size checks above (it adds
none: `bytes`, `bytearray` and `format` stay out)."""

# So that `isinstance(x, list)` keeps working in scripts, the sized constructors are only the
# callables; `isinstance` gets the real types from the sandbox (see sandbox._isinstance).
REAL_TYPES: dict[Any, Any] = {
    BUILTINS[name]: getattr(sys.modules["builtins"], name)
    for name in ("list", "tuple", "set", "frozenset", "range")
}


def _size(value: int) -> str:
    return f"{value // _MIB} MiB" if value % _MIB == 0 else f"{value:,} bytes"
