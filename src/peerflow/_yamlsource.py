"""YAML with a line number for every path, so errors can point into the file.

PyYAML's safe composer keeps a start mark on every node; we walk the node tree
once, building plain Python data and a ``path -> line`` map side by side.
"""

from __future__ import annotations

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


def read_yaml(text: str) -> tuple[Any, SourceMap, list[YamlProblem]]:
    """Parse ``text``; return the data, its source map and any problems found.

    A syntax error yields ``None`` data and one problem with its line.
    """
    loader = yaml.SafeLoader(text)
    try:
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
    except yaml.YAMLError as exc:
        return None, SourceMap({"": 1}), [YamlProblem(1, f"YAML error: {exc}")]
    finally:
        loader.dispose()


def _build(
    loader: yaml.SafeLoader,
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
