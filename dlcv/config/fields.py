"""What every section of the schema is made of: the strict, frozen base and the value types it shares.

A section names its choices once, here or beside the key they constrain, and everything else reads them:

    >>> from dlcv.config import PreprocessingConfig
    >>> choices_of(PreprocessingConfig, "resize")
    ['simple', 'aspect_aware', 'pad']

(the command line offers the same choices as the config).
"""
from __future__ import annotations

from typing import Annotated, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

Backend = Literal["tensorflow", "jax", "torch"]
BACKENDS: tuple[str, ...] = get_args(Backend)
"""The Keras backends dlcv runs on (each is also the name of its package)."""
PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]
Decode = Literal["exact", "fast"]
"""How an image file becomes pixels: exact (a full decode, as a client's cv2.imread) or fast (large JPEGs
decoded at a reduced scale: quicker, a few grey levels off what a client sends)."""


class Section(BaseModel):
    # strict: YAML "10" is a string, not an epoch count; extra="forbid": a typo is an error, not a no-op.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def choices_of(section: type[BaseModel], key: str) -> list:
    """The values a config key may take, as its schema states them (a ``Literal``, None left out)."""
    def literals(annotation) -> list:
        if get_origin(annotation) is Literal:
            return list(get_args(annotation))
        return [value for arg in get_args(annotation) for value in literals(arg)]

    return literals(section.model_fields[key].annotation)
