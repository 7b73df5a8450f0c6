"""Reading a YAML file from anyone: plain values only, bounded before anything is built.

An export's ``config.yaml`` is something people download and share, so reading it must
not be able to take the process down. YAML anchors and aliases let a 1 kB file describe
a billion values (``a1: [*a0, *a0, ...]`` nested ten deep): PyYAML shares the aliased
objects, but anything that copies or walks the result (OmegaConf, a repr, an error
message) expands them. :func:`read_plain_yaml` therefore

* refuses a file larger than ``MAX_BYTES`` before reading it;
* refuses every anchor and alias while the file is *composed*, so nothing is expanded;
* refuses more than ``MAX_NODES`` values or nesting deeper than ``MAX_DEPTH`` as it goes;
* constructs only plain YAML types (``yaml.SafeLoader``: no tags, no code), reading
  numbers as OmegaConf does (``1e-4`` is a float) and refusing duplicate keys.

Every refusal is a :class:`PlainYamlError` whose message is one line naming the line of
the file and the problem.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20  # an export's config.yaml is about 2 kB
MAX_NODES = 10_000  # values of any kind (mappings, lists, scalars and keys)
MAX_DEPTH = 32  # nesting of mappings and lists

# OmegaConf's reading of floats (YAML 1.1 wants a dot: "1e-4" would be a string).
FLOAT = re.compile(
    r"""^(?:[-+]?[0-9]+(?:_[0-9]+)*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+)
    |\.[0-9]+(?:_[0-9]+)*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9]+(?:_[0-9]+)*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class PlainYamlError(ValueError):
    """A YAML file that is not small, plain data; the message is one line."""


class PlainLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses anchors and aliases and caps size and depth while
    composing, before any Python object is constructed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.nodes = 0
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        where = f"line {event.start_mark.line + 1}"
        anchor = getattr(event, "anchor", None)
        if anchor is not None:  # an alias (*a0) or an anchor (&a0)
            mark = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise PlainYamlError(
                f"{where}: YAML anchors and aliases ({mark}{anchor}) are refused, "
                "a few lines of them expand to billions of values"
            )
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise PlainYamlError(f"{where}: more than {MAX_NODES:,} values")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise PlainYamlError(f"{where}: nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    line = key_node.start_mark.line + 1
                    raise PlainYamlError(f"line {line}: duplicate key {key_node.value!r}")
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


PlainLoader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT, list("-+0123456789."))
PlainLoader.yaml_implicit_resolvers = {  # dates stay strings, as OmegaConf reads them
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in PlainLoader.yaml_implicit_resolvers.items()
}


def read_plain_yaml(path: str | Path) -> Any:
    """The plain data (dicts, lists, strings, numbers, booleans, None) of the YAML file
    ``path``; :class:`PlainYamlError` for a file that is not small plain data, with a
    one-line message naming the line ("line 3: YAML anchors and aliases (*a0) are ...")."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise PlainYamlError(f"{size:,} bytes, more than the {MAX_BYTES:,} a config may hold")
    with path.open("rb") as fh:
        raw = fh.read(MAX_BYTES + 1)  # the file may have grown since stat
    if len(raw) > MAX_BYTES:
        raise PlainYamlError(f"more than the {MAX_BYTES:,} bytes a config may hold")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PlainYamlError(f"not UTF-8 text (byte {err.start})") from None
    loader = PlainLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or type(err).__name__
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise PlainYamlError(f"{where}{problem}") from None
    except yaml.YAMLError as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise PlainYamlError(first) from None
    finally:
        loader.dispose()


def size_problem(data: Any, source: str = "config") -> str | None:
    """The problem with plain data (e.g. a config unpickled from a ``.ckpt``, where shared
    references play the part of aliases) holding more than ``MAX_NODES`` values counted as
    expanded, or nesting deeper than ``MAX_DEPTH``; None when it is small. The walk stops
    at the first value over a limit, so it is quick whatever the data would expand to."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            return f"{source} holds more than {MAX_NODES:,} values"
        if depth > MAX_DEPTH:
            return f"{source} is nested deeper than {MAX_DEPTH} levels"
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
            count += len(node)  # the keys
        elif isinstance(node, list | tuple):
            stack.extend((v, depth + 1) for v in node)
    return None
