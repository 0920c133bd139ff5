"""Flatten nested tuples/lists/dicts of tensors to a list of leaves, and rebuild them."""

__all__ = ["tree_flatten", "tree_unflatten", "tree_map"]

_LEAF = None


def tree_flatten(tree):
    """``(leaves, spec)``: the leaves in order; ``spec`` rebuilds the same structure."""
    leaves = []
    spec = _flatten(tree, leaves)
    return leaves, spec


def _flatten(tree, leaves):
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # named tuple
        return (type(tree), [_flatten(x, leaves) for x in tree])
    if isinstance(tree, (tuple, list)):
        return (type(tree), [_flatten(x, leaves) for x in tree])
    if isinstance(tree, dict):
        return (type(tree), [(k, _flatten(v, leaves)) for k, v in tree.items()])
    leaves.append(tree)
    return _LEAF


def tree_unflatten(leaves, spec):
    it = iter(leaves)
    return _build(spec, it)


def _build(spec, it):
    if spec is _LEAF:
        return next(it)
    kind, children = spec
    if issubclass(kind, dict):
        return kind((k, _build(s, it)) for k, s in children)
    items = [_build(s, it) for s in children]
    if issubclass(kind, tuple) and hasattr(kind, "_fields"):
        return kind(*items)
    return kind(items)


def tree_map(fn, tree):
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def broadcast_prefix(prefix, tree, what):
    """Leaves of ``prefix`` (e.g. in_dims) repeated to match every leaf of ``tree``."""
    out = []
    _broadcast(prefix, tree, out, what)
    return out


def _broadcast(prefix, tree, out, what):
    if not isinstance(prefix, (tuple, list, dict)):
        n = len(tree_flatten(tree)[0])
        out.extend([prefix] * n)
        return
    if isinstance(prefix, dict):
        if not isinstance(tree, dict) or set(prefix) != set(tree):
            raise ValueError(f"{what}: the structure of the dims does not match the inputs")
        for k in tree:
            _broadcast(prefix[k], tree[k], out, what)
        return
    if not isinstance(tree, (tuple, list)) or len(prefix) != len(tree):
        raise ValueError(f"{what}: the structure of the dims ({type(prefix).__name__} of "
                         f"length {len(prefix)}) does not match the inputs")
    for p, t in zip(prefix, tree):
        _broadcast(p, t, out, what)
