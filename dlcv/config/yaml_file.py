"""Reading a config file: YAML 1.2's numbers, each key once, and no alias that expands without bound.

    >>> parse_yaml("lr: 1e-3")
    {'lr': 0.001}
    >>> parse_yaml("a: 1\\na: 2")
    Traceback (most recent call last):
    dlcv.errors.ConfigError: config: a: duplicate key at lines 1 and 2; expected each key once
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError


class _Loader(yaml.SafeLoader):
    """YAML with YAML 1.2's floats: PyYAML (YAML 1.1) reads ``1e-3`` as a string, not a number."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


MAX_YAML_VALUES = 10_000
"""The most values a config may expand to (a config has about a hundred): YAML aliases repeat a node
without repeating its text, so a few hundred bytes of nested aliases could stand for billions of values."""


def parse_yaml(text: str, source: str = "config"):
    """YAML 1.2 floats, a key given twice in one mapping is an error (PyYAML keeps the last silently), and
    aliases may not expand the document beyond :data:`MAX_YAML_VALUES`; in time linear in the text."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded = _expanded_size(node, {})
        if expanded > MAX_YAML_VALUES:
            raise ConfigError(f"{source}: its aliases (*name) expand it to more than {MAX_YAML_VALUES:,} values; "
                              "expected a config without nested aliases")
        _refuse_duplicate_keys(node, source, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes ``node`` stands for once every alias is expanded, each distinct node counted once
    (an alias is the same node object as its anchor, so this is linear in the text), capped."""
    if id(node) in sizes:
        return sizes[id(node)]
    sizes[id(node)] = MAX_YAML_VALUES + 1  # a node that contains itself expands without end
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    else:
        children = []
    total = 1
    for child in children:
        total = min(total + _expanded_size(child, sizes), MAX_YAML_VALUES + 1)
    sizes[id(node)] = total
    return total


def _refuse_duplicate_keys(node: yaml.Node, source: str, visited: set[int], prefix: str = "") -> None:
    if id(node) in visited:  # an alias of a node already checked
        return
    visited.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, source, visited, prefix)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        where = f"{prefix}{key}"
        line = key_node.start_mark.line + 1
        if key is not None and key in seen:
            raise ConfigError(f"{source}: {where}: duplicate key at lines {seen[key]} and {line}; "
                              "expected each key once")
        if key is not None:
            seen[key] = line
        _refuse_duplicate_keys(value_node, source, visited, f"{where}.")



def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {str(path)!r}; expected a YAML file (see configs/)")
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; expected a UTF-8 YAML config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level, "
                          f"got {type(raw).__name__}")
    return raw

