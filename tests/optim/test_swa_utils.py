"""narae.optim.swa_utils against torch.optim.swa_utils: averages, SWALR, update_bn."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.optim
from narae.optim import swa_utils

LIBS = {"narae": (nr, narae.optim, swa_utils), "torch": (torch, torch.optim,
                                                          torch.optim.swa_utils)}
_rng = np.random.default_rng(5)
X = _rng.standard_normal((6, 8, 3))   # 6 batches of 8
Y = _rng.standard_normal((6, 8, 2))


def _model(lib):
    """Linear -> BatchNorm1d -> tanh -> Linear in float64, torch's initial weights."""
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Tanh(),
                             torch.nn.Linear(4, 2)).double()
    if lib == "torch":
        return tm
    m = nr.nn.Sequential(nr.nn.Linear(3, 4), nr.nn.BatchNorm1d(4), nr.nn.Tanh(),
                         nr.nn.Linear(4, 2)).to(nr.float64)
    m.load_state_dict({k: nr.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return m


def _np(t):
    return t.detach().numpy().copy()


def _averaged(lib, **kw):
    """Train with SGD; fold the weights into an AveragedModel after every step."""
    m, optim, swa = LIBS[lib]
    model = _model(lib)
    for name in ("avg_fn", "multi_avg_fn"):
        if name in kw:
            factory, args = kw[name]
            kw[name] = getattr(swa, factory)(*args)
    avg = swa.AveragedModel(model, **kw)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    history = []
    for x, y in zip(X, Y):
        opt.zero_grad()
        loss = ((model(m.tensor(x)) - m.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        avg.update_parameters(model)
        history.append({k: _np(v) for k, v in avg.state_dict().items()})
    return history, avg


AVERAGES = [dict(), dict(use_buffers=True),
            dict(multi_avg_fn=("get_ema_multi_avg_fn", (0.9,))),
            dict(multi_avg_fn=("get_ema_multi_avg_fn", (0.7,)), use_buffers=True),
            dict(multi_avg_fn=("get_swa_multi_avg_fn", ())),
            dict(avg_fn=("get_ema_avg_fn", (0.8,)), use_buffers=True),
            dict(avg_fn=("get_swa_avg_fn", ()))]


@pytest.mark.parametrize("kw", AVERAGES, ids=str)
def test_averaged_model_matches_torch(kw):
    ours, avg = _averaged("narae", **dict(kw))
    theirs, tavg = _averaged("torch", **dict(kw))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert list(a) == list(b)
        for key in b:
            assert a[key].dtype == b[key].dtype, key
            np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-12,
                                       err_msg=f"update {k + 1}, {key}")
    assert int(avg.n_averaged) == len(X) and isinstance(avg.module, nr.nn.Sequential)
    # the averaged model runs like the wrapped one
    x = X[0]
    avg.eval()
    tavg.eval()
    np.testing.assert_allclose(_np(avg(nr.tensor(x))), _np(tavg(torch.tensor(x))), rtol=1e-9)


def test_average_values_by_hand():
    """SWA is the plain mean of the folded weights; EMA the exponential one."""
    lin = nr.nn.Linear(2, 1, bias=False)
    swa = swa_utils.AveragedModel(lin)
    ema = swa_utils.AveragedModel(lin, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.5))
    seen = []
    for v in (1.0, 2.0, 6.0):
        with nr.no_grad():
            lin.weight.fill_(v)
        seen.append(v)
        swa.update_parameters(lin)
        ema.update_parameters(lin)
    np.testing.assert_allclose(swa.module.weight._data, np.mean(seen), rtol=1e-6)
    np.testing.assert_allclose(ema.module.weight._data, (1 * 0.5 + 2 * 0.5) * 0.5 + 6 * 0.5)
    assert list(swa.state_dict()) == ["n_averaged", "module.weight"]


def _lrs(lib, steps=14, **kw):
    m, optim, swa = LIBS[lib]
    w = m.zeros(2, requires_grad=True)
    v = m.zeros(2, requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": [v], "lr": 0.3}], lr=1.0)
    sched = swa.SWALR(opt, **kw)
    out = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return out, sched, opt


@pytest.mark.parametrize("kw", [dict(swa_lr=0.05), dict(swa_lr=0.05, anneal_strategy="linear"),
                                dict(swa_lr=[0.05, 0.5], anneal_epochs=4),
                                dict(swa_lr=0.2, anneal_epochs=0),
                                dict(swa_lr=0.2, anneal_epochs=1, anneal_strategy="linear")],
                         ids=str)
def test_swalr_matches_torch(kw):
    ours, sched, opt = _lrs("narae", **kw)
    theirs, tsched, topt = _lrs("torch", **kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert [g["swa_lr"] for g in opt.param_groups] == [g["swa_lr"] for g in topt.param_groups]
    sd, tsd = sched.state_dict(), tsched.state_dict()
    assert set(tsd) - {"_get_lr_called_within_step"} <= set(sd)
    assert "anneal_func" not in sd and "optimizer" not in sd
    for key in ("anneal_epochs", "_anneal_strategy", "last_epoch", "_step_count", "base_lrs"):
        assert sd[key] == tsd[key]


def test_swalr_state_dict_round_trip():
    _, sched, opt = _lrs("narae", steps=3, swa_lr=0.1, anneal_strategy="linear")
    again = swa_utils.SWALR(opt, swa_lr=0.4)
    again.load_state_dict(sched.state_dict())
    assert again.anneal_func(0.25) == 0.25 and again.anneal_epochs == 10


def _bn_after_update(lib, loader_kind):
    m, _, swa = LIBS[lib]
    model = _model(lib)
    model[1].momentum = 0.3
    model.eval()
    xs = [m.tensor(x) for x in X[:4]]
    loader = {"tensors": xs, "pairs": [(x, m.tensor(y)) for x, y in zip(xs, Y)],
              "lists": [[x] for x in xs]}[loader_kind]
    swa.update_bn(loader, model)
    assert not model.training and model[1].momentum == 0.3
    return {k: _np(v) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("loader_kind", ["tensors", "pairs", "lists"])
def test_update_bn_matches_torch(loader_kind):
    ours = _bn_after_update("narae", loader_kind)
    theirs = _bn_after_update("torch", loader_kind)
    assert list(ours) == list(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-9, atol=1e-12, err_msg=key)
    assert int(ours["1.num_batches_tracked"]) == 4


def test_update_bn_device_and_no_batchnorm():
    model = nr.nn.Linear(3, 2)
    swa_utils.update_bn([nr.ones(2, 3)], model)   # nothing to do
    bn = nr.nn.BatchNorm1d(3)
    swa_utils.update_bn([nr.tensor(X[0])], bn, device="cpu")
    np.testing.assert_allclose(bn.running_mean._data, X[0].mean(0), rtol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided"):
        swa_utils.get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match=r"Invalid decay value -0.1 provided"):
        swa_utils.get_ema_avg_fn(-0.1)
    lin = nr.nn.Linear(2, 1)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(lin, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    opt = narae.optim.SGD(lin.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', "
                                         "instead got step"):
        swa_utils.SWALR(opt, 0.1, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        swa_utils.SWALR(opt, 0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length as "
                                         "optimizer.param_groups"):
        swa_utils.SWALR(opt, [0.1, 0.2])
    # torch refuses to average integer buffers (num_batches_tracked) this way too
    bn = nr.nn.BatchNorm1d(2)
    avg = swa_utils.AveragedModel(bn, multi_avg_fn=swa_utils.get_swa_multi_avg_fn(),
                                  use_buffers=True)
    avg.update_parameters(bn)
    with pytest.raises(RuntimeError, match=r"integer dtype narae.int64 \(shape \(\)\)"):
        avg.update_parameters(bn)
    assert narae.optim.swa_utils is swa_utils and "swa_utils" in narae.optim.__all__
