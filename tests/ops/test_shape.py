import numpy as np
import pytest

import narae as nr
from helpers import check, randn


# --- reshape family ------------------------------------------------------------------------
@pytest.mark.parametrize("args", [(), (1,), (0, 1), (1, -1), (-2, -1), (2, 2)])
def test_flatten(args):
    check(lambda m, x: m.flatten(x, *args), randn(2, 3, 2), double=True)
    check(lambda m, x: x.flatten(*args), randn(2, 3, 2))


def test_flatten_0d_and_errors():
    check(lambda m, x: m.flatten(x), randn())
    with pytest.raises(RuntimeError, match="start_dim"):
        nr.flatten(nr.zeros(2, 3), 1, 0)


@pytest.mark.parametrize("dim,sizes", [(1, (2, 3)), (-1, (2, -1)), (0, (1, 2)), (1, (6,))])
def test_unflatten(dim, sizes):
    check(lambda m, x: m.unflatten(x, dim, sizes), randn(2, 6))
    check(lambda m, x: x.unflatten(dim, sizes), randn(2, 6))


def test_unflatten_bad_sizes():
    with pytest.raises(RuntimeError, match=r"\(2, 6\)"):
        nr.unflatten(nr.zeros(2, 6), 1, (4, 2))


@pytest.mark.parametrize("dim", [None, 0, 2, -1, (0, 2), (1, -1), ()])
def test_squeeze(dim):
    kw = {} if dim is None else {"dim": dim}
    check(lambda m, x: m.squeeze(x, **kw), randn(1, 3, 1), double=True)
    check(lambda m, x: x.squeeze(**kw), randn(1, 3, 1))


def test_squeeze_0d():
    check(lambda m, x: m.squeeze(x, 0), randn())
    check(lambda m, x: m.squeeze(x), randn())


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_unsqueeze(dim):
    check(lambda m, x: m.unsqueeze(x, dim), randn(2, 3), double=True)
    check(lambda m, x: x.unsqueeze(dim), randn(2, 3))
    with pytest.raises(IndexError):
        nr.unsqueeze(nr.zeros(2, 3), 3)


@pytest.mark.parametrize("sizes", [(2, 1), (1, 3), (2, 1, 2), (3, 2, 2), (1, 1)])
def test_repeat(sizes):
    check(lambda m, x: x.repeat(*sizes), randn(2, 3), double=True)
    check(lambda m, x: x.repeat(sizes), randn(2, 3))


def test_repeat_too_few_dims():
    with pytest.raises(RuntimeError, match="repeat"):
        nr.zeros(2, 3).repeat(2)


@pytest.mark.parametrize("dims", [(2,), (2, 1), (1, 2, 2), (2, 1, 1)])
def test_tile(dims):
    check(lambda m, x: m.tile(x, dims), randn(2, 3))
    check(lambda m, x: x.tile(*dims), randn(2, 3))


def test_expand_size1_and_new_dims():
    check(lambda m, x: x.expand(2, 3, 4), randn(3, 1), double=True)
    check(lambda m, x: x.expand(-1, 4), randn(3, 1))


# --- cat / stack ---------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("fn", ["cat", "concat"])
def test_cat(fn, dim):
    shapes = [(2, 3), (2, 3), (2, 3)]
    sh = [list(s) for s in shapes]
    for i, s in enumerate(sh):
        s[dim] = i + 1
    check(lambda m, a, b, c: getattr(m, fn)([a, b, c], dim), *(randn(*s) for s in sh),
          double=True)


def test_cat_partial_grad_and_empty():
    a, b = randn(2, 3), randn(0, 3)
    check(lambda m, x, y: m.cat((x, y), 0), a, b)
    check(lambda m, x, y: m.cat([x, y], dim=0), a, np.zeros((0,)))  # legacy empty 1-D
    check(lambda m, x, y: m.cat([x, y], 1), a, randn(2, 2), diff=(0,))
    check(lambda m, x: m.concatenate([x, x], axis=1), a)


def test_cat_promotes_dtype():
    out = nr.cat([nr.zeros(2), nr.zeros(2, dtype=nr.float64)])
    assert out.dtype == nr.float64
    assert nr.cat([nr.zeros(2, dtype=nr.int64), nr.zeros(2)]).dtype == nr.float32


def test_cat_errors_name_shapes():
    with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(2, 4\)"):
        nr.cat([nr.zeros(2, 3), nr.zeros(2, 4)], 0)
    with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(3,\)"):
        nr.cat([nr.zeros(2, 3), nr.zeros(3)])
    with pytest.raises(RuntimeError, match="non-empty"):
        nr.cat([])
    with pytest.raises(TypeError):
        nr.cat(nr.zeros(2))


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(dim):
    check(lambda m, a, b: m.stack([a, b], dim), randn(2, 3), randn(2, 3), double=True)


def test_stack_error_names_shapes():
    with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(3, 2\)"):
        nr.stack([nr.zeros(2, 3), nr.zeros(3, 2)])


def test_hstack_vstack():
    check(lambda m, a, b: m.hstack([a, b]), randn(2, 3), randn(2, 1))
    check(lambda m, a, b: m.hstack([a, b]), randn(3), randn(2))
    check(lambda m, a, b: m.vstack([a, b]), randn(3), randn(2, 3))


# --- split / chunk / unbind / narrow -------------------------------------------------------
@pytest.mark.parametrize("arg,dim", [(2, 0), (3, 1), ([1, 3, 1], 1), ((2, 2), 0), (5, -1),
                                     ([0, 5], -1)])
def test_split(arg, dim):
    check(lambda m, x: m.split(x, arg, dim), randn(4, 5), double=True)
    check(lambda m, x: x.split(arg, dim), randn(4, 5))


def test_split_errors_and_empty():
    with pytest.raises(RuntimeError, match="sum exactly"):
        nr.split(nr.zeros(4), [1, 2])
    check(lambda m, x: m.split(x, 2), randn(0, 3), grad=False)


def test_split_uses_part_of_pieces():
    check(lambda m, x: m.split(x, 2)[1] * 2.0, randn(5, 2))


@pytest.mark.parametrize("chunks,dim", [(2, 0), (3, 0), (4, 1), (1, -1), (5, 0)])
def test_chunk(chunks, dim):
    check(lambda m, x: m.chunk(x, chunks, dim), randn(5, 3))
    check(lambda m, x: x.chunk(chunks, dim), randn(5, 3))


def test_chunk_of_empty():
    check(lambda m, x: m.chunk(x, 3), randn(0, 2), grad=False)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind(dim):
    check(lambda m, x: m.unbind(x, dim), randn(2, 3, 2), double=True)
    check(lambda m, x: x.unbind(dim), randn(2, 3))


@pytest.mark.parametrize("dim,start,length", [(0, 1, 2), (1, -3, 2), (-1, 0, 0), (1, 3, 1)])
def test_narrow(dim, start, length):
    check(lambda m, x: m.narrow(x, dim, start, length), randn(3, 4), double=True)
    check(lambda m, x: x.narrow(dim, start, length), randn(3, 4))


def test_narrow_out_of_range():
    with pytest.raises(RuntimeError, match="exceeds"):
        nr.narrow(nr.zeros(3, 4), 1, 3, 2)


# --- flip / roll / movedim -----------------------------------------------------------------
@pytest.mark.parametrize("dims", [(0,), (1,), (-1,), (0, 2), ()])
def test_flip(dims):
    check(lambda m, x: m.flip(x, dims), randn(2, 3, 2), double=True)
    check(lambda m, x: x.flip(dims), randn(2, 3, 2))
    if dims:
        check(lambda m, x: x.flip(*dims), randn(3, 2, 2))


def test_flip_is_a_copy():
    x = nr.arange(4.0)
    y = x.flip(0)
    y.add_(1.0)
    np.testing.assert_array_equal(x.numpy(), [0, 1, 2, 3])
    check(lambda m, x: m.fliplr(x), randn(2, 3))
    check(lambda m, x: m.flipud(x), randn(2, 3))


@pytest.mark.parametrize("shifts,dims", [(1, 0), (-2, 1), ((1, 2), (0, 1)), (3, None),
                                         ((1, -1), (-1, 0)), (7, -1)])
def test_roll(shifts, dims):
    check(lambda m, x: m.roll(x, shifts, dims), randn(3, 4), double=True)
    check(lambda m, x: x.roll(shifts, dims), randn(3, 4))


@pytest.mark.parametrize("src,dst", [(0, 2), (-1, 0), ((0, 1), (2, 0)), ((2,), (1,)), (1, 1)])
def test_movedim(src, dst):
    check(lambda m, x: m.movedim(x, src, dst), randn(2, 3, 4), double=True)
    check(lambda m, x: x.moveaxis(src, dst), randn(2, 3, 4))


# --- tril / triu ---------------------------------------------------------------------------
@pytest.mark.parametrize("diagonal", [0, 1, -1, 5, -5])
@pytest.mark.parametrize("fn", ["tril", "triu"])
def test_tril_triu(fn, diagonal):
    check(lambda m, x: getattr(m, fn)(x, diagonal), randn(3, 4), double=True)
    check(lambda m, x: getattr(x, fn)(diagonal=diagonal), randn(2, 3, 3))


def test_tril_needs_2d():
    with pytest.raises(RuntimeError, match=r"\(3,\)"):
        nr.tril(nr.zeros(3))


# --- pad -------------------------------------------------------------------------------------
def _F(m):
    import torch
    return torch.nn.functional if m is torch else m


@pytest.mark.parametrize("p", [(1, 2), (0, 1, 2, 0), (1, 1, 1, 1, 1, 1), (-1, 2), (2, -1, -1, 1),
                               (0, 0)])
def test_pad_constant(p):
    check(lambda m, x: _F(m).pad(x, p), randn(2, 3, 4), double=True)
    check(lambda m, x: _F(m).pad(x, p, value=1.5), randn(2, 3, 4))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("p", [(1, 2), (2, 0, 1, 1), (0, 3)])
def test_pad_modes(mode, p):
    x = randn(1, 2, 4) if len(p) == 2 else randn(1, 2, 3, 4)
    # linear with a constant gradient: torch and narae differ only in whether the gradient
    # is marked as requiring grad, so no double=True here (create_graph is tested on getitem)
    check(lambda m, x: _F(m).pad(x, p, mode=mode), x)


def test_pad_errors():
    with pytest.raises(RuntimeError, match="divisible"):
        nr.pad(nr.zeros(2, 3), (1,))
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        nr.pad(nr.zeros(2, 3), (1, 1, 1, 1, 1, 1))
    with pytest.raises(RuntimeError, match="reflect"):
        nr.pad(nr.zeros(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError):
        nr.pad(nr.zeros(1, 2, 3), (1, 0), mode="wrap")
