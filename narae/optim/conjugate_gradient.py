"""Nonlinear conjugate gradient (torch has no counterpart), closure-based like LBFGS.

Maths. With ``g_k = grad f(x_k)``, start from steepest descent ``d_0 = -g_0`` and iterate

    x_{k+1} = x_k + t_k d_k                     (t_k from a line search along d_k)
    d_{k+1} = -g_{k+1} + beta_k d_k

with either

    Fletcher-Reeves:  beta_k = g_{k+1}.g_{k+1} / g_k.g_k
    Polak-Ribiere+:   beta_k = max(0, g_{k+1}.(g_{k+1} - g_k) / g_k.g_k)

On a quadratic ``f = x.A.x / 2 - b.x`` with exact line searches both give A-conjugate
directions, so the minimiser is reached in at most n iterations (n = number of unknowns).
On other functions the conjugacy decays, so the direction is reset to ``-g`` every
``restart`` iterations (default n) and whenever ``g.d >= 0`` (``d`` not a descent
direction); the "+" in PR+ (clipping beta at 0) is itself an automatic restart and makes
PR+ globally convergent under the strong Wolfe conditions.

Line search (``line_search_fn``):
- ``"strong_wolfe"`` (default): ``f(x + t d) <= f + c1 t g.d`` and ``|g(x + t d).d| <= c2 |g.d|``,
  found by bracketing and cubic interpolation (the search LBFGS uses). ``c2 = 0.1`` by
  default: CG wants nearly exact searches (Fletcher-Reeves needs ``c2 < 1/2`` to keep
  descent). On a quadratic the cubic interpolation is exact, so the searches are too.
- ``"armijo"``: backtracking, ``t <- rho t`` until ``f(x + t d) <= f + c1 t g.d``.

The first trial step is ``min(1, 1/|g|_1) lr``; later ones scale the previous step by the
ratio of directional derivatives, ``t_{k-1} g_{k-1}.d_{k-1} / g_k.d_k`` (Nocedal & Wright,
eq. 3.60), which makes the first trial close to the minimiser once the iteration settles;
with Armijo backtracking, which can only shrink a step, that guess is doubled.
"""
from ..autograd import grad_mode
from ..tensor import Tensor
from ..backend import get_array_module
from .optimizer import Optimizer
from .lbfgs import strong_wolfe, _FlatParams, _dot

__all__ = ["ConjugateGradient"]


def backtracking_armijo(obj_func, x, t, d, f, g, gtd, c1=1e-4, rho=0.5, max_ls=25):
    """Shrink ``t`` by ``rho`` until the sufficient-decrease (Armijo) condition holds.

    Returns ``(f_new, g_new, t, evaluations)``; ``t = 0`` (and the old ``f``, ``g``) when no
    step of the ``max_ls`` tried decreases the loss enough.
    """
    for evals in range(1, max_ls + 1):
        f_new, g_new = obj_func(x, t, d)
        if f_new <= f + c1 * t * gtd:
            return f_new, g_new, t, evals
        t *= rho
    return f, g, 0.0, max(max_ls, 0)


class ConjugateGradient(Optimizer):
    """Nonlinear conjugate gradient; ``step(closure)`` runs up to ``max_iter`` iterations.

    Args: ``lr`` scales the first trial step; ``beta`` is ``"polak_ribiere"`` (PR+) or
    ``"fletcher_reeves"``; ``line_search_fn`` is ``"strong_wolfe"`` or ``"armijo"``;
    ``restart`` is the restart period (default: the number of parameters); ``c1``/``c2``
    are the Wolfe constants, ``backtrack`` Armijo's shrink factor; ``tolerance_grad``,
    ``tolerance_change``, ``max_eval`` stop early as in LBFGS.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, beta="polak_ribiere", line_search_fn="strong_wolfe",
                 restart=None, c1=1e-4, c2=0.1, backtrack=0.5):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if beta not in ("polak_ribiere", "fletcher_reeves"):
            raise ValueError(f"Invalid beta: {beta!r} (use 'polak_ribiere' or "
                             "'fletcher_reeves')")
        if line_search_fn not in ("strong_wolfe", "armijo"):
            raise ValueError(f"Invalid line_search_fn: {line_search_fn!r} (use 'strong_wolfe' "
                             "or 'armijo')")
        if not 0.0 < c1 < c2 < 1.0:
            raise ValueError(f"Invalid Wolfe constants: need 0 < c1 < c2 < 1, got c1={c1}, "
                             f"c2={c2}")
        if not 0.0 < backtrack < 1.0:
            raise ValueError(f"Invalid backtrack value: {backtrack}")
        if restart is not None and restart < 1:
            raise ValueError(f"Invalid restart value: {restart}")
        if max_iter < 1:
            raise ValueError(f"Invalid max_iter value: {max_iter}")
        if max_eval is None:
            max_eval = max_iter * 10
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        beta=beta, line_search_fn=line_search_fn, restart=restart, c1=c1,
                        c2=c2, backtrack=backtrack)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("ConjugateGradient doesn't support per-parameter options "
                             "(parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._flat = _FlatParams(self._params)

    def _directional_evaluate(self, closure, x, t, d):
        self._flat.add(t, d)
        loss = float(self._eval_closure(closure))
        flat_grad = self._flat.flat_grad()
        self._flat.set(x)
        return loss, flat_grad

    @grad_mode.no_grad()
    def step(self, closure=None):
        """Run CG iterations; returns the loss first computed by the closure."""
        if closure is None:
            raise RuntimeError("ConjugateGradient.step requires a closure that re-evaluates "
                               "the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        restart = group["restart"] or self._flat.numel
        flat = self._flat
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._eval_closure(closure)
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = flat.flat_grad()
        xp = get_array_module(g)
        if float(xp.abs(g).max()) <= tol_grad:
            return orig_loss

        unwrap = lambda v: v._data if isinstance(v, Tensor) else v  # noqa: E731
        d, prev_g = unwrap(state.get("d")), unwrap(state.get("prev_flat_grad"))
        t, prev_gtd = state.get("t"), state.get("gtd")
        since_restart = state.get("since_restart", 0)
        obj = lambda x, t_, d_: self._directional_evaluate(closure, x, t_, d_)  # noqa: E731

        for _ in range(max_iter):
            state["n_iter"] += 1
            # -- direction
            if d is None:
                d, since_restart = -g, 0
            else:
                gg_prev = _dot(prev_g, prev_g)
                if group["beta"] == "fletcher_reeves":
                    beta = _dot(g, g) / gg_prev
                else:
                    beta = max(0.0, (_dot(g, g) - _dot(g, prev_g)) / gg_prev)
                d = beta * d
                d -= g
                since_restart += 1
                if since_restart >= restart or _dot(g, d) >= 0:
                    d, since_restart = -g, 0
            gtd = _dot(g, d)
            if gtd > -tol_change:  # g is (numerically) zero: nothing left to do
                d = None
                break
            # -- first trial step
            if t is None:
                t = min(1.0, 1.0 / float(xp.abs(g).sum())) * lr
            else:
                t = t * prev_gtd / gtd
                if group["line_search_fn"] == "armijo":
                    t *= 2.0  # backtracking only shrinks: let the step grow as well
            prev_g, prev_gtd, prev_loss = g, gtd, loss
            # -- line search
            x0 = flat.clone()
            if group["line_search_fn"] == "strong_wolfe":
                loss, g, t, ls_evals = strong_wolfe(
                    obj, x0, t, d, loss, g, gtd, c1=group["c1"], c2=group["c2"],
                    tolerance_change=tol_change, max_ls=max(max_eval - evals, 1))
            else:
                loss, g, t, ls_evals = backtracking_armijo(
                    obj, x0, t, d, loss, g, gtd, c1=group["c1"], rho=group["backtrack"],
                    max_ls=max(max_eval - evals, 1))
            flat.add(t, d)
            evals += ls_evals
            state["func_evals"] += ls_evals
            # -- stopping rules
            if t == 0.0:  # no acceptable step: start again from steepest descent
                d, t = None, None
                break
            if evals >= max_eval or float(xp.abs(g).max()) <= tol_grad:
                break
            if float(xp.abs(d).max()) * abs(t) <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break

        wrap = lambda v: None if v is None else Tensor(v)  # noqa: E731
        state.update(d=wrap(d), prev_flat_grad=wrap(prev_g), t=t, gtd=prev_gtd,
                     since_restart=since_restart)
        return orig_loss
