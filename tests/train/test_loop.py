"""fit / evaluate / predict on real data with narae.nn, narae.optim and narae.utils.data."""
import io

import numpy as np
import pytest

import narae as nr
import narae.nn as nn
import narae.optim as optim
from narae.train import fit, evaluate, predict, History, LambdaCallback, Callback
from narae.utils.data import TensorDataset, DataLoader

from train_helpers import make_mlp, weights


def test_fit_learns_digits_and_returns_history(digits):
    x, y, xv, yv = digits
    model = make_mlp(64)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    out = io.StringIO()
    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=4,
            val_data=(xv, yv), metrics=["accuracy"], batch_size=32, stream=out)
    assert isinstance(h, History) and h.epoch == [0, 1, 2, 3]
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 4 for v in h.history.values())
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert h.history["accuracy"][-1] > 0.9
    assert h.history["val_accuracy"][-1] > 0.85   # the held-out writers are harder
    assert h.history["lr"] == [3e-3] * 4
    # the epoch's validation numbers are what evaluate() says about the final weights
    res = evaluate(model, (xv, yv), loss=nn.CrossEntropyLoss(), metrics=["accuracy"])
    assert res["loss"] == pytest.approx(h.history["val_loss"][-1], rel=1e-5)
    assert res["accuracy"] == h.history["val_accuracy"][-1]
    assert len(out.getvalue().splitlines()) == 4   # not a TTY: one line per epoch


@pytest.mark.parametrize("kind", ["dataset", "loader", "tensors"])
def test_fit_accepts_datasets_loaders_and_tensors(small, kind):
    x, y, _, _ = small
    tx, ty = nr.tensor(x), nr.tensor(y)
    data = {"dataset": TensorDataset(tx, ty),
            "loader": DataLoader(TensorDataset(tx, ty), batch_size=64, shuffle=True),
            "tensors": (tx, ty)}[kind]
    model = make_mlp()
    h = fit(model, data, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=0.1),
            epochs=2, batch_size=64 if kind != "loader" else None, verbose=0)
    assert len(h.history["loss"]) == 2 and h.history["loss"][1] < h.history["loss"][0]


def test_model_mode_and_hook_order(small):
    x, y, xv, yv = small
    model = make_mlp()
    calls = []

    class Spy(Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(("epoch_begin", epoch))

        def on_train_batch_begin(self, batch, logs=None):
            assert self.model.training
            calls.append("batch")

        def on_test_batch_end(self, batch, logs=None):
            assert not self.model.training
            assert not nr.is_grad_enabled()
            calls.append("test_batch")

        def on_epoch_end(self, epoch, logs=None):
            calls.append(("epoch_end", epoch, sorted(logs)))

        def on_train_end(self, logs=None):
            calls.append("train_end")

    spy = Spy()
    fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), 0.1),
        epochs=2, val_data=(xv, yv), batch_size=128, callbacks=[spy], verbose=0)
    assert spy.params["epochs"] == 2 and spy.params["steps"] == 2
    assert calls == ["train_begin", ("epoch_begin", 0), "batch", "batch", "test_batch",
                     ("epoch_end", 0, ["loss", "lr", "val_loss"]), ("epoch_begin", 1), "batch",
                     "batch", "test_batch", ("epoch_end", 1, ["loss", "lr", "val_loss"]),
                     "train_end"]


def test_stop_training_flag_stops_after_the_batch(small):
    x, y, _, _ = small
    model = make_mlp()
    stopper = LambdaCallback(
        on_train_batch_end=lambda b, logs: setattr(model, "stop_training", b == 2))
    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=optim.SGD(model.parameters(), 0.1),
            epochs=5, batch_size=16, callbacks=[stopper], verbose=0)
    assert h.epoch == [0]


def test_predict_matches_forward_and_evaluate_reports_arrays(small):
    x, y, _, _ = small
    model = make_mlp()
    model.train()
    p = predict(model, x, batch_size=50)
    assert model.training                        # predict restores the mode
    with nr.no_grad():
        ref = model(nr.tensor(x)).numpy()
    np.testing.assert_allclose(p.numpy(), ref, rtol=1e-5, atol=1e-6)
    p2 = predict(model, TensorDataset(nr.tensor(x), nr.tensor(y)), batch_size=64)
    np.testing.assert_allclose(p2.numpy(), ref, rtol=1e-5, atol=1e-6)
    res = evaluate(model, (x, y), metrics=["accuracy", "confusion_matrix"], batch_size=100)
    assert "loss" not in res                     # no loss given
    assert res["confusion_matrix"].sum() == len(y)
    assert res["accuracy"] == pytest.approx((ref.argmax(1) == y).mean())


def test_schedulers_step_per_epoch_and_plateau_gets_the_monitored_value(small):
    x, y, xv, yv = small
    model = make_mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    seen = []

    class Plateau:  # a ReduceLROnPlateau look-alike that records what it is given
        def step(self, metrics, epoch=None):
            seen.append(metrics)

    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=3,
            val_data=(xv, yv), scheduler=[step, Plateau()], verbose=0)
    assert h.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert seen == h.history["val_loss"]


def test_reduce_lr_on_plateau_integration(small):
    x, y, _, _ = small
    model = make_mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=10.0)
    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=3, scheduler=sched,
            verbose=0)   # no val data: it watches the training loss, which never "improves"
    assert h.history["lr"][-1] < 0.1


def test_grad_clip_bounds_the_update(small):
    x, y, _, _ = small
    model = make_mlp()
    before = weights(model)
    fit(model, (x[:32], y[:32]), loss=nn.CrossEntropyLoss(),
        optimizer=optim.SGD(model.parameters(), lr=1.0), epochs=1, batch_size=32,
        grad_clip=1e-3, verbose=0)
    after = weights(model)
    total = np.sqrt(sum(((after[k] - before[k]) ** 2).sum() for k in before))
    assert 0 < total <= 1e-3 * 1.0001


def test_errors_are_clear(small):
    x, y, _, _ = small
    model = make_mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="different lengths"):
        fit(model, (x, y[:10]), loss="cross_entropy", optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match="unknown loss"):
        fit(model, (x, y), loss="nope", optimizer=opt, verbose=0)
    with pytest.raises(TypeError, match="DataLoader, a Dataset"):
        fit(model, 42, loss="cross_entropy", optimizer=opt, verbose=0)


def test_fit_compile_gives_the_same_history_and_weights(small):
    """compile=True runs each step through narae.compile (eager on the CPU, rules checked):
    the same history and weights as the eager loop, hook order aside."""
    x, y, xv, yv = small
    results = []
    for compiled in (False, True):
        nr.manual_seed(3)
        model = make_mlp()
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        seen = []
        spy = LambdaCallback(on_after_backward=lambda step, logs: seen.append(logs["batch_loss"]))
        h = fit(model, (x, y), loss="cross_entropy", optimizer=opt, epochs=2, batch_size=50,
                val_data=(xv, yv), metrics=["accuracy"], verbose=0, compile=compiled,
                callbacks=[spy], grad_clip=1.0)
        results.append((h.history, weights(model), seen))
    (h0, w0, s0), (h1, w1, s1) = results
    assert h0 == h1 and s0 == s1 and len(s0) == 12   # 256 / 50: five full batches + one of 6
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)


def test_fit_compile_reports_a_host_sync_in_the_step(small):
    x, y, _, _ = small
    model = make_mlp()

    def loss_with_sync(out, target):
        loss = nn.functional.cross_entropy(out, target)
        print(loss.item())
        return loss
    with pytest.raises(RuntimeError, match="Tensor.item.*narae.compile"):
        fit(model, (x, y), loss=loss_with_sync, optimizer=optim.SGD(model.parameters(), lr=0.1),
            epochs=1, batch_size=64, verbose=0, compile=True)


def test_fit_amp_float16_scales_the_loss_and_learns(digits):
    """amp="float16": autocast forward (float16 logits), float32 weights and gradients,
    dynamic loss scaling; it learns about as well as float32 on digits."""
    x, y, xv, yv = digits
    accs = {}
    for amp in (None, "float16"):
        nr.manual_seed(0)
        model = make_mlp(64)
        opt = optim.Adam(model.parameters(), lr=3e-3)
        h = fit(model, (x, y), loss="cross_entropy", optimizer=opt, epochs=3, batch_size=64,
                val_data=(xv, yv), metrics=["accuracy"], verbose=0, amp=amp, grad_clip=5.0)
        accs[amp] = h.history["val_accuracy"][-1]
        assert all(p.dtype == nr.float32 for p in model.parameters())
    assert accs["float16"] > 0.9 and abs(accs["float16"] - accs[None]) < 0.03


def test_fit_amp_arguments(small):
    x, y, _, _ = small
    model = make_mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, (x, y), loss="cross_entropy", optimizer=opt, compile=True, amp="float16",
            verbose=0, epochs=2)       # loss scaling inside the compiled step
    assert h.history["loss"][1] < h.history["loss"][0]
    with pytest.raises(ValueError, match="amp must be float16 or bfloat16"):
        fit(model, (x, y), loss="cross_entropy", optimizer=opt, amp="float64", verbose=0)
