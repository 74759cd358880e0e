"""``--set KEY=VALUE``: a dotted key set in the raw config, its value read as YAML (so 0.05 is a number).

    >>> raw = {}
    >>> apply_override(raw, "optimizer.learning_rate=0.05")
    >>> raw
    {'optimizer': {'learning_rate': 0.05}}
"""
from __future__ import annotations

from typing import Any

import yaml

from ..errors import ConfigError
from .yaml_file import parse_yaml


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` in the nested dict; the value is parsed as YAML (so 0.05 is a number)."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {override!r}: expected KEY=VALUE, e.g. optimizer.learning_rate=0.05")
    try:
        value = parse_yaml(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    set_key(raw, key.strip(), value, f"override {override!r}")


def set_key(raw: dict[str, Any], key: str, value: Any, what: str) -> None:
    node = raw
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{what}: {'.'.join(parts[:i + 1])} is not a section")
        node = child
    node[parts[-1]] = value

