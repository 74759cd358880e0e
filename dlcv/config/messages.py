"""Pydantic's validation errors as one line a user can act on: the dotted key they wrote, what was wrong,
what was expected.
"""
from __future__ import annotations

from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ..errors import did_you_mean
from .optimization import OPTIMIZERS, SCHEDULES
from .schema import ExperimentConfig


def describe(exc: ValidationError) -> str:
    """One line for the first error: where it is, what was wrong, what was expected."""
    errors = exc.errors(include_url=False)
    error, where = errors[0], _key_path(errors[0]["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        section, key = error["loc"][:-1], str(error["loc"][-1])
        key = key if key.isprintable() else repr(key)
        where = f"{_key_path(section)}.{key}" if section else key
        schema = _section_at(section)
        own = vars(schema).get("__annotations__", {})  # a section's own keys before those it shares (ema, ...)
        keys = sorted(schema.model_fields, key=lambda k: (k != "name", k not in own))
        return f"{where}: unknown key{did_you_mean(key, keys)}; expected one of: {', '.join(keys)}"
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        if not isinstance(error["input"], dict):
            return f"{where}: expected a mapping of keys, got {_shown(error['input'])}"
        return (f"{where}.name: expected one of: {', '.join(TAGGED_SECTIONS[where])}, "
                f"got {_shown(error['input'].get('name'))}")
    if kind in ("model_type", "model_attributes_type"):
        return f"{where}: expected a mapping of keys, got {_shown(error['input'])}"
    if kind == "value_error":
        return f"{where}: " + error["msg"].removeprefix("Value error, ")
    # A field that takes one of several types (true/false or "auto") fails once per type: say them all.
    alternatives = [e["msg"][0].lower() + e["msg"][1:] for e in errors if _key_path(e["loc"]) == where]
    return f"{where}: {' or '.join(dict.fromkeys(alternatives))}, got {_shown(error['input'])}"


def failing_key(exc: ValidationError) -> str:
    """The dotted key of the first error (what :func:`describe` names)."""
    return _key_path(exc.errors(include_url=False)[0]["loc"])


def _key_path(loc: tuple) -> str:
    """The dotted key the user wrote, without the union-member tags pydantic adds to a location."""
    parts, section, keyed = [], ExperimentConfig, None
    for i, part in enumerate(loc):
        if keyed is not None:  # a key of a mapping of sections (search.space's config keys)
            parts.append(str(part))
            section, keyed = keyed, None
            continue
        if section is None or part not in section.model_fields:
            continue  # a union tag such as "bool", "constrained-float" or a schedule's name
        parts.append(str(part))
        annotation = section.model_fields[part].annotation
        if get_origin(annotation) is dict:
            keyed = _section_of(get_args(annotation)[1])
            section = None if keyed is None else section
        elif section is ExperimentConfig and part in TAGGED_SECTIONS:
            section = _tagged_section(part, loc[i + 1] if len(loc) > i + 1 else None)
        else:
            section = _section_of(section.model_fields[part].annotation)
    return ".".join(parts) or "(top level)"


def _section_of(annotation: Any) -> type[BaseModel] | None:
    """The section a field holds: its model, or the model of an optional one (``X | None``)."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


TAGGED_SECTIONS = {"schedule": SCHEDULES, "optimizer": OPTIMIZERS}
"""Sections whose keys depend on their ``name``; pydantic puts the name in an error's location."""


def _tagged_section(section: str, tag: Any) -> type[BaseModel]:
    choices = TAGGED_SECTIONS[section]
    return choices.get(tag, next(iter(choices.values())))


def _section_at(loc: tuple) -> type[BaseModel]:
    """The schema section at a validation location, e.g. ("optimizer", "sgd") -> SGDConfig."""
    if loc[:1] and loc[0] in TAGGED_SECTIONS:
        return _tagged_section(loc[0], loc[1] if len(loc) > 1 else None)
    section: type[BaseModel] = ExperimentConfig
    keyed = False
    for part in loc:
        if keyed:  # a mapping's key: its values are the section already found
            keyed = False
            continue
        annotation = section.model_fields[part].annotation
        keyed = get_origin(annotation) is dict
        section = _section_of(get_args(annotation)[1] if keyed else annotation) or section
    return section
