"""save_checkpoint / load_checkpoint with real narae.nn modules and narae.optim optimizers."""
import numpy as np
import pytest

import narae as nr
import narae.nn as nn
import narae.optim as optim
from narae.io import save_checkpoint, load_checkpoint, save


def _model():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _step(model, opt, x, y):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def test_resume_continues_exactly(tmp_path):
    x, y = nr.randn(16, 4), nr.randint(0, 3, (16,))
    model = _model()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        _step(model, opt, x, y)
    sched.step()
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, model, opt, epoch=3, scheduler=sched, config={"hidden": 8},
                    note="hello")

    nr.manual_seed(123)  # different initial weights
    model2 = _model()
    opt2 = optim.Adam(model2.parameters(), lr=1.0)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=1, gamma=0.5)
    info = load_checkpoint(path, model2, opt2, scheduler=sched2)
    assert info["epoch"] == 3 and info["extra"] == {"config": {"hidden": 8}, "note": "hello"}
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 5e-3
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    # the optimizer state (Adam moments, step counts) came back too: the next steps agree
    for _ in range(2):
        assert _step(model, opt, x, y) == _step(model2, opt2, x, y)
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_missing_optimizer_state_and_bare_state_dicts(tmp_path):
    model = _model()
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model)
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(path, _model(), optim.SGD(model.parameters(), lr=0.1))
    bare = tmp_path / "bare.safetensors"
    save(model.state_dict(), bare)
    other = _model()
    info = load_checkpoint(bare, other)
    assert info["epoch"] is None
    np.testing.assert_array_equal(other[0].weight.detach().numpy(),
                                  model[0].weight.detach().numpy())


def test_rng_state_round_trip(tmp_path):
    model = _model()
    nr.manual_seed(7)
    save_checkpoint(tmp_path / "r.safetensors", model)
    a = nr.randn(3).numpy()
    nr.manual_seed(99)
    load_checkpoint(tmp_path / "r.safetensors", model, restore_rng=True)
    np.testing.assert_array_equal(nr.randn(3).numpy(), a)


def test_two_epochs_equal_one_epoch_save_load_one_epoch(tmp_path):
    """Resuming from a checkpoint is bit-identical: shuffling and dropout masks included."""
    from narae.train import fit
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6)).astype(np.float32)
    y = rng.integers(0, 3, 96)

    def model_and_opt():
        m = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
        return m, optim.SGD(m.parameters(), lr=0.1, momentum=0.9)

    def train(m, opt, epochs):
        fit(m, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=epochs,
            batch_size=16, shuffle=True, verbose=0)

    nr.manual_seed(5)
    straight, opt = model_and_opt()
    train(straight, opt, 2)

    nr.manual_seed(5)
    first, opt = model_and_opt()
    train(first, opt, 1)
    path = tmp_path / "epoch1.safetensors"
    save_checkpoint(path, first, opt, epoch=1)
    nr.manual_seed(999)  # a fresh process would start elsewhere
    resumed, opt2 = model_and_opt()
    load_checkpoint(path, resumed, opt2, restore_rng=True)
    train(resumed, opt2, 1)
    for (k, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
