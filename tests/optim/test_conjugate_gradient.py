"""ConjugateGradient (no torch counterpart): finite termination on quadratics, Rosenbrock,
and a clear win over gradient descent."""
import numpy as np
import pytest

import narae as nr
import narae.optim as optim

RNG = np.random.default_rng(0)
N = 8
_Q, _ = np.linalg.qr(RNG.standard_normal((N, N)))
A = _Q @ np.diag(np.logspace(0, 2, N)) @ _Q.T  # SPD, condition number 100
B = RNG.standard_normal(N)
X_STAR = np.linalg.solve(A, B)


def quadratic(x):
    return 0.5 * (x * nr.matmul(nr.tensor(A), x)).sum() - (nr.tensor(B) * x).sum()


def rosenbrock(x):
    n = x.shape[0]
    head = nr.matmul(nr.tensor(np.eye(n)[:-1]), x)
    tail = nr.matmul(nr.tensor(np.eye(n)[1:]), x)
    return (100 * (tail - head ** 2) ** 2 + (1 - head) ** 2).sum()


def _closure(opt, x, f):
    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("beta", ["polak_ribiere", "fletcher_reeves"])
def test_quadratic_reaches_exact_minimiser_in_n_iterations(beta):
    x = nr.tensor(np.zeros(N), requires_grad=True)
    opt = optim.ConjugateGradient([x], max_iter=1, beta=beta)
    closure = _closure(opt, x, quadratic)
    for _ in range(N):  # one CG iteration per step() call
        opt.step(closure)
    np.testing.assert_allclose(x._data, X_STAR, atol=1e-9)
    assert opt.state[x]["n_iter"] == N


def test_quadratic_in_one_step_call():
    x = nr.tensor(np.zeros(N), requires_grad=True)
    opt = optim.ConjugateGradient([x], max_iter=N)
    loss = opt.step(_closure(opt, x, quadratic))
    assert float(loss) == 0.0  # the loss at the start, as torch's closure optimizers return
    np.testing.assert_allclose(x._data, X_STAR, atol=1e-9)


@pytest.mark.parametrize("beta", ["polak_ribiere", "fletcher_reeves"])
def test_rosenbrock_strong_wolfe(beta):
    x = nr.tensor(np.array([-1.2, 1.0, -0.5, 0.8]), requires_grad=True)
    opt = optim.ConjugateGradient([x], max_iter=200, beta=beta, tolerance_change=1e-14)
    opt.step(_closure(opt, x, rosenbrock))
    np.testing.assert_allclose(x._data, np.ones(4), atol=1e-5)


def test_rosenbrock_armijo_makes_progress():
    x = nr.tensor(np.array([-1.2, 1.0]), requires_grad=True)
    opt = optim.ConjugateGradient([x], max_iter=100, line_search_fn="armijo")
    closure = _closure(opt, x, rosenbrock)
    start = float(rosenbrock(x))
    for _ in range(5):
        opt.step(closure)
    assert float(rosenbrock(x)) < 1e-2 * start


@pytest.mark.parametrize("line_search_fn", ["strong_wolfe", "armijo"])
def test_beats_gradient_descent(line_search_fn):
    """Same budget of gradient evaluations: CG ends far closer to the minimum than tuned GD."""
    x = nr.tensor(np.zeros(N), requires_grad=True)
    opt = optim.ConjugateGradient([x], max_iter=1000, max_eval=60,
                                  line_search_fn=line_search_fn)
    opt.step(_closure(opt, x, quadratic))
    evals = opt.state[x]["func_evals"]
    assert evals <= 60
    cg_err = np.abs(x._data - X_STAR).max()

    y = nr.tensor(np.zeros(N), requires_grad=True)
    gd = optim.SGD([y], lr=1.0 / np.linalg.eigvalsh(A).max())  # the best fixed step: 1/L
    for _ in range(evals):
        gd.zero_grad()
        quadratic(y).backward()
        gd.step()
    gd_err = np.abs(y._data - X_STAR).max()
    # exact-enough searches keep the directions conjugate; Armijo's rough ones only partly
    assert cg_err < (1e-3 if line_search_fn == "strong_wolfe" else 0.1) * gd_err


def test_restart_every_iteration_is_steepest_descent():
    """``restart=1`` drops the conjugate part: no finite termination any more."""
    x = nr.tensor(np.zeros(N), requires_grad=True)
    opt = optim.ConjugateGradient([x], max_iter=N, restart=1)
    opt.step(_closure(opt, x, quadratic))
    assert np.abs(x._data - X_STAR).max() > 1e-3


def test_float32_and_several_parameters():
    w = nr.tensor(np.zeros((2, 2), np.float32), requires_grad=True)
    b = nr.tensor(np.zeros(4, np.float32), requires_grad=True)
    A32 = nr.tensor(A[:4, :4].astype(np.float32) + 4 * np.eye(4, dtype=np.float32))
    B32 = nr.tensor(B[:4].astype(np.float32))

    def f(_):
        x = w.reshape(4) + b
        return 0.5 * (x * nr.matmul(A32, x)).sum() - (B32 * x).sum()

    opt = optim.ConjugateGradient([w, b], max_iter=20)
    opt.step(_closure(opt, None, f))
    x = w._data.reshape(4) + b._data
    assert w._data.dtype == np.float32
    np.testing.assert_allclose(x, np.linalg.solve(A32._data, B32._data), atol=1e-4)


def test_state_dict_round_trip():
    ref = nr.tensor(np.zeros(N), requires_grad=True)
    opt = optim.ConjugateGradient([ref], max_iter=2)
    for _ in range(3):
        opt.step(_closure(opt, ref, quadratic))

    x = nr.tensor(np.zeros(N), requires_grad=True)
    opt1 = optim.ConjugateGradient([x], max_iter=2)
    opt1.step(_closure(opt1, x, quadratic))
    x2 = nr.tensor(x._data, requires_grad=True)
    opt2 = optim.ConjugateGradient([x2], max_iter=2)
    opt2.load_state_dict(opt1.state_dict())
    for _ in range(2):
        opt2.step(_closure(opt2, x2, quadratic))
    np.testing.assert_allclose(x2._data, ref._data, rtol=1e-12, atol=1e-14)


def test_needs_a_closure():
    x = nr.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="closure"):
        optim.ConjugateGradient([x]).step()
