"""YAML with a line number for every path, so errors can point into the file.

PyYAML's safe composer keeps a start mark on every node; we walk the node tree
once, building plain Python data and a ``path -> line`` map side by side.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import yaml


@attrs.frozen
class YamlProblem:
    """A problem found while reading the text (1-based line)."""

    line: int
    message: str


@attrs.frozen
class SourceMap:
    """Line numbers of the paths in one document (``transitions[3].requires[0]``)."""

    lines: dict[str, int]

    def line_of(self, path: str) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                return self.lines.get("", 1)
            path = path[:cut]


def join_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


class _Core12Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2's core schema for plain scalars, not PyYAML's YAML 1.1 one.

    Under YAML 1.1 ``country: NO`` (Norway) reads as false, as do ``no``, ``off`` and ``n``;
    ``on`` and ``yes`` as true; ``010`` as 8, ``1:30`` as 90, ``2027-02-01`` as a date. Here
    only ``true``/``false`` are booleans, ``null``/``~``/empty are null, and numbers are
    plain decimal (a leading zero keeps the text as a string, which the loader then names).
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class-level table


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+)"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
):
    _Core12Resolver.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first)
    )


_CParser: Any
try:  # PyYAML's wheels carry libyaml; ``yaml.CParser`` is not exported, so ask its module
    from yaml import _yaml

    _CParser = _yaml.CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None

if _CParser is not None:

    class _Loader(_CParser, yaml.constructor.SafeConstructor, _Core12Resolver):  # type: ignore[misc]
        """libyaml's parser (ten times the pure-Python speed; PyYAML's wheels have it)."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            _Core12Resolver.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml

    class _Loader(  # type: ignore[no-redef]
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        yaml.constructor.SafeConstructor,
        _Core12Resolver,
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            _Core12Resolver.__init__(self)


MAX_BYTES = 256 * 1024
"""The largest definition read (the built-in ones are under 12 KiB)."""

MAX_DEPTH = 32
"""The deepest nesting of mappings and lists in a definition (the language needs 7)."""


def _limits(text: str) -> YamlProblem | None:
    """Size, nesting and aliases, checked on the parser's events before anything is built:
    a 600-byte alias bomb expands to gigabytes, and deep nesting exhausts the composer's
    recursion. The parse stops at the first problem, so the check is bounded."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        return YamlProblem(1, f"the definition is {size:,} bytes long: at most {MAX_BYTES:,}")
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            return YamlProblem(
                _line_of(event),
                "anchors and aliases (&name, *name) are not allowed in definitions: "
                "write the value out",
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return YamlProblem(_line_of(event), f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def _line_of(event: yaml.Event) -> int:
    mark = event.start_mark
    return 1 if mark is None else mark.line + 1


def read_yaml(text: str) -> tuple[Any, SourceMap, list[YamlProblem]]:
    """Parse ``text``; return the data, its source map and any problems found.

    A syntax error, or text past the limits (:data:`MAX_BYTES`, :data:`MAX_DEPTH`, no
    aliases), yields ``None`` data and one problem with its line.
    """
    loader = _Loader("")
    try:
        over = _limits(text)
        if over is not None:
            return None, SourceMap({"": over.line}), [over]
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, SourceMap({"": 1}), [YamlProblem(1, "the file is empty")]
        problems: list[YamlProblem] = []
        lines: dict[str, int] = {}
        data = _build(loader, node, "", lines, problems)
        return data, SourceMap(lines), problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or exc.context or "invalid YAML"
        return None, SourceMap({"": line}), [YamlProblem(line, f"YAML syntax error: {what}")]
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, ...)
        line = text.count("\n", 0, exc.position) + 1
        odd = exc.character if isinstance(exc.character, str) else chr(exc.character)
        what = f"the character {odd!a} is not allowed in YAML"
        return None, SourceMap({"": line}), [YamlProblem(line, what)]
    except yaml.YAMLError as exc:
        return None, SourceMap({"": 1}), [YamlProblem(1, f"YAML error: {exc}")]
    finally:
        loader.dispose()


def _build(
    loader: Any,
    node: yaml.Node,
    path: str,
    lines: dict[str, int],
    problems: list[YamlProblem],
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                problems.append(
                    YamlProblem(
                        key_node.start_mark.line + 1,
                        f"{join_path(path, key)}: duplicate key {key!r}",
                    )
                )
            result[key] = _build(loader, value_node, join_path(path, key), lines, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, join_path(path, index), lines, problems)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
