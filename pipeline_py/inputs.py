"""Reading untrusted input within bounds: every file and value the CLI takes from outside.

pipeline.yaml, params files, templates (and the files they include), the rendered task definition,
``--set``/``--var`` values: each is read with a size limit, decoded strictly as UTF-8, parsed with
limits on nesting depth, YAML aliases and expanded size, and checked for numbers no AWS field can
hold (non-finite floats, integers beyond 64 bits). Every violation is a ``BadInput`` naming its
source (``file:line`` where the parser gives one), so hostile input exits 2 within a second, in
bounded memory, instead of a traceback, a hang or an exhausted agent.

Heavy libraries (yaml) are imported inside the functions: ``cli.py`` uses this module at parse time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pipeline_py.errors import BadInput

MAX_FILE_BYTES = 1024 * 1024  # a template (or what it includes) larger than 1 MiB is not hand-written
MAX_CONFIG_BYTES = 256 * 1024  # pipeline.yaml and params files (the sample's pipeline.yaml has 2.5 KiB)
MAX_VALUE_BYTES = 64 * 1024  # one --set / --var value
MAX_DEPTH = 50  # nesting of mappings/lists (pipeline.yaml needs about 6)
MAX_ALIASES = 100  # YAML aliases (*name) in one document
MAX_NODES = 20_000  # values in a document once aliases are expanded (pipeline.yaml has about 100)
MAX_INT = 2**63 - 1  # the widest integer any AWS API field takes


class LimitError(ValueError):
    """An input exceeded a bound; ``line`` (1-based) when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _where(source: str, line: int | None) -> str:
    return f"{source}:{line}" if line else source


def read_text(path: str | Path, what: str, *, limit: int = MAX_FILE_BYTES) -> str:
    """The file as text: at most ``limit`` bytes, strict UTF-8 (a BOM is dropped). ``what`` names the
    file in errors (``config file``, ``params file``, ``template``)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise BadInput(f"{what} {p} not found") from None
    except IsADirectoryError:
        raise BadInput(f"{what} {p} cannot be read: it is a directory") from None
    except OSError as exc:
        raise BadInput(f"{what} {p} cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise BadInput(f"{what} {p} is larger than {limit // 1024} KiB; refusing to read it")
    return decode(data, f"{what} {p}")


def decode(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadInput(f"{source}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") \
            from None
    return text[1:] if text.startswith("\ufeff") else text


def check_data(data: Any, source: str, *, max_depth: int = MAX_DEPTH) -> None:
    """Nesting depth, size and numbers of already-parsed data (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    seen = 0
    while stack:
        value, depth, path = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise BadInput(f"{source}: more than {MAX_NODES} values; refusing to process it")
        where = path or "(top level)"
        if isinstance(value, str):
            if not _is_text(value):
                raise BadInput(f"{source}: {where}: not valid Unicode text (a lone surrogate)")
            continue
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            if abs(value) > MAX_INT:
                raise BadInput(f"{source}: {where}: the number {_short_int(value)} is out of range (at most 64 bits)")
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                raise BadInput(f"{source}: {where}: {value} is not a finite number")
            continue
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise BadInput(f"{source}: {where}: nested deeper than {max_depth} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for k, v in items:
                if isinstance(k, str) and not _is_text(k):
                    raise BadInput(f"{source}: {where}: a key is not valid Unicode text (a lone surrogate)")
                stack.append((v, depth + 1, f"{path}.{k}" if path else str(k)))


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short_int(value: int) -> str:
    digits = len(str(abs(value))) if abs(value).bit_length() < 10_000 else abs(value).bit_length() * 3 // 10
    return f"with {digits} digits"


def load_json(text: str, source: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """JSON with no NaN/Infinity, no integer beyond 64 bits, and bounded nesting."""

    def constant(name: str) -> Any:
        raise LimitError(f"{name} is not a number JSON allows here")

    def integer(digits: str) -> int:
        if len(digits.lstrip("-")) > 19:
            raise LimitError(f"the number with {len(digits.lstrip('-'))} digits is out of range (at most 64 bits)")
        return int(digits)

    try:
        data = json.loads(text, parse_constant=constant, parse_int=integer)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{source}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    except LimitError as exc:
        raise BadInput(f"{source}: {exc.message}") from None
    except RecursionError:
        raise BadInput(f"{source}: nested deeper than {max_depth} levels") from None
    check_data(data, source, max_depth=max_depth)
    return data


def load_yaml(text: str, source: str, *, lines: bool = True) -> tuple[Any, Any]:
    """(data, composed node) of one YAML document with safe types only, at most ``MAX_ALIASES``
    aliases, ``MAX_DEPTH`` levels and ``MAX_NODES`` values once aliases are expanded, and numbers
    within range. Raises ``yaml.YAMLError`` for syntax errors (callers word those) and ``BadInput``
    for a bound exceeded."""

    loader = _bounded_loader()(text)
    try:
        try:
            node = loader.get_single_node()
        except LimitError as exc:
            raise BadInput(f"{_where(source, exc.line if lines else None)}: {exc.message}") from None
        except RecursionError:  # the depth bound fires long before this; kept as a backstop
            raise BadInput(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
        if node is None:
            return None, None
        try:
            _check_nodes(node)
        except LimitError as exc:
            raise BadInput(f"{_where(source, exc.line if lines else None)}: {exc.message}") from None
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    check_data(data, source)
    return data, node


_LOADER: Any = None


def _bounded_loader() -> Any:
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._depth = 0
            self._aliases = 0
            self._nodes = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self._aliases += 1
                if self._aliases > MAX_ALIASES:
                    mark = self.peek_event().start_mark
                    raise LimitError(f"more than {MAX_ALIASES} YAML aliases; refusing to expand them", mark.line + 1)
                return super().compose_node(parent, index)
            self._depth += 1
            self._nodes += 1
            try:
                if self._nodes > MAX_NODES:
                    mark = self.peek_event().start_mark
                    raise LimitError(f"more than {MAX_NODES} values; refusing to process them", mark.line + 1)
                if self._depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    raise LimitError(f"nested deeper than {MAX_DEPTH} levels", mark.line + 1)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    _LOADER = BoundedLoader
    return _LOADER


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


def _check_scalar(node: Any) -> None:
    line = node.start_mark.line + 1
    if node.tag == _INT_TAG:
        digits = sum(c.isdigit() or c in "abcdefABCDEF" for c in node.value)
        if digits > 19:
            raise LimitError(f"the number with {digits} digits is out of range (at most 64 bits)", line)
    elif node.tag == _FLOAT_TAG:
        text = node.value.lower().replace("_", "")
        if "inf" in text or "nan" in text:
            raise LimitError(f"{node.value} is not a finite number", line)
        try:
            if not math.isfinite(float(text)):
                raise LimitError(f"{node.value} is out of range (not a finite number)", line)
        except ValueError:  # YAML 1.1 sexagesimal floats (1:30.5): PyYAML's constructor handles them
            pass


def _check_nodes(root: Any) -> None:
    """Expanded size and depth of the node graph (aliases share nodes), recursive aliases, and
    numbers; memoised, so a billion-node alias bomb is measured in a few hundred steps."""
    import yaml

    height: dict[int, int] = {}
    count: dict[int, int] = {}
    on_path: set[int] = set()

    def visit(node: Any, depth: int) -> tuple[int, int]:
        key = id(node)
        line = node.start_mark.line + 1
        if key in height:
            if depth + height[key] - 1 > MAX_DEPTH:
                raise LimitError(f"nested deeper than {MAX_DEPTH} levels once aliases are expanded", line)
            return height[key], count[key]
        if key in on_path:
            raise LimitError("a YAML alias refers to a value that contains it (recursive structure)", line)
        if depth > MAX_DEPTH:
            raise LimitError(f"nested deeper than {MAX_DEPTH} levels once aliases are expanded", line)
        if isinstance(node, yaml.ScalarNode):
            _check_scalar(node)
            height[key], count[key] = 1, 1
            return 1, 1
        on_path.add(key)
        children: list[Any] = []
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                children.extend((k, v))
        else:
            children = list(node.value)
        h, n = 1, 1
        for child in children:
            ch, cn = visit(child, depth + 1)
            h, n = max(h, ch + 1), n + cn
            if n > MAX_NODES:
                raise LimitError(f"more than {MAX_NODES} values once YAML aliases are expanded "
                                 "(an alias bomb?); refusing to expand them", line)
        on_path.discard(key)
        height[key], count[key] = h, n
        return h, n

    visit(root, 1)


def parse_value(raw: str, source: str) -> Any:
    """A ``KEY=VALUE`` value typed as YAML (``3`` → 3, ``[a, b]`` → a list); text that is not valid
    YAML stays text. Bounds as for files; a bound exceeded is ``BadInput`` naming ``source``."""
    import yaml

    try:
        size = len(raw.encode("utf-8"))
    except UnicodeEncodeError:  # bytes that were not UTF-8 on the command line (surrogate escapes)
        raise BadInput(f"{source}: the value is not UTF-8 text") from None
    if size > MAX_VALUE_BYTES:
        raise BadInput(f"{source}: the value is larger than {MAX_VALUE_BYTES // 1024} KiB")
    if not raw.strip():
        return ""
    try:
        value, _ = load_yaml(raw, source, lines=False)
    except yaml.YAMLError:
        return raw
    return value
