"""Each scheduler produces exactly torch's learning rates (and momenta), step for step."""
import pickle

import numpy as np
import pytest
import torch

import narae as nr
import narae.optim as optim
from narae.optim import lr_scheduler


def _optimizers(name="SGD", **kw):
    kw = kw or dict(lr=0.1, momentum=0.9)
    ours_p = [nr.zeros(2, requires_grad=True), nr.zeros(3, requires_grad=True)]
    theirs_p = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    groups = lambda ps: [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.03}]  # noqa: E731
    return (getattr(optim, name)(groups(ours_p), **kw),
            getattr(torch.optim, name)(groups(theirs_p), **kw))


def _lrs_and_momenta(opt):
    return [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]


def _compare(sched_name, kwargs, steps=30, opt_name="SGD", opt_kw=None):
    ours_opt, theirs_opt = _optimizers(opt_name, **(opt_kw or {}))
    ours = getattr(lr_scheduler, sched_name)(ours_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, sched_name)(theirs_opt, **kwargs)
    assert ours.get_last_lr() == theirs.get_last_lr()
    for k in range(steps):
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr(), f"step {k + 1}"
        assert _lrs_and_momenta(ours_opt) == _lrs_and_momenta(theirs_opt), f"step {k + 1}"
        assert ours.last_epoch == theirs.last_epoch
    return ours, theirs


CASES = [
    ("StepLR", dict(step_size=4)),
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),  # 30 steps: past T_max, the lr climbs back
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.8, total_iters=12)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e))),
    ("LambdaLR", dict(lr_lambda=[lambda e: 0.9 ** e, lambda e: e % 3 + 1])),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=30)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=31, anneal_strategy="linear",
                        pct_start=0.25)),
    ("OneCycleLR", dict(max_lr=0.8, epochs=3, steps_per_epoch=10, three_phase=True,
                        div_factor=10.0, final_div_factor=100.0)),
    ("OneCycleLR", dict(max_lr=0.8, total_steps=30, cycle_momentum=False)),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.95)),
    ("MultiplicativeLR", dict(lr_lambda=[lambda e: 0.9, lambda e: 1.0 + 0.01 * (e % 2)])),
    ("ConstantLR", dict()),
    ("ConstantLR", dict(factor=0.5, total_iters=8)),
    ("PolynomialLR", dict()),
    ("PolynomialLR", dict(total_iters=20, power=2.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4)),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3, step_size_down=5,
                      mode="triangular2", base_momentum=0.7, max_momentum=0.95)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range",
                      gamma=0.97, cycle_momentum=False)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2,
                      scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations")),
]


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_lr_sequence_matches_torch(name, kw):
    steps = min(30, kw.get("total_steps", 30) - 1) if name == "OneCycleLR" else 30
    _compare(name, kw, steps=steps)


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_cycles_adam_beta1(three_phase):
    _compare("OneCycleLR", dict(max_lr=0.01, total_steps=20, three_phase=three_phase,
                                base_momentum=0.8, max_momentum=0.9),
             steps=19, opt_name="Adam", opt_kw=dict(lr=1e-3, betas=(0.9, 0.99)))


def test_one_cycle_errors():
    ours_opt, _ = _optimizers()
    with pytest.raises(ValueError, match="total_steps"):
        lr_scheduler.OneCycleLR(ours_opt, max_lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(ours_opt, max_lr=1.0, total_steps=5, anneal_strategy="exp")
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(ours_opt, max_lr=1.0, total_steps=5, pct_start=1.5)
    ours_opt, _ = _optimizers("Adagrad", lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        lr_scheduler.OneCycleLR(ours_opt, max_lr=1.0, total_steps=5)
    ours_opt, _ = _optimizers()
    s = lr_scheduler.OneCycleLR(ours_opt, max_lr=1.0, total_steps=3)
    s.step()
    s.step()
    s.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        s.step()


METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.9, 0.89, 0.9, 0.92, 0.93, 0.94, 0.88, 0.89, 0.9,
           0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]


@pytest.mark.parametrize("kw", [
    dict(patience=2), dict(mode="max", patience=1, factor=0.5),
    dict(patience=1, threshold=0.05, threshold_mode="abs", cooldown=2),
    dict(patience=0, factor=0.5, min_lr=[0.02, 0.01]),
    dict(patience=0, factor=0.5, min_lr=0.01, eps=1e-3),
    dict(mode="max", threshold_mode="abs", threshold=0.0, patience=3),
])
def test_reduce_on_plateau_matches_torch(kw):
    ours_opt, theirs_opt = _optimizers()
    ours = lr_scheduler.ReduceLROnPlateau(ours_opt, **kw)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kw)
    for k, m in enumerate(METRICS):
        ours.step(m)
        theirs.step(m)
        assert ours.get_last_lr() == theirs.get_last_lr(), f"epoch {k + 1}"
        assert (ours.num_bad_epochs, ours.cooldown_counter, ours.best) == \
            (theirs.num_bad_epochs, theirs.cooldown_counter, theirs.best)


def test_reduce_on_plateau_errors():
    ours_opt, _ = _optimizers()
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(ours_opt, factor=1.0)
    with pytest.raises(ValueError, match="mode sideways is unknown"):
        lr_scheduler.ReduceLROnPlateau(ours_opt, mode="sideways")
    with pytest.raises(ValueError, match="threshold mode"):
        lr_scheduler.ReduceLROnPlateau(ours_opt, threshold_mode="pct")
    with pytest.raises(ValueError, match="expected 2 min_lrs"):
        lr_scheduler.ReduceLROnPlateau(ours_opt, min_lr=[0.1])


def test_scheduler_state_dict_round_trip():
    ours_opt, _ = _optimizers()
    ref = lr_scheduler.CosineAnnealingLR(ours_opt, T_max=9)
    expected = []
    for _ in range(12):
        ref.step()
        expected.append(ref.get_last_lr())

    opt, _ = _optimizers()
    s = lr_scheduler.CosineAnnealingLR(opt, T_max=9)
    for _ in range(5):
        s.step()
    sd = pickle.loads(pickle.dumps(s.state_dict()))
    assert "optimizer" not in sd and sd["last_epoch"] == 5
    opt2, _ = _optimizers()
    s2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=9)
    s2.load_state_dict(sd)
    for g, lr in zip(opt2.param_groups, s2.get_last_lr()):
        g["lr"] = lr  # the optimizer's own state_dict would restore these
    got = []
    for _ in range(7):
        s2.step()
        got.append(s2.get_last_lr())
    assert got == expected[5:]


def test_plateau_state_dict_round_trip():
    opt, _ = _optimizers()
    s = lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for m in METRICS[:6]:
        s.step(m)
    opt2, _ = _optimizers()
    s2 = lr_scheduler.ReduceLROnPlateau(opt2)
    s2.load_state_dict(s.state_dict())
    assert (s2.patience, s2.best, s2.num_bad_epochs, s2.mode) == \
        (s.patience, s.best, s.num_bad_epochs, s.mode)


def test_lambda_state_dict_keeps_callable_objects_state():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, e):
            return min(1.0, (e + 1) / self.n)

    opt, _ = _optimizers()
    s = lr_scheduler.LambdaLR(opt, [Warmup(4), lambda e: 1.0])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"n": 4}, None]
    opt2, _ = _optimizers()
    w = Warmup(10)
    s2 = lr_scheduler.LambdaLR(opt2, [w, lambda e: 1.0])
    s2.load_state_dict(sd)
    assert w.n == 4


def test_closed_form_with_epoch_argument_matches_torch():
    ours_opt, theirs_opt = _optimizers()
    ours = lr_scheduler.StepLR(ours_opt, step_size=3, gamma=0.5)
    theirs = torch.optim.lr_scheduler.StepLR(theirs_opt, step_size=3, gamma=0.5)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for e in (4, 9, 2):
            theirs_opt.step()
            ours.step(e)
            theirs.step(e)
            assert ours.get_last_lr() == theirs.get_last_lr()


def test_schedulers_drive_training():
    """The lr a scheduler sets is the one the optimizer uses at its next step."""
    w = nr.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    s = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for lr in (1.0, 0.5, 0.25):
        opt.zero_grad()
        before = w._data.copy()
        (w * 1.0).sum().backward()
        opt.step()
        np.testing.assert_allclose(before - w._data, [lr])
        s.step()


def test_requires_an_optimizer():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)
    opt, _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=1, last_epoch=3)


def test_cyclic_lr_cycles_adam_beta1():
    _compare("CyclicLR", dict(base_lr=0.001, max_lr=0.01, step_size_up=3), opt_name="Adam",
             opt_kw=dict(lr=0.01))


def test_cyclic_lr_needs_momentum():
    opt, _ = _optimizers("Adagrad", lr=0.1)
    with pytest.raises(ValueError, match="must support momentum"):
        lr_scheduler.CyclicLR(opt, 0.01, 0.1)


def test_warm_restarts_with_fractional_epochs_match_torch():
    ours_opt, theirs_opt = _optimizers()
    ours = lr_scheduler.CosineAnnealingWarmRestarts(ours_opt, T_0=2, T_mult=3)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(theirs_opt, T_0=2, T_mult=3)
    for epoch in (0.25, 0.5, 1.75, 2.0, 3.5, 7.9, 8.0, 12.0, 30.2):
        theirs_opt.step()
        ours.step(epoch)
        theirs.step(epoch)
        assert ours.get_last_lr() == theirs.get_last_lr(), epoch
        assert (ours.T_cur, ours.T_i, ours.last_epoch) == (theirs.T_cur, theirs.T_i,
                                                           theirs.last_epoch)
    with pytest.raises(ValueError, match="non-negative epoch"):
        ours.step(-1)
    with pytest.raises(ValueError, match="positive integer T_0"):
        lr_scheduler.CosineAnnealingWarmRestarts(ours_opt, T_0=0)


def _pair(lib, opt, kind):
    """Child schedulers built the same way on both libraries."""
    sched = lib.optim.lr_scheduler
    if kind == "sequential":
        warmup = sched.LinearLR(opt, start_factor=0.1, total_iters=4)
        decay = sched.ExponentialLR(opt, gamma=0.9)
        cosine = sched.CosineAnnealingLR(opt, T_max=6)
        return sched.SequentialLR(opt, [warmup, decay, cosine], milestones=[4, 12])
    warm = sched.ConstantLR(opt, factor=0.25, total_iters=3)
    decay = sched.ExponentialLR(opt, gamma=0.8)
    return sched.ChainedScheduler([warm, decay])


@pytest.mark.parametrize("kind", ["sequential", "chained"])
def test_composite_schedulers_match_torch(kind):
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = _pair(nr, ours_opt, kind), _pair(torch, theirs_opt, kind)
    assert ours.get_last_lr() == theirs.get_last_lr()
    for k in range(25):
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr(), f"step {k + 1}"
        assert _lrs_and_momenta(ours_opt) == _lrs_and_momenta(theirs_opt), f"step {k + 1}"
    sd = ours.state_dict()
    assert "optimizer" not in sd and len(sd["_schedulers"]) == len(ours._schedulers)
    again_opt, _ = _optimizers()
    again = _pair(nr, again_opt, kind)
    again.load_state_dict(pickle.loads(pickle.dumps(sd)))
    assert [s.last_epoch for s in again._schedulers] == [s.last_epoch for s in ours._schedulers]


def test_composite_scheduler_errors():
    opt, _ = _optimizers()
    other, _ = _optimizers()
    a = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    b = lr_scheduler.ExponentialLR(other, gamma=0.9)
    with pytest.raises(ValueError, match="same optimizer"):
        lr_scheduler.ChainedScheduler([a, b])
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        lr_scheduler.SequentialLR(opt, [a], milestones=[3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(opt, [a, lr_scheduler.ReduceLROnPlateau(opt)], [2])
