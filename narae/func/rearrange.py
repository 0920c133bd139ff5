"""``rearrange`` (einops-style axis reordering, torch.func.rearrange) and ``debug_unwrap``.

``rearrange(x, "b h w c -> b (h w) c")`` is one reshape that splits the input's dims into
elementary axes, one permute that orders them as the right side lists them, and one reshape
that merges the right side's groups: all differentiable narae ops.
"""
import math

__all__ = ["rearrange", "debug_unwrap"]

_ELLIPSIS = "..."


class DimensionBindError(ValueError):
    """The pattern's axes cannot be bound to the tensor's dims (torch.func's error type)."""


def _parse(side, which):
    """The groups of one side: a list of lists of axis names ('...' for the ellipsis);
    an axis outside parentheses is a group of one, ``1`` or ``()`` an empty group."""
    groups, current, bare = [], None, set()
    text = side.replace(_ELLIPSIS, " \0 ")
    for tok in text.replace("(", " ( ").replace(")", " ) ").split():
        if tok == "(":
            if current is not None:
                raise ValueError(f"Axis composition is one-level (brackets inside brackets "
                                 f"not allowed) in the {which} side: {side.strip()!r}")
            current = []
        elif tok == ")":
            if current is None:
                raise ValueError(f"Brackets are not balanced in the {which} side: "
                                 f"{side.strip()!r}")
            groups.append(current)
            current = None
        else:
            name = _ELLIPSIS if tok == "\0" else tok
            if name == "1":
                if current is None:
                    groups.append([])
                continue
            if name != _ELLIPSIS and not name.isidentifier():
                raise ValueError(f"Invalid axis identifier {name!r} in the {which} side of a "
                                 "rearrange pattern (names, '...', '1' and parentheses only)")
            if current is None:
                if name == _ELLIPSIS:
                    bare.add(len(groups))  # (not merged: one group per dim it stands for)
                groups.append([name])
            else:
                current.append(name)
    if current is not None:
        raise ValueError(f"Brackets are not balanced in the {which} side: {side.strip()!r}")
    names = [n for g in groups for n in g]
    seen = set()
    for n in names:
        if n in seen:
            if n == _ELLIPSIS:
                raise ValueError(f"Expression may contain dots only inside ellipsis (...): "
                                 f"{side.strip()!r} has two")
            raise ValueError(f"Indexing expression contains duplicate dimension '{n}'")
        seen.add(n)
    return groups, bare


def rearrange(tensor, pattern, **axes_lengths):
    """Reorder, split and merge the axes of ``tensor`` as ``pattern`` says (einops syntax).

    ``"b c h w -> b (c h w)"`` flattens, ``"(b1 b2) c -> b1 b2 c"`` splits (give ``b1=``),
    ``"... c -> c ..."`` moves the last dim first. A list/tuple of tensors is stacked first
    along a new leading axis.
    """
    from ..tensor import Tensor
    from ..ops.shape import stack
    if isinstance(tensor, (list, tuple)):
        tensor = stack(list(tensor), 0)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"rearrange(): expected a Tensor or a sequence of Tensors, got "
                        f"{type(tensor).__name__}")
    if pattern.count("->") != 1:
        raise ValueError("Pattern must contain a single '->' separator")
    left_text, right_text = pattern.split("->")
    (left, l_bare), (right, r_bare) = _parse(left_text, "left"), _parse(right_text, "right")
    l_names = {n for g in left for n in g}
    r_names = {n for g in right for n in g}
    if (_ELLIPSIS in l_names) != (_ELLIPSIS in r_names):
        side = "left" if _ELLIPSIS in l_names else "right"
        raise ValueError(f"Ellipsis found in {side} side, but not the other side of a "
                         f"rearrange pattern: {pattern!r}")
    one_side = (l_names ^ r_names) - {_ELLIPSIS}
    if one_side:
        raise ValueError(f"Identifiers only on one side of rearrange expression (should be on "
                         f"both): {one_side}")
    unknown = set(axes_lengths) - l_names
    if unknown:
        raise ValueError(f"Identifiers not found in rearrange expression: {unknown}")
    for g in left:
        if _ELLIPSIS in g and len(g) > 1:
            raise ValueError(f"Ellipsis inside parenthesis in the left side is not allowed: "
                             f"{pattern!r}")
    shape = tuple(tensor.shape)
    if _ELLIPSIS in l_names:
        n_ell = len(shape) - (len(left) - 1)
        if n_ell < 0:
            raise ValueError(f"Number of dimensions in pattern ({len(left) - 1}) must be less "
                             f"than or equal to the number of dimensions in the tensor "
                             f"({len(shape)})")
        dots = [f"\0{i}" for i in range(n_ell)]

        def expand(groups, bare):
            out = []
            for i, g in enumerate(groups):
                if i in bare:
                    out.extend([d] for d in dots)
                else:
                    out.append([d for n in g for d in (dots if n == _ELLIPSIS else [n])])
            return out
        left, right = expand(left, l_bare), expand(right, r_bare)
    elif len(shape) != len(left):
        raise ValueError(f"Number of dimensions in pattern ({len(left)}) must be equal to the "
                         f"number of dimensions in the tensor ({len(shape)})")
    sizes = {k: int(v) for k, v in axes_lengths.items()}
    for g, d in zip(left, shape):
        if not g:
            if d != 1:
                raise DimensionBindError(f"rearrange: the unit axis '1' matched a dim of size "
                                         f"{d} in a tensor of shape {shape}")
            continue
        free = [n for n in g if n not in sizes]
        known = math.prod(sizes[n] for n in g if n in sizes)
        if not free:
            if known != d:
                raise DimensionBindError(f"Shape mismatch, {d} != {known}: the axes {g} of "
                                         f"pattern {pattern!r} in a tensor of shape {shape}")
        elif len(free) == 1:
            if known == 0 or d % known:
                raise DimensionBindError(
                    f"inferred dimension does not evenly fit into larger dimension: {d} vs "
                    f"{tuple(sizes.get(n, '?') for n in g)}")
            sizes[free[0]] = d // known
        else:
            raise DimensionBindError(f"Could not infer sizes for {set(free)}")
    elems_left = [n for g in left for n in g]
    elems_right = [n for g in right for n in g]
    x = tensor.reshape(tuple(sizes[n] for n in elems_left))
    order = tuple(elems_left.index(n) for n in elems_right)
    if order != tuple(range(len(order))):
        x = x.permute(*order)
    return x.reshape(tuple(math.prod(sizes[n] for n in g) for g in right))


def debug_unwrap(tensor, *, recurse=True):
    """The plain tensor behind a transform's wrapper: narae's transforms never wrap
    tensors, so this returns ``tensor`` itself."""
    return tensor
