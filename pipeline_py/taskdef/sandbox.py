"""The jinja2 environment templates render in: sandboxed, with only the documented helpers, and bounded.

A template comes from the repository, so a pull request can change it while Jenkins has AWS
credentials bound. It therefore renders in jinja2's ``ImmutableSandboxedEnvironment`` (no
``__class__``/``__globals__``/``__subclasses__`` walks, no calls of unsafe callables, no mutation of
lists and dicts) and sees only:

- the variables pipeline-py passes (``template_context``) and the helpers ``environment``, ``secrets``
  and ``awslogs``; of jinja2's globals only ``range`` (at most ``MAX_RANGE`` items) and ``dict``;
- the filters in ``FILTERS`` (``int`` and ``float`` fail on values they cannot convert instead of
  returning 0);
- bounded work: values of at most ``MAX_VALUE`` characters or items, integers of at most
  ``MAX_INT_BITS`` bits, ``MAX_LOOPS`` loop iterations, ``MAX_CALLS`` calls, and ``MAX_OUTPUT``
  characters of output. A template exceeding a bound fails (``TemplateLimit``, a ``SecurityError``)
  instead of exhausting the agent's memory or time.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import string
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from pipeline_py import inputs
from pipeline_py.taskdef import helpers

MAX_VALUE = 1_000_000  # characters of one string / items of one list a template builds
MAX_OUTPUT = 1024 * 1024  # characters rendered (ECS takes task definitions of at most 64 KiB)
MAX_LOOPS = 100_000  # loop iterations in one render
MAX_CALLS = 10_000  # calls (helpers, macros, methods) in one render
MAX_RANGE = 10_000  # items of one range()
MAX_INT_BITS = 4096  # integers a template computes
MAX_WIDTH = 10_000  # widths/counts passed to string methods and format specs

LOOP_FILTER = "_pipeline_py_counted"

# Filters a template may use (jinja2's own, minus those that print, pad or repeat text on request).
FILTERS = (
    "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "first", "float", "format", "groupby",
    "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr",
    "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "trim",
    "truncate", "unique", "upper", "urlencode", "wordcount",
)


class TemplateLimit(SecurityError):
    """A template tried to do more than a task definition needs (a bound of this module)."""


class HelperInputError(helpers.HelperError):
    pass


def _sized(value: Any) -> int | None:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value)
    return None


def _check_value(value: Any, what: str) -> Any:
    n = _sized(value)
    if n is not None and n > MAX_VALUE:
        raise TemplateLimit(f"{what} would be {n} characters/items long (at most {MAX_VALUE})")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimit(f"{what} would be an integer of {value.bit_length()} bits (at most {MAX_INT_BITS})")
    return value


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent_format(fmt: str) -> None:
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for n in (width, precision):
            if n == "*" or (n and int(n) > MAX_WIDTH):
                raise TemplateLimit(f"a %-format width or precision of {n} (at most {MAX_WIDTH})")


def _check_brace_format(fmt: str) -> None:
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises its own error
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise TemplateLimit("a nested replacement field in a format spec")
        for n in re.findall(r"\d+", spec):
            if int(n) > MAX_WIDTH:
                raise TemplateLimit(f"a format width or precision of {n} (at most {MAX_WIDTH})")


def strict_int(value: Any, default: Any = None, base: int = 10) -> int:
    """``| int``: whole numbers only ("8080", 8080, 8080.0); anything else fails (or gives
    ``default`` when the template passes one explicitly) instead of silently becoming 0."""
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(value, str):
            text = value.strip()
            if len(text) > 40:
                raise ValueError
            return int(text, base)
        raise ValueError
    except (ValueError, TypeError, OverflowError):
        if default is not None:
            return default if _is_int(default) else strict_int(default)
        raise HelperInputError(f"int: cannot convert {_short(value)} to a whole number") from None


def strict_float(value: Any, default: Any = None) -> float:
    """``| float``: finite numbers only; anything else fails (or gives an explicit ``default``)."""
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str) and len(value) > 60:
            raise ValueError
        result = float(value)
        if result != result or result in (float("inf"), float("-inf")):
            raise ValueError
        return result
    except (ValueError, TypeError, OverflowError):
        if default is not None:
            return strict_float(default)
        raise HelperInputError(f"float: cannot convert {_short(value)} to a finite number") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


class _BoundedLoader(jinja2.FileSystemLoader):
    """Templates and their includes read within ``pipeline_py.inputs`` bounds (size, strict UTF-8),
    and only from inside the search path unless ``allow_outside`` (symlinks are followed first)."""

    def __init__(self, searchpath: list[str], *, allow_outside: bool) -> None:
        super().__init__(searchpath)
        self.allow_outside = allow_outside

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # refuses '..'
        for searchpath in self.searchpath:
            filename = posixpath.join(searchpath, *pieces)
            if os.path.isfile(filename):
                break
        else:
            raise jinja2.TemplateNotFound(template)
        path = Path(filename)
        if not self.allow_outside:
            roots = [Path(p).resolve() for p in self.searchpath]
            if not any(path.resolve().is_relative_to(r) for r in roots):
                raise TemplateLimit(f"{template!r} is a link to {path.resolve()}, outside the template directory")
        text = inputs.read_text(path, "template")
        mtime = os.path.getmtime(filename)

        def uptodate() -> bool:
            try:
                return os.path.getmtime(filename) == mtime
            except OSError:
                return False

        return text, os.path.normpath(filename), uptodate


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox plus the bounds of this module; one instance per render (it counts)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, search: list[Path], *, allow_outside: bool = False, **kwargs: Any) -> None:
        super().__init__(loader=_BoundedLoader([str(p) for p in search], allow_outside=allow_outside), **kwargs)
        self.loops = 0
        self.calls = 0
        self.globals.clear()
        self.globals.update(range=self._range, dict=dict)
        kept = {name: self.filters[name] for name in FILTERS if name in self.filters}
        self.filters.clear()
        self.filters.update({name: self.bounded(f, name) for name, f in kept.items()})
        self.filters.update(int=strict_int, float=strict_float)
        self.filters[LOOP_FILTER] = self._counted

    # ---- work bounds

    def step(self, what: str) -> None:
        if what == "a loop":
            self.loops += 1
            if self.loops > MAX_LOOPS:
                raise TemplateLimit(f"more than {MAX_LOOPS} loop iterations")
        else:
            self.calls += 1
            if self.calls > MAX_CALLS:
                raise TemplateLimit(f"more than {MAX_CALLS} calls (a recursive macro?)")

    def _range(self, *args: int) -> range:
        rng = range(*args)
        if len(rng) > MAX_RANGE:
            raise TemplateLimit(f"range() of {len(rng)} items (at most {MAX_RANGE})")
        return rng

    @jinja2.pass_context
    def _counted(self, context: Any, iterable: Iterable[Any]) -> Iterator[Any]:
        if isinstance(iterable, jinja2.Undefined):
            yield from iterable  # StrictUndefined raises naming the variable
            return
        for item in iterable:
            self.step("a loop")
            yield item

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Every ``{% for %}`` iterates through ``LOOP_FILTER``, which counts its iterations."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
        tree.set_environment(self)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _is_int(left) and _is_int(right):
            if right > 0 and abs(left) > 1 and right * abs(left).bit_length() > MAX_INT_BITS:
                raise TemplateLimit(f"{_short(left)} ** {right} is larger than {MAX_INT_BITS} bits")
        elif operator == "*":
            for seq, n in ((left, right), (right, left)):
                size = _sized(seq)
                if size is not None and _is_int(n) and size * n > MAX_VALUE:
                    raise TemplateLimit(f"repeating {size} characters/items {n} times (at most {MAX_VALUE} in all)")
            if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateLimit(f"a product larger than {MAX_INT_BITS} bits")
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left)
        elif operator == "+":
            a, b = _sized(left), _sized(right)
            if a is not None and b is not None and a + b > MAX_VALUE:
                raise TemplateLimit(f"joining {a} and {b} characters/items (at most {MAX_VALUE})")
        return _check_value(super().call_binop(context, operator, left, right), f"the result of {operator}")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.step("calls")
        values = [*args, *kwargs.values()]
        for v in values:
            _check_value(v, "an argument")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes | list | tuple | dict) and not isinstance(owner, type):
            _check_method(owner, getattr(__obj, "__name__", ""), args)
        return _check_value(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
            _check_brace_format(owner)
        return super().wrap_str_format(value)

    def bounded(self, f: Callable[..., Any], name: str) -> Callable[..., Any]:
        """A jinja2 filter with bounded arguments and result."""
        skip = 1 if hasattr(f, "jinja_pass_arg") else 0

        @functools.wraps(f)
        def filter_(*args: Any, **kwargs: Any) -> Any:
            value, rest = (args[skip] if len(args) > skip else None), [*args[skip + 1:], *kwargs.values()]
            for v in rest:
                _check_value(v, f"an argument of | {name}")
                if _is_int(v) and abs(v) > MAX_WIDTH:
                    raise TemplateLimit(f"| {name} with {v} (at most {MAX_WIDTH})")
            if name == "format" and isinstance(value, str):
                _check_percent_format(value)
            elif name == "replace" and isinstance(value, str) and len(rest) >= 2:
                _check_replace(value, rest[0], rest[1])
            elif name == "join" and isinstance(value, list | tuple):
                _check_join(value, rest[0] if rest else "")
            return _check_value(f(*args, **kwargs), f"the result of | {name}")

        return filter_


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_replace(text: str, old: Any, new: Any) -> None:
    if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        worst = len(text) + (len(text) // max(len(old), 1) + 1) * (len(new) - len(old))
        if worst > MAX_VALUE:
            raise TemplateLimit(f"a replace that could build {worst} characters (at most {MAX_VALUE})")


def _check_join(items: list[Any] | tuple[Any, ...], sep: Any) -> None:
    total = sum(_sized(i) or 1 for i in items) + len(items) * (_sized(sep) or 0)
    if total > MAX_VALUE:
        raise TemplateLimit(f"a join of {total} characters (at most {MAX_VALUE})")


def _check_method(owner: Any, name: str, args: tuple[Any, ...]) -> None:
    for a in args:
        if _is_int(a) and abs(a) > MAX_WIDTH:
            raise TemplateLimit(f".{name}() with {a} (at most {MAX_WIDTH})")
    if isinstance(owner, str) and name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1])
    elif isinstance(owner, str) and name == "join" and args and isinstance(args[0], list | tuple):
        _check_join(args[0], owner)
    elif isinstance(owner, str) and name == "expandtabs":
        tab = args[0] if args and _is_int(args[0]) else 8
        if owner.count("\t") * tab > MAX_VALUE:
            raise TemplateLimit(f".expandtabs() building more than {MAX_VALUE} characters")


def render_bounded(template: jinja2.Template, ctx: dict[str, Any]) -> str:
    """Render, stopping once the output exceeds ``MAX_OUTPUT`` characters."""
    out: list[str] = []
    size = 0
    for piece in template.generate(ctx):
        size += len(piece)
        if size > MAX_OUTPUT:
            raise TemplateLimit(f"the rendered output is larger than {MAX_OUTPUT // 1024} KiB")
        out.append(piece)
    return "".join(out)
