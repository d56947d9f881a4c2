"""An agency's projection of a platform event: which types its subscription admits, and what
of an event's data it may receive.

An agency receives the open fields of every type its filters admit, and a protected field
(personal data or free text, contracts.privacy) only when its subscription records a legal
purpose naming it (PIPL Art. 6 and 13). Whatever the classification does not know is dropped.
Pure functions over plain dicts: no broker, no storage.
"""
import copy
from functools import cache

from contracts.events import EVENT_SCHEMAS
from contracts.privacy import CLASSES, OPEN, protected
from contracts.vocabulary import LEGAL_BASES

# The CloudEvents attributes an agency receives; any other is dropped.
ATTRIBUTES = ("id", "source", "specversion", "type", "time", "subject", "datacontenttype")
DESCRIPTION_MAX = 500

_DROPPED = object()  # what a field that may not go out projects to


def admits(filters, event_type):
    """Whether any filter ({"exact": type} or {"prefix": start}) matches `event_type`; an
    empty list admits nothing."""
    return any(_matches(f, event_type) for f in filters)


def _matches(event_filter, event_type):
    if "exact" in event_filter:
        return event_type == event_filter["exact"]
    if "prefix" in event_filter:
        return event_type.startswith(event_filter["prefix"])
    return False


def granted(event_type, purpose):
    """The protected paths of `event_type` that `purpose` grants (none without a purpose);
    a path the type does not protect grants nothing."""
    if purpose is None:
        return frozenset()
    return frozenset(purpose.get("fields", ())) & protected(event_type).keys()


def received(event_type, purpose):
    """Every leaf path of `event_type` an agency with `purpose` receives: the open ones and
    the granted ones."""
    return frozenset(path for path, cls in CLASSES.get(event_type, {}).items()
                     if cls == OPEN) | granted(event_type, purpose)


def project(envelope, purpose):
    """A new envelope: the CloudEvents attributes of `envelope` and its data reduced to what
    an agency with `purpose` receives, its structure kept (a list of objects is projected
    element by element, null stays null, an object left without fields is {}). `envelope` is
    not changed."""
    event_type = envelope.get("type")
    projected = {name: envelope[name] for name in ATTRIBUTES if name in envelope}
    data = _shape(envelope.get("data"), "", received(event_type, purpose),
                  _branches(event_type))
    projected["data"] = data if isinstance(data, dict) else {}
    return projected


@cache
def _branches(event_type):
    """The paths of `event_type`'s data that hold objects or lists of them (the data's own
    path, "", included)."""
    paths = CLASSES.get(event_type, {})
    return frozenset(path.rsplit(".", depth)[0] for path in paths
                     for depth in range(1, path.count(".") + 1)) | {""}


def _shape(value, path, keep, branches):
    """What of `value`, found at `path`, may go out: a copy of a kept leaf; an object or a
    list of objects with their fields shaped in turn; _DROPPED for anything else."""
    if path in keep:
        return copy.deepcopy(value)
    if path not in branches:
        return _DROPPED
    if value is None:
        return None
    if isinstance(value, list):
        shaped = (_shape(item, path, keep, branches) for item in value)
        return [item for item in shaped if item is not _DROPPED]
    if isinstance(value, dict):
        # a dotted key is no field of any schema: it must not pass for a nested path
        shaped = ((key, _shape(item, _join(path, key), keep, branches))
                  for key, item in value.items() if "." not in key)
        return {key: item for key, item in shaped if item is not _DROPPED}
    return _DROPPED


def _join(path, key):
    return f"{path}.{key}" if path else key


def check_purpose(filters, purpose):
    """[(field, reason)] of what is wrong with `purpose` for a subscription with `filters`:
    a basis from LEGAL_BASES, a description of what the fields are for, and only fields that
    are protected in some type the filters admit. No purpose, no problem."""
    if purpose is None:
        return []
    return (_basis_problems(purpose.get("basis"))
            + _description_problems(purpose.get("description"))
            + _field_problems(purpose.get("fields", []), _subscribed_protected(filters)))


def _subscribed_protected(filters):
    """The protected paths of every event type `filters` admit."""
    return frozenset(path for event_type in EVENT_SCHEMAS if admits(filters, event_type)
                     for path in protected(event_type))


def _basis_problems(basis):
    if basis in LEGAL_BASES:
        return []
    return [("basis", f"must be one of {', '.join(LEGAL_BASES)}")]


def _description_problems(description):
    if not isinstance(description, str) or not description.strip():
        return [("description", "must say what the agency needs the fields for")]
    if len(description) > DESCRIPTION_MAX:
        return [("description", f"must be at most {DESCRIPTION_MAX} characters")]
    return []


def _field_problems(paths, allowed):
    return [(f"fields.{i}", f"not a protected field of the subscribed types: {path}")
            for i, path in enumerate(paths) if path not in allowed]
