"""narae.amp.GradScaler against torch.amp.GradScaler("cpu"): scale trajectories with injected
inf/NaN gradients (backoff, skipped steps, growth), unscale_ before clipping, checkpoints,
error states, and the disabled pass-through."""
import pickle
import warnings

import numpy as np
import pytest
import torch

import narae as nr
import narae.amp as amp
import narae.optim
from narae.backend import gpu_available
from helpers import randn

W0 = randn(3, 4).astype(np.float32)
B0 = randn(3).astype(np.float32)
X = randn(8, 4).astype(np.float32)
T = randn(8, 3).astype(np.float32)


class _Run:
    """One library's model (a linear layer), SGD optimizer and scaler."""

    def __init__(self, lib, **scaler_kw):
        self.lib = lib
        if lib is torch:
            self.params = [torch.tensor(W0, requires_grad=True), torch.tensor(B0,
                                                                              requires_grad=True)]
            self.opt = torch.optim.SGD(self.params, lr=0.05, momentum=0.9)
            self.scaler = torch.amp.GradScaler("cpu", **scaler_kw)
            self.x, self.t = torch.tensor(X), torch.tensor(T)
        else:
            self.params = [nr.tensor(W0, requires_grad=True), nr.tensor(B0, requires_grad=True)]
            self.opt = narae.optim.SGD(self.params, lr=0.05, momentum=0.9)
            self.scaler = amp.GradScaler("cpu", **scaler_kw)
            self.x, self.t = nr.tensor(X), nr.tensor(T)

    def loss(self):
        w, b = self.params
        return ((self.x @ w.T + b - self.t) ** 2).mean()

    def backward(self, poison=None):
        self.opt.zero_grad()
        self.scaler.scale(self.loss()).backward()
        if poison is not None:  # inject an overflowed gradient
            g = self.params[0].grad
            data = g.numpy() if self.lib is torch else g._data
            data[1, 2] = poison

    def step(self, poison=None):
        self.backward(poison)
        ret = self.scaler.step(self.opt)
        self.scaler.update()
        return ret

    def snapshot(self):
        return ([p.detach().numpy().copy() for p in self.params], self.scaler.get_scale(),
                self.scaler._get_growth_tracker())


POISON = {3: np.inf, 4: -np.inf, 9: np.nan, 15: np.inf}


def _assert_same(ours, theirs, step):
    (p_ours, s_ours, g_ours), (p_theirs, s_theirs, g_theirs) = ours, theirs
    assert s_ours == s_theirs, f"scale at step {step}"
    assert g_ours == g_theirs, f"growth tracker at step {step}"
    for a, b in zip(p_ours, p_theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"step {step}")


def test_scale_trajectory_matches_torch():
    kw = dict(init_scale=2.0 ** 8, growth_factor=4.0, backoff_factor=0.25, growth_interval=3)
    ours, theirs = _Run(nr, **kw), _Run(torch, **kw)
    assert ours.scaler.get_scale() == theirs.scaler.get_scale() == 256.0
    scales = []
    for step in range(22):
        before = ours.snapshot()[0]
        ours.step(POISON.get(step))
        theirs.step(POISON.get(step))
        _assert_same(ours.snapshot(), theirs.snapshot(), step)
        skipped = all(np.array_equal(a, b) for a, b in zip(before, ours.snapshot()[0]))
        assert skipped == (step in POISON), f"step {step}"
        scales.append(ours.scaler.get_scale())
    assert 2.0 ** 8 / 4 in scales and max(scales) > 2.0 ** 8  # backed off and grew


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_growth_stops_at_float32_overflow():
    kw = dict(init_scale=2.0 ** 126, growth_interval=1)
    ours, theirs = _Run(nr, **kw), _Run(torch, **kw)
    for step in range(4):  # the scaled loss overflows: every step backs off
        ours.step()
        theirs.step()
        _assert_same(ours.snapshot(), theirs.snapshot(), step)


def test_unscale_before_clipping_then_step():
    ours, theirs = _Run(nr), _Run(torch)
    for run in (ours, theirs):
        run.backward()
        run.scaler.unscale_(run.opt)
    for p, q in zip(ours.params, theirs.params):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
    nr.nn.utils.clip_grad_norm_(ours.params, 0.5)
    torch.nn.utils.clip_grad_norm_(theirs.params, 0.5)
    for run in (ours, theirs):
        run.scaler.step(run.opt)  # does not unscale a second time
        run.scaler.update()
    _assert_same(ours.snapshot(), theirs.snapshot(), 0)


def test_state_dict_round_trip():
    kw = dict(init_scale=2.0 ** 10, growth_interval=4)
    ours, theirs = _Run(nr, **kw), _Run(torch, **kw)
    for step in range(6):
        ours.step(POISON.get(step))
        theirs.step(POISON.get(step))
    state = ours.scaler.state_dict()
    assert state == theirs.scaler.state_dict()
    resumed = amp.GradScaler("cpu")
    assert resumed.state_dict()["scale"] == 2.0 ** 16
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state
    ours.scaler = resumed
    for step in range(6, 12):
        ours.step(POISON.get(step))
        theirs.step(POISON.get(step))
        _assert_same(ours.snapshot(), theirs.snapshot(), step)
    with pytest.raises(RuntimeError, match="empty"):
        amp.GradScaler("cpu").load_state_dict({})


def test_pickle_between_iterations():
    run = _Run(nr, init_scale=8.0, growth_interval=1)
    run.step()
    copy = pickle.loads(pickle.dumps(run.scaler))
    assert copy.state_dict() == run.scaler.state_dict()
    run.backward()
    run.scaler.unscale_(run.opt)
    with pytest.raises(RuntimeError, match="pickled"):
        pickle.dumps(run.scaler)


def test_two_optimizers_one_with_inf():
    w1, w2 = nr.ones(2, requires_grad=True), nr.ones(2, requires_grad=True)
    opt1, opt2 = narae.optim.SGD([w1], lr=1.0), narae.optim.SGD([w2], lr=1.0)
    scaler = amp.GradScaler("cpu", init_scale=4.0)
    scaler.scale((w1 * w1).sum() + (w2 * 3).sum()).backward()
    w1.grad._data[0] = np.nan
    scaler.step(opt1)
    scaler.step(opt2)
    scaler.update()
    np.testing.assert_array_equal(w1.detach().numpy(), [1, 1])     # skipped
    np.testing.assert_allclose(w2.detach().numpy(), [-2, -2])      # stepped, grad unscaled
    assert scaler.get_scale() == 2.0


def test_scale_outputs_and_dtypes():
    scaler = amp.GradScaler("cpu", init_scale=2.0 ** 16)
    loss16 = nr.tensor(3.0).half()
    scaled = scaler.scale(loss16)
    assert scaled.dtype == nr.float32 and scaled.item() == 3.0 * 2 ** 16  # no float16 overflow
    a, (b, c) = scaler.scale([nr.tensor(1.0), (nr.tensor(2.0), nr.tensor(0.5))])
    assert [a.item(), b.item(), c.item()] == [2.0 ** 16, 2.0 ** 17, 2.0 ** 15]
    with pytest.raises(ValueError):
        scaler.scale(1.0)


def test_update_with_new_scale():
    run = _Run(nr)
    run.step()
    run.scaler.update(new_scale=128.0)
    assert run.scaler.get_scale() == 128.0
    run.scaler.update(nr.tensor(0.1))
    assert run.scaler.get_scale() == float(np.float32(0.1))


def test_misuse_errors():
    run = _Run(nr)
    with pytest.raises(RuntimeError, match="scale"):
        run.scaler.step(run.opt)  # before scale()
    run.backward()
    run.scaler.unscale_(run.opt)
    with pytest.raises(RuntimeError, match="already been called"):
        run.scaler.unscale_(run.opt)
    run.scaler.step(run.opt)
    with pytest.raises(RuntimeError, match="after step"):
        run.scaler.unscale_(run.opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already"):
        run.scaler.step(run.opt)
    with pytest.raises(RuntimeError, match="Closure"):
        run.scaler.step(run.opt, closure=lambda: None)
    run.scaler.update()
    with pytest.raises(RuntimeError, match="No inf checks"):
        run.scaler.update()
    run.opt.zero_grad()
    run.scaler.scale(run.loss())  # no backward: nothing to check
    with pytest.raises(RuntimeError, match="No inf checks"):
        run.scaler.step(run.opt)
    with pytest.raises(ValueError):
        amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(ValueError):
        amp.GradScaler("cpu", backoff_factor=1.0)


def test_float16_gradients_are_refused():
    w = nr.ones(2, requires_grad=True).half().detach().requires_grad_()
    opt = narae.optim.SGD([w], lr=1.0)
    scaler = amp.GradScaler("cpu", init_scale=4.0)
    scaler.scale((w * w).sum()).backward()
    with pytest.raises(ValueError, match="FP16"):
        scaler.unscale_(opt)


def test_disabled_is_a_pass_through():
    run = _Run(nr, enabled=False)
    loss = run.loss()
    assert run.scaler.scale(loss) is loss
    loss.backward()
    assert run.scaler.step(run.opt) is None
    run.scaler.update()
    assert run.scaler.get_scale() == 1.0 and not run.scaler.is_enabled()
    assert run.scaler.state_dict() == {}
    assert not np.array_equal(run.params[0].detach().numpy(), W0)  # it stepped


@pytest.mark.skipif(gpu_available(), reason="checks the no-GPU fallback")
def test_cuda_scaler_without_gpu_warns_and_disables():
    with pytest.warns(UserWarning, match="CUDA is not available"):
        scaler = amp.GradScaler()
    assert not scaler.is_enabled()


def test_mixed_precision_training_loop():
    """autocast + GradScaler end to end: the loss goes down and the weights stay float32."""
    nr.manual_seed(0)
    model = nr.nn.Sequential(nr.nn.Linear(4, 16), nr.nn.ReLU(), nr.nn.Linear(16, 3))
    opt = narae.optim.Adam(model.parameters(), lr=1e-2)
    scaler = amp.GradScaler("cpu", init_scale=2.0 ** 20, growth_interval=5)
    rng = np.random.default_rng(0)
    x = nr.tensor(rng.standard_normal((32, 4)).astype(np.float32))
    t = nr.tensor(rng.standard_normal((32, 3)).astype(np.float32))
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # NumPy warns when a scaled float16 gradient overflows (inf, then inf * 0 = nan):
        # the event the scaler handles
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(40):
            opt.zero_grad()
            with amp.autocast("cpu", dtype=nr.float16):
                loss = nr.nn.functional.mse_loss(model(x), t)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
    assert scaler.get_scale() < 2.0 ** 20  # it backed off from the overflowing start
    assert losses[-1] < 0.7 * losses[0]
    assert all(p.dtype == nr.float32 for p in model.parameters())
