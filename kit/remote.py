"""How an exception crosses the broker: the nameko side of kit.errors.

A service's RPC answer carries an exception as nameko serialises it: its type name, its
module path, its arguments and its message. A caller through kit.rpc receives every such
exception as `RemoteError` naming its type, whether or not the caller could import the
class, so a caller recognises another service's refusal by its name (kit.errors.raised_as)
and never needs that service's modules.
"""
from nameko.exceptions import RemoteError as NamekoRemoteError
from nameko.exceptions import get_module_path, registry

from .errors import ValidationFailed, crossing


class RemoteError(NamekoRemoteError):
    """An exception another service raised: `exc_type` (its type name), `exc_args` (its
    arguments, made JSON-safe) and `value` (its message, str() of the original)."""

    def __init__(self, exc_type=None, value="", exc_args=()):
        super().__init__(exc_type, value)
        self.exc_args = list(exc_args)

    @classmethod
    def from_answer(cls, error):
        """The exception an RPC answer's `error` part describes."""
        return cls(error.get("exc_type"), error.get("value", ""), error.get("exc_args", ()))

    @property
    def errors(self):
        """The field errors of a refused input (a kit.errors.ValidationFailed, whose one
        argument maps each field to its reasons), or None for any other exception."""
        if len(self.exc_args) == 1 and isinstance(self.exc_args[0], dict):
            return self.exc_args[0]
        return None


def rebuild_as_themselves():
    """From now on in this process, nameko's own callers (a standalone ServiceRpcProxy, as a
    test or a script uses) rebuild every exception marked `crosses_broker` in the modules
    imported so far as its own class, with its arguments, instead of nameko's RemoteError.
    Calling it again adds the ones marked since."""
    for cls in crossing():
        registry[get_module_path(cls)] = _rebuilder(cls)


def _rebuilder(cls):
    """`cls` from the arguments it was serialised with (`exc.args`). A class whose
    constructor takes other arguments than it passes on (`NotAllowed(field, reason)` keeps
    `args == (errors,)`) is rebuilt around its constructor, with the same args and errors."""
    refusal = issubclass(cls, ValidationFailed)

    def rebuild(*args):
        if not (refusal and len(args) == 1 and isinstance(args[0], dict)):
            try:
                return cls(*args)
            except TypeError:
                pass
        exc = cls.__new__(cls)
        Exception.__init__(exc, *args)
        if refusal and len(args) == 1:
            exc.errors = args[0]
        return exc
    return rebuild
