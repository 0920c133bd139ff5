"""L-BFGS: quasi-Newton steps from a limited history of gradient differences.

The algorithm (and every stopping rule) follows torch.optim.LBFGS, itself after minFunc, so
that the same closure gives the same trajectory. The parameters are handled as one flat
vector. Scalars computed from the arrays (curvature ``y.s``, step sizes...) are NumPy scalars
of the parameters' dtype, so that float32 runs round them as torch's 0-d float32 tensors do.
"""
import numpy as np

from ..autograd import grad_mode
from ..tensor import Tensor
from ..backend import get_array_module
from .optimizer import Optimizer, real_pairs

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1), (x2, f2, g2), clipped to ``bounds``."""
    if bounds is None:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    else:
        lo, hi = bounds
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if not d2_square >= 0:  # (also when it is NaN, as torch)
        return (lo + hi) / 2.0
    d2 = np.sqrt(d2_square)
    if x1 <= x2:
        pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(pos, lo), hi)


def _scalar(x):
    """A host scalar of ``x``'s dtype (a NumPy scalar or a 0-d CuPy array)."""
    return x.dtype.type(x.item())


def _dot(a, b):
    return _scalar(a.dot(b))


def _abs_max(a):
    return _scalar(get_array_module(a).abs(a).max())


def strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                 max_ls=25):
    """Line search for a step ``t`` along ``d`` meeting the strong Wolfe conditions.

    ``obj_func(x, t, d)`` returns ``(f, flat_grad)`` at ``x + t d``. First bracket an interval
    holding an acceptable step (growing ``t`` by cubic extrapolation), then shrink it by
    cubic interpolation ("zoom"). Returns ``(f_new, g_new, t, function_evaluations)``.
    """
    d_norm = _abs_max(d)
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate: the minimum lies further along d
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                          bounds=(min_step, max_step))
        f_prev, g_prev, gtd_prev = f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
        bracket_gtd = [gtd, gtd_new]

    # zoom: shrink the bracket until the point satisfies the conditions
    insuf_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        # keep t away from the bracket's ends unless that makes no progress
        b_max, b_min = max(bracket), min(bracket)
        eps = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) < eps:
            if insuf_progress or t >= b_max or t <= b_min:
                t = b_max - eps if abs(t - b_max) < abs(t - b_min) else b_min + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new.copy(), gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class _FlatParams:
    """The parameters seen as one flat vector: gather gradients, move along a direction."""

    def __init__(self, params):
        # a complex parameter counts as its (re, im) pairs, as torch's view_as_real
        self.params = params
        self.numel = sum(int(p._data.size) * (2 if p._data.dtype.kind == "c" else 1)
                         for p in params)

    def flat_grad(self):
        xp = get_array_module(self.params[0]._data)
        parts = []
        for p in self.params:
            if p.grad is None:
                d = p._data
                parts.append(xp.zeros(d.size * 2, d.real.dtype) if d.dtype.kind == "c"
                             else xp.zeros(d.size, d.dtype))
            else:
                parts.append(real_pairs(p.grad._data).reshape(-1))
        return xp.concatenate(parts) if len(parts) > 1 else parts[0].copy()

    def add(self, step, update):
        offset = 0
        for p in self.params:
            data = real_pairs(p._data)
            n = data.size
            data += step * update[offset:offset + n].reshape(data.shape)
            p._version[0] += 1
            offset += n

    def clone(self):
        return [p._data.copy() for p in self.params]

    def set(self, arrays):
        for p, a in zip(self.params, arrays):
            p._data[...] = a
            p._version[0] += 1


class LBFGS(Optimizer):
    """L-BFGS (torch's algorithm); ``step(closure)`` runs up to ``max_iter`` iterations.

    Needs a closure that zeroes the gradients, computes the loss, calls ``backward`` and
    returns the loss. Takes a single parameter group.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._flat = _FlatParams(self._params)

    def _directional_evaluate(self, closure, x, t, d):
        """Loss and flat gradient at ``x + t d``; the parameters are put back to ``x``."""
        self._flat.add(t, d)
        loss = float(closure())
        flat_grad = self._flat.flat_grad()
        self._flat.set(x)
        return loss, flat_grad

    @grad_mode.no_grad()
    def step(self, closure):
        """Run L-BFGS iterations; returns the loss first computed by the closure."""
        if closure is None:
            raise RuntimeError("LBFGS.step requires a closure that re-evaluates the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        if line_search_fn not in (None, "strong_wolfe"):
            raise RuntimeError("only 'strong_wolfe' is supported")
        flat = self._flat

        def evaluate():
            return self._eval_closure(closure)

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = flat.flat_grad()
        xp = get_array_module(flat_grad)
        if _abs_max(flat_grad) <= tolerance_grad:
            return orig_loss

        unwrap = lambda v: v._data if isinstance(v, Tensor) else v  # noqa: E731
        d = unwrap(state.get("d"))
        t = state.get("t")
        old_dirs = [unwrap(v) for v in state.get("old_dirs", [])]
        old_stps = [unwrap(v) for v in state.get("old_stps", [])]
        ro = list(state.get("ro", []))
        H_diag = state.get("H_diag")
        prev_flat_grad = unwrap(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            # -- direction: -H g by the two-loop recursion over the stored (s, y) pairs
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:  # keep the pair only if the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / _dot(y, y)
                num_old = len(old_dirs)
                al = [None] * num_old
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = _dot(old_stps[i], q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = _dot(old_dirs[i], r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            # -- step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / _scalar(xp.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = _dot(flat_grad, d)
            if gtd > -tolerance_change:  # not a descent direction any more
                break
            ls_evals = 0
            if line_search_fn is not None:
                x_init = flat.clone()
                loss, flat_grad, t, ls_evals = strong_wolfe(
                    lambda x, t_, d_: self._directional_evaluate(evaluate, x, t_, d_),
                    x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                flat.add(t, d)
                opt_cond = _abs_max(flat_grad) <= tolerance_grad
            else:
                flat.add(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = float(evaluate())
                    flat_grad = flat.flat_grad()
                    opt_cond = _abs_max(flat_grad) <= tolerance_grad
                    ls_evals = 1
            current_evals += ls_evals
            state["func_evals"] += ls_evals
            # -- stopping rules
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if _abs_max(d * t) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        wrap = lambda v: None if v is None else Tensor(v)  # noqa: E731
        state.update(d=wrap(d), t=t, old_dirs=[Tensor(v) for v in old_dirs],
                     old_stps=[Tensor(v) for v in old_stps], ro=ro, H_diag=H_diag,
                     prev_flat_grad=wrap(prev_flat_grad), prev_loss=prev_loss)
        return orig_loss
