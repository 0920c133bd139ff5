"""The one-launch (multi-tensor) SGD and Adam updates, run on the CPU by the kernel emulator:
the same trajectories as torch.optim, device-side step counts, checkpoints both ways."""
import numpy as np
import pytest

import narae as nr
import narae.optim
from narae.backend import capture, kernels
from optim_common import assert_same_trajectory, make_params, trajectory

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.05, maximize=True, eps=1e-6)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
]


def _fused_trajectory(name, kw, dtype, steps=25):
    with kernels.emulate():
        out, params, opt = trajectory("narae", name, kw, steps=steps, dtype=dtype)
    return out, params, opt


@pytest.mark.parametrize("name,kw", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_trajectory_matches_torch(name, kw, dtype):
    ours, _, opt = _fused_trajectory(name, kw, dtype)
    assert opt.__dict__.get("_fused_cache"), "the fused path did not run"
    theirs, _, _ = trajectory("torch", name, kw, steps=25, dtype=dtype)
    tol = dict(rtol=1e-9, atol=1e-11) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    assert_same_trajectory(ours, theirs, **tol)


def test_fused_equals_per_tensor_path():
    fused, _, _ = _fused_trajectory("Adam", dict(lr=0.05, weight_decay=0.01), np.float64)
    plain, _, _ = trajectory("narae", "Adam", dict(lr=0.05, weight_decay=0.01), steps=25)
    assert_same_trajectory(fused, plain, rtol=1e-12, atol=1e-14)


def test_fused_false_keeps_the_per_tensor_path():
    with kernels.emulate():
        _, _, opt = trajectory("narae", "Adam", dict(lr=0.05, fused=False), steps=2)
    assert not opt.__dict__.get("_fused_cache")


def test_step_counts_live_in_one_device_array_and_checkpoint_both_ways():
    _, params, opt = _fused_trajectory("Adam", dict(lr=0.05), np.float32, steps=5)
    steps = [opt.state[p]["step"] for p in params]
    assert all(isinstance(s, nr.Tensor) and s.shape == () for s in steps)
    assert [float(s) for s in steps] == [5.0, 5.0]
    sd = opt.state_dict()
    # into a per-tensor optimizer (as on a CPU-only machine): continues from step 5
    fresh = make_params("narae", np.float32)
    for p, q in zip(fresh, params):
        p.data = q.detach().clone()
    plain = narae.optim.Adam(fresh, lr=0.05)
    plain.load_state_dict(sd)
    cont_plain, _, _ = trajectory("narae", "Adam", {}, steps=3, params=fresh, opt=plain)
    assert plain.state[fresh[0]]["step"] == 8
    # and the fused optimizer itself continues the same way
    with kernels.emulate():
        cont_fused, _, _ = trajectory("narae", "Adam", {}, steps=3, params=params, opt=opt)
    assert_same_trajectory(cont_fused, cont_plain, rtol=1e-5, atol=1e-6)
    assert float(opt.state[params[0]]["step"]) == 8.0


def test_lr_change_reaches_the_device_hyper_parameters():
    with kernels.emulate():
        _, params, opt = trajectory("narae", "SGD", dict(lr=0.1, momentum=0.9), steps=3)
        sched = narae.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        sched.step()
        trajectory("narae", "SGD", {}, steps=1, params=params, opt=opt)
    part = next(iter(opt._fused_cache.values()))
    assert part.hyper.device[0] == pytest.approx(0.05)


def test_non_fused_step_inside_a_capture_is_an_error():
    params = make_params("narae", np.float64)
    opt = narae.optim.Adam(params, lr=0.1)
    params[0].grad = nr.ones_like(params[0])
    capture.begin("test")
    try:
        with pytest.raises(RuntimeError, match="needs the fused CUDA update"):
            opt.step()
    finally:
        capture.end()
