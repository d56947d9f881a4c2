"""Dataclasses to the plain values a document holds, and back, by their type hints.

`plain` turns a dataclass (nested dataclasses, lists, tuples, dicts) into dicts and lists;
`rebuild(cls, data)` builds the dataclass again from them, following the field types
(`X | None`, `list[X]`, `tuple[X, ...]`, nested dataclasses). Leaves (strings, numbers,
booleans, datetimes) are stored as they are. A converter is compiled once per class.
"""
import dataclasses
import types
import typing
from functools import cache

_NAMES = {}


def plain(value, skip=()):
    """`value` as plain dicts and lists; `skip` names top-level fields to leave out."""
    kind = type(value)
    names = _NAMES.get(kind)
    if names is None and dataclasses.is_dataclass(kind):
        names = _NAMES[kind] = tuple(f.name for f in dataclasses.fields(kind))
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names if name not in skip}
    if kind is list or kind is tuple:
        return [plain(item) for item in value]
    if kind is dict:
        return {key: plain(item) for key, item in value.items()}
    return value


def rebuild(cls, data, **extra):
    """An instance of dataclass `cls` from `plain(...)` output (fields missing from `data`
    take their defaults); `extra` sets fields that are not stored in `data`."""
    return _builder(cls)(data, extra)


@cache
def _builder(cls):
    hints = typing.get_type_hints(cls)
    converters = [(f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls)
                  if f.init]

    def build(data, extra):
        values = {name: convert(data[name]) if convert else data[name]
                  for name, convert in converters if name in data}
        values.update(extra)
        return cls(**values)

    return build


def _converter(hint):
    """A function turning the stored value into one of type `hint`, or None where the stored
    value is already right."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        build = _builder(hint)
        return lambda value: build(value, {})
    if origin in (typing.Union, types.UnionType):
        inner = [_converter(a) for a in args if a is not type(None)]
        if len(inner) == 1 and inner[0] is not None:
            convert = inner[0]
            return lambda value: None if value is None else convert(value)
        return None
    if origin is list:
        convert = _converter(args[0]) if args else None
        return (lambda value: [convert(v) for v in value]) if convert else list
    if origin is tuple:
        convert = _converter(args[0]) if args else None
        return (lambda value: tuple(convert(v) for v in value)) if convert else tuple
    if origin is dict:
        convert = _converter(args[1]) if len(args) == 2 else None
        return (lambda value: {k: convert(v) for k, v in value.items()}) if convert else dict
    return None
