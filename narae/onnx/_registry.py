"""Which mapping turns which narae op (a ``Function`` class, or a traced plain function) into
ONNX nodes. The per-family modules (``_map_*``) fill it with ``@maps(Class, ...)``."""

__all__ = ["MAPPERS", "maps", "lookup"]

MAPPERS = {}


def maps(*keys):
    """Decorator: ``fn(op) -> output name(s)`` maps the ops ``keys`` (classes or strings)."""
    def register(fn):
        for k in keys:
            MAPPERS[k] = fn
        return fn
    return register


def lookup(cls):
    """The mapping of a Function class (or of its nearest base class that has one)."""
    for c in cls.__mro__:
        fn = MAPPERS.get(c)
        if fn is not None:
            return fn
    return None
