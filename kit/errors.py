"""Errors every service and the gateway share. Plain Python: no framework is imported here.

An exception marked `crosses_broker` is an expected refusal that an RPC caller may receive.
A caller knows it by its type name (kit.remote), so it need not import the raising service;
the gateway's one error table has a row for each.
"""

_crossing = []


def crosses_broker(cls):
    """Mark `cls` as a refusal that crosses the broker (see crossing())."""
    _crossing.append(cls)
    return cls


def crossing():
    """Every exception class marked `crosses_broker` in the modules imported so far."""
    return tuple(_crossing)


def raised_as(error, type_name):
    """Whether `error` is the exception named `type_name`, or derives from it: raised in this
    process, or raised by another service and received by its type name (`exc_type`), as a
    caller that does not import that service's exceptions receives it."""
    return (getattr(error, "exc_type", None) == type_name
            or any(cls.__name__ == type_name for cls in type(error).__mro__))


@crosses_broker
class ValidationFailed(Exception):
    """Input was refused; `errors` maps each field to the reasons. Nothing was changed."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors

    def __str__(self):
        return "; ".join(f"{name}: {', '.join(map(str, why))}" for name, why in
                         _flatten(self.errors))


def _flatten(errors, prefix=""):
    for name, why in sorted(errors.items(), key=lambda kv: str(kv[0])):
        path = f"{prefix}{name}"
        if isinstance(why, dict):
            yield from _flatten(why, path + ".")
        else:
            yield path, why if isinstance(why, list) else [why]


class RecordNotFound(Exception):
    """The record asked for does not exist. Subclasses name what was looked for."""

    what = "record"

    def __init__(self, record_id):
        super().__init__(record_id)
        self.record_id = record_id

    def __str__(self):
        return f"no {self.what} with id {self.record_id}"


class DuplicateRecord(Exception):
    """A unique field already holds this value. Nothing was changed. Subclasses name the
    field."""

    def __init__(self, field, value):
        super().__init__(field, value)
        self.field = field
        self.value = value

    def __str__(self):
        return f"{self.field} {self.value!r} is already registered"


@crosses_broker
class ServiceUnavailable(Exception):
    """A service did not answer within the caller's timeout (it may still act on the call)."""
