"""RBMs, DBN and the fully-connected Boltzmann machine, checked against brute-force
enumeration of every state of tiny models."""
import itertools

import numpy as np
import pytest

import narae as nr
from narae.models.boltzmann import BoltzmannMachine, empirical_distribution, state_index
from narae.models.dbn import DBN
from narae.models.rbm import BernoulliRBM, GaussianBernoulliRBM, all_binary_states


def _tiny_rbm(nv=3, nh=2, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    rbm = BernoulliRBM(nv, nh).double()
    with nr.no_grad():
        rbm.W.copy_(nr.tensor(rng.normal(0, scale, (nv, nh))))
        rbm.v_bias.copy_(nr.tensor(rng.normal(0, scale, nv)))
        rbm.h_bias.copy_(nr.tensor(rng.normal(0, scale, nh)))
    return rbm


def _params(rbm):
    return (rbm.W.detach().numpy().astype(np.float64), rbm.v_bias.detach().numpy(),
            rbm.h_bias.detach().numpy())


def _states(n):
    return np.array(list(itertools.product((0.0, 1.0), repeat=n)))


def _bb_energy(v, h, W, b, c):
    return -(v @ b) - (h @ c) - v @ W @ h


def _exact_p_v(rbm):
    """p(v) for every visible state by summing exp(-E) over all (v, h) pairs."""
    W, b, c = _params(rbm)
    V, H = _states(rbm.n_visible), _states(rbm.n_hidden)
    un = np.array([sum(np.exp(-_bb_energy(v, h, W, b, c)) for h in H) for v in V])
    return un / un.sum(), np.log(un.sum())


# -- RBM basics ------------------------------------------------------------------------------
def test_rbm_shapes_and_errors():
    rbm = BernoulliRBM(6, 4)
    v = nr.bernoulli(nr.full((5, 6), 0.5))
    assert rbm(v).shape == (5, 4)
    p, h = rbm.sample_h(v)
    assert p.shape == h.shape == (5, 4) and set(np.unique(h.numpy())) <= {0.0, 1.0}
    vs, mean = rbm.sample_v(h)
    assert vs.shape == mean.shape == (5, 6)
    assert rbm.free_energy(v).shape == (5,) and rbm.energy(v, h).shape == (5,)
    assert rbm.sample(7, steps=3)[0].shape == (7, 6)
    with pytest.raises(RuntimeError, match=r"\(5, 3\)"):
        rbm(nr.zeros(5, 3))


def test_bernoulli_energy_and_free_energy_brute_force():
    rbm = _tiny_rbm(3, 2)
    W, b, c = _params(rbm)
    V, H = _states(3), _states(2)
    F = rbm.free_energy(nr.tensor(V)).detach().numpy()
    for v, f in zip(V, F):
        assert f == pytest.approx(-np.log(sum(np.exp(-_bb_energy(v, h, W, b, c)) for h in H)))
    e = rbm.energy(nr.tensor(V[[5]]), nr.tensor(H[[2]])).item()
    assert e == pytest.approx(_bb_energy(V[5], H[2], W, b, c))


def test_log_partition_and_likelihood_brute_force():
    rbm = _tiny_rbm(3, 2)
    p, log_z = _exact_p_v(rbm)
    assert rbm.log_partition().item() == pytest.approx(log_z)
    ll = rbm.log_likelihood(nr.tensor(_states(3))).detach().numpy()
    np.testing.assert_allclose(np.exp(ll), p, rtol=1e-10)


def test_cd_gradient_is_data_minus_model_statistics():
    """The autograd gradient of cd_loss is the CD update with p(h|v) statistics."""
    rbm = _tiny_rbm(4, 3, scale=0.5)
    v0 = nr.tensor(_states(4)[[1, 6, 9, 14, 15]])
    rbm.chain = nr.tensor(_states(4)[[0, 3, 5, 10, 12]])
    rbm.cd_loss(v0, k=2, persistent=True).backward()
    vk = rbm.chain.numpy()
    W, b, c = _params(rbm)
    ph0 = 1 / (1 + np.exp(-(c + v0.numpy() @ W)))
    phk = 1 / (1 + np.exp(-(c + vk @ W)))
    n = len(vk)
    np.testing.assert_allclose(rbm.W.grad.numpy(), -(v0.numpy().T @ ph0 - vk.T @ phk) / n,
                               atol=1e-12)
    np.testing.assert_allclose(rbm.v_bias.grad.numpy(), -(v0.numpy() - vk).mean(0), atol=1e-12)
    np.testing.assert_allclose(rbm.h_bias.grad.numpy(), -(ph0 - phk).mean(0), atol=1e-12)


def test_cd_with_large_k_matches_exact_log_likelihood_gradient():
    rbm = _tiny_rbm(3, 2, scale=2.0, seed=1)   # strong couplings: CD-1 is visibly biased
    data = nr.tensor(_states(3)[[1, 3, 6, 7]])
    # exact: -d/dtheta mean log p(v) through the enumerated partition function
    (-rbm.log_likelihood(data).mean()).backward()
    exact = [p.grad.numpy().copy() for p in (rbm.W, rbm.v_bias, rbm.h_bias)]
    rbm.zero_grad()
    # CD-k, k large: the negative chains forget the data and sample the model
    rbm.cd_loss(data.repeat(3000, 1), k=50).backward()
    cd = [p.grad.numpy() for p in (rbm.W, rbm.v_bias, rbm.h_bias)]
    for e, g in zip(exact, cd):
        np.testing.assert_allclose(g, e, atol=0.03)
    rbm.zero_grad()
    # ... while CD-1 from this data is measurably biased (the test has teeth)
    rbm.cd_loss(data.repeat(3000, 1), k=1).backward()
    assert np.abs(rbm.W.grad.numpy() - exact[0]).max() > 0.05


def test_persistent_chains_persist():
    rbm = _tiny_rbm(4, 3, scale=0.5)
    data = nr.tensor(_states(4)[[15, 15, 15]])
    start = nr.tensor(_states(4)[[0, 1, 2]])
    rbm.chain = start.clone()
    nr.manual_seed(5)
    rbm.cd_loss(data, k=1, persistent=True)
    stored = rbm.chain.clone()
    nr.manual_seed(5)
    expected, _ = rbm.gibbs(start, 1)   # continued from the old chain, not from the data
    np.testing.assert_array_equal(stored.numpy(), expected.numpy())
    rbm.cd_loss(data, k=1, persistent=False)   # plain CD leaves the chains alone
    np.testing.assert_array_equal(rbm.chain.numpy(), stored.numpy())
    fresh = _tiny_rbm(4, 3)
    fresh.cd_loss(data, k=1, persistent=True)   # first use: chains start at the data
    assert fresh.chain.shape == (3, 4)


def test_pseudo_likelihood_brute_force():
    rbm = _tiny_rbm(4, 3)
    p, _ = _exact_p_v(rbm)
    V = _states(4)
    expected = []
    for k, v in enumerate(V):
        total = 0.0
        for i in range(4):
            f = v.copy()
            f[i] = 1 - f[i]
            j = int("".join(str(int(a)) for a in f), 2)
            total += np.log(p[k] / (p[k] + p[j]))
        expected.append(total)
    got = rbm.pseudo_log_likelihood(nr.tensor(V)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    est = np.mean([rbm.pseudo_log_likelihood(nr.tensor(V), stochastic=True).numpy()
                   for _ in range(400)], axis=0)
    np.testing.assert_allclose(est, expected, atol=0.25)


def test_rbm_gibbs_sampling_reaches_exact_distribution():
    rbm = _tiny_rbm(3, 2, scale=0.8).float()
    p, _ = _exact_p_v(rbm)
    states, _ = rbm.sample(4000, steps=30)
    emp = empirical_distribution(states).numpy()
    assert 0.5 * np.abs(emp - p).sum() < 0.04


def test_gaussian_bernoulli_energy_formula():
    rng = np.random.default_rng(3)
    rbm = GaussianBernoulliRBM(3, 2, sigma=0.7).double()
    with nr.no_grad():
        rbm.W.copy_(nr.tensor(rng.normal(0, 0.5, (3, 2))))
        rbm.v_bias.copy_(nr.tensor(rng.normal(0, 1, 3)))
        rbm.h_bias.copy_(nr.tensor(rng.normal(0, 1, 2)))
    W, b, c = _params(rbm)
    s = rbm.sigma.numpy()[0]   # 0.7 in float32, then cast
    v = rng.normal(0, 1, (4, 3))
    H = _states(2)
    for vi in v:
        es = [((vi - b) ** 2).sum() / (2 * s * s) - h @ c - (vi / s) @ W @ h for h in H]
        got = rbm.energy(nr.tensor(np.repeat(vi[None], 4, 0)), nr.tensor(H)).detach().numpy()
        np.testing.assert_allclose(got, es, rtol=1e-12)
        f = rbm.free_energy(nr.tensor(vi[None])).item()
        assert f == pytest.approx(-np.log(np.sum(np.exp(-np.array(es)))))
    p = rbm.prob_h(nr.tensor(v)).detach().numpy()
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-(c + (v / s) @ W))))
    h = nr.tensor(H)
    np.testing.assert_allclose(rbm.mean_v(h).detach().numpy(), b + s * (H @ W.T))


def test_gaussian_bernoulli_log_partition_by_quadrature():
    rng = np.random.default_rng(4)
    rbm = GaussianBernoulliRBM(2, 2, sigma=0.8).double()
    with nr.no_grad():
        rbm.W.copy_(nr.tensor(rng.normal(0, 0.7, (2, 2))))
        rbm.v_bias.copy_(nr.tensor(rng.normal(0, 1, 2)))
        rbm.h_bias.copy_(nr.tensor(rng.normal(0, 1, 2)))
    g = np.linspace(-9, 9, 361)
    step = g[1] - g[0]
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    f = rbm.free_energy(nr.tensor(grid)).detach().numpy()
    log_z = np.log(np.exp(-f).sum() * step * step)
    assert rbm.log_partition().item() == pytest.approx(log_z, abs=1e-6)


def test_gaussian_bernoulli_trains():
    x = nr.randn(200, 6) * 0.5 + nr.tensor([1.0, -1.0, 0.5, 0.0, 2.0, -2.0])
    rbm = GaussianBernoulliRBM(6, 8)
    errors = rbm.fit(x, epochs=5, lr=0.01, batch_size=20)
    assert errors[-1] < 0.5 * errors[0]   # learns at least the visible means
    assert rbm.sample(5, steps=3)[0].shape == (5, 6)


def test_rbm_fit_is_deterministic_under_manual_seed():
    x = nr.bernoulli(nr.full((40, 10), 0.3))
    runs = []
    for _ in range(2):
        nr.manual_seed(11)
        rbm = BernoulliRBM(10, 5)
        errs = rbm.fit(x, epochs=2, batch_size=10, persistent=True)
        runs.append((errs, rbm.W.detach().numpy().copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_all_binary_states_order_and_index():
    s = all_binary_states(3)
    np.testing.assert_array_equal(s.numpy(), _states(3))
    np.testing.assert_array_equal(state_index(s).numpy(), np.arange(8))


# -- DBN ---------------------------------------------------------------------------------------
def test_dbn_pretrain_unroll_and_fine_tune():
    x = nr.bernoulli(nr.full((60, 12), 0.4))
    y = nr.randint(0, 3, (60,))
    dbn = DBN([12, 8, 6])
    hist = dbn.pretrain(x, epochs=2, batch_size=20)
    assert len(hist) == 2 and all(len(h) == 3 for h in hist)
    assert dbn(x).shape == (60, 6)
    mlp = dbn.to_mlp(3)
    np.testing.assert_array_equal(mlp[0].weight.detach().numpy(),
                                  dbn.rbms[0].W.detach().numpy().T)
    np.testing.assert_array_equal(mlp[2].bias.detach().numpy(),
                                  dbn.rbms[1].h_bias.detach().numpy())
    with nr.no_grad():   # the unrolled up-pass equals the DBN's (before the softmax layer)
        np.testing.assert_allclose(mlp[:4](x).numpy(), dbn(x).numpy(), rtol=1e-6)
    mlp2, losses = dbn.fine_tune(x, y, 3, epochs=3)
    assert len(losses) == 3 and mlp2(x).shape == (60, 3)
    assert dbn.sample(4, steps=5).shape == (4, 12)


def test_dbn_gaussian_visible_layer():
    dbn = DBN([5, 4, 3], gaussian_visible=True)
    assert isinstance(dbn.rbms[0], GaussianBernoulliRBM)
    assert isinstance(dbn.rbms[1], BernoulliRBM)


# -- Boltzmann machine --------------------------------------------------------------------------
def _tiny_bm(n_visible, n_hidden=0, seed=0):
    rng = np.random.default_rng(seed)
    bm = BoltzmannMachine(n_visible, n_hidden)
    n = n_visible + n_hidden
    w = rng.normal(0, 1.0, (n, n))
    w = (w + w.T) / 2
    np.fill_diagonal(w, 0)
    with nr.no_grad():
        bm.W.copy_(nr.tensor(w, dtype=nr.float32))
        bm.b.copy_(nr.tensor(rng.normal(0, 1.0, n), dtype=nr.float32))
    return bm


def test_boltzmann_exact_distribution_brute_force():
    bm = _tiny_bm(3)
    W, b = bm.W.detach().numpy().astype(np.float64), bm.b.detach().numpy()
    S = _states(3)
    un = np.exp([0.5 * s @ W @ s + b @ s for s in S])
    np.testing.assert_allclose(bm.exact_distribution().numpy(), un / un.sum(), rtol=1e-5)


@pytest.mark.parametrize("n_visible,n_hidden", [(4, 0), (2, 2)])
def test_boltzmann_gibbs_converges_to_exact_distribution(n_visible, n_hidden):
    bm = _tiny_bm(n_visible, n_hidden, seed=1)
    samples = bm.sample(n_chains=400, sweeps=40, collect_after=10)
    emp = empirical_distribution(samples).numpy()
    exact = bm.exact_distribution().numpy()
    assert 0.5 * np.abs(emp - exact).sum() < 0.04
    vis = empirical_distribution(samples[:, :n_visible]).numpy()
    assert 0.5 * np.abs(vis - bm.exact_visible_distribution().numpy()).sum() < 0.04


def test_boltzmann_weights_stay_symmetric_with_zero_diagonal():
    bm = BoltzmannMachine(3, 1)
    data = nr.tensor(_states(3)[[0, 3, 5, 6]], dtype=nr.float32)
    bm.learning_step(data, lr=0.5, sweeps=3, n_chains=50)
    W = bm.W.numpy()
    np.testing.assert_allclose(W, W.T, atol=1e-6)
    assert np.all(np.diag(W) == 0)


def test_boltzmann_learning_rule_fits_a_distribution():
    """Data drawn from a 3-unit BM: the learning rule with exact statistics converges to
    the maximum-likelihood model (KL -> ~0); with Gibbs statistics KL still falls."""
    teacher = _tiny_bm(3, seed=2)
    data = teacher.sample(n_chains=600, sweeps=20)
    bm = BoltzmannMachine(3)
    kl = bm.fit(data, epochs=150, lr=0.5, exact=True)
    assert kl[-1] < 0.01 < kl[0]
    bm2 = BoltzmannMachine(3)
    kl2 = bm2.fit(data, epochs=60, lr=0.2, sweeps=5, n_chains=300)
    assert kl2[-1] < 0.5 * kl2[0]


def test_boltzmann_with_hidden_units_learning_reduces_kl():
    data = nr.tensor(_states(3)[[0, 7, 0, 7, 3, 4]], dtype=nr.float32)   # parity-like
    bm = BoltzmannMachine(3, 2, init_std=0.5)
    kl = bm.fit(data, epochs=80, lr=0.5, exact=True)
    assert kl[-1] < 0.5 * kl[0]
