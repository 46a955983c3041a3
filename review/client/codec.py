"""One wire format for use-case results: ``encode`` to JSON data, ``decode`` back to the type.

The server encodes what a use case returns; the remote client decodes it into the very
type the local client returns, so the CLI and the TUI hold the same objects in both modes
(and print the same output). Handles ``None``, primitives, ``datetime``, ``list``,
``tuple``, ``dict``, ``X | None``, dataclasses (recursively) and pydantic / SQLModel
models (table models included: ``model_validate`` is the supported way to build one).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Any, Union

from pydantic import BaseModel


def encode(value: Any) -> Any:
    """A use-case result as JSON data (dicts, lists, strings, numbers, booleans, None)."""
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} for the wire")


def decode(tp: Any, data: Any) -> Any:
    """JSON data back into ``tp`` (the inverse of ``encode`` for the types listed above)."""
    if tp is Any or tp is object:
        return data
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if data is None:
            return None
        return decode(members[0], data) if len(members) == 1 else data
    if data is None:
        return None
    if origin in (list, set, frozenset):
        (item,) = typing.get_args(tp) or (Any,)
        items = [decode(item, v) for v in data]
        return items if origin is list else origin(items)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in data)
        return tuple(decode(a, v) for a, v in zip(args, data, strict=True))
    if origin is dict:
        _k, v_tp = typing.get_args(tp) or (str, Any)
        return {k: decode(v_tp, v) for k, v in data.items()}
    if origin is typing.Literal:
        return data
    if isinstance(tp, type):
        if issubclass(tp, BaseModel):
            return tp.model_validate(data)
        if dataclasses.is_dataclass(tp):
            hints = _hints(tp)
            kwargs = {f.name: decode(hints.get(f.name, Any), data[f.name]) for f in dataclasses.fields(tp) if f.init and f.name in data}
            return tp(**kwargs)
        if tp is datetime:
            return datetime.fromisoformat(data)
        if tp in (str, int, float, bool):
            return tp(data)
        if issubclass(tp, Enum):
            return tp(data)
    return data


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)
