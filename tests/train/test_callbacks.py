"""The stock callbacks, each driven by a real (small) fit on digits."""
import csv
import glob
import io
import math
import os

import numpy as np
import pytest

import narae.nn as nn
import narae.optim as optim
from narae.io import load_checkpoint, load
from narae.train import (fit, EarlyStopping, ModelCheckpoint, TensorBoard, CSVLogger,
                         LearningRateScheduler, GradientMonitor, TerminateOnNaN,
                         LambdaCallback, plot_history)

from train_helpers import make_mlp, weights
from tb_reader import events, scalars


def _script(values, key="val_loss"):
    """A callback that overwrites logs[key] with a scripted value per epoch, and snapshots
    the weights each epoch, so stopping/saving decisions are deterministic."""
    snaps = []

    def on_epoch_end(epoch, logs):
        logs[key] = values[epoch]
        snaps.append(weights(cb.model))
    cb = LambdaCallback(on_epoch_end=on_epoch_end)
    return cb, snaps


def _fit(small, callbacks, epochs, **kw):
    x, y, xv, yv = small
    model = make_mlp()
    opt = optim.SGD(model.parameters(), lr=0.05)
    h = fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=epochs,
            val_data=(xv, yv), metrics=["accuracy"], callbacks=callbacks, batch_size=64,
            verbose=0, **kw)
    return model, opt, h


def test_early_stopping_stops_and_restores_best_weights(small):
    script, snaps = _script([1.0, 0.5, 0.6, 0.7, 0.55, 0.4, 0.3])
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model, _, h = _fit(small, [script, es], epochs=7)
    assert h.epoch == [0, 1, 2, 3]             # best at epoch 1, then 2 epochs of patience
    assert es.stopped_epoch == 3 and es.best_epoch == 1 and es.best == 0.5
    final = weights(model)
    for k, v in snaps[1].items():
        np.testing.assert_array_equal(final[k], v)
    assert not np.array_equal(final["0.weight"], snaps[3]["0.weight"])


def test_early_stopping_mode_and_min_delta(small):
    script, _ = _script([0.5, 0.52, 0.525, 0.9], key="val_accuracy")
    es = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.01)  # mode auto: max
    _, _, h = _fit(small, [script, es], epochs=4)
    assert es.mode == "max" and h.epoch == [0, 1, 2]


def test_model_checkpoint_best_and_last_reload(small, tmp_path):
    script, snaps = _script([0.9, 0.4, 0.7])
    best = ModelCheckpoint(str(tmp_path / "best-{epoch:02d}-{val_loss:.2f}.safetensors"),
                           save_best_only=True)
    last = ModelCheckpoint(str(tmp_path / "last.safetensors"))
    weights_only = ModelCheckpoint(str(tmp_path / "w{epoch}.safetensors"),
                                   save_weights_only=True)
    model, opt, _ = _fit(small, [script, best, last, weights_only], epochs=3)
    assert sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "best-*"))) == \
        ["best-01-0.90.safetensors", "best-02-0.40.safetensors"]
    assert best.best_path.endswith("best-02-0.40.safetensors") and best.best == 0.4

    fresh, fresh_opt = make_mlp(), None
    info = load_checkpoint(best.best_path, fresh)
    assert info["epoch"] == 2 and info["extra"]["logs"]["val_loss"] == 0.4
    for k, v in weights(fresh).items():
        np.testing.assert_array_equal(v, snaps[1][k])

    fresh_opt = optim.SGD(fresh.parameters(), lr=123.0)
    info = load_checkpoint(tmp_path / "last.safetensors", fresh, fresh_opt)
    assert info["epoch"] == 3 and fresh_opt.param_groups[0]["lr"] == 0.05
    for k, v in weights(fresh).items():
        np.testing.assert_array_equal(v, weights(model)[k])

    sd = load(tmp_path / "w3.safetensors")
    assert set(sd) == set(model.state_dict())


def test_csv_logger_content_and_append(small, tmp_path):
    path = tmp_path / "log.csv"
    _, _, h = _fit(small, [CSVLogger(path)], epochs=2)
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    for i, r in enumerate(rows[1:]):
        for key, value in zip(rows[0][1:], r[1:]):
            assert float(value) == pytest.approx(h.history[key][i])
    _fit(small, [CSVLogger(path, append=True)], epochs=1)
    rows = list(csv.reader(open(path)))
    assert len(rows) == 4 and rows[0][0] == "epoch" and rows[3][0] == "0"


def test_tensorboard_callback_writes_parseable_logs(small, tmp_path):
    x = small[0]
    tb = TensorBoard(tmp_path, histogram_freq=1, update_freq=2, write_images=True,
                     sample_images=x[:6].reshape(6, 8, 8))
    model, _, h = _fit(small, [tb], epochs=2)
    s = scalars(tmp_path / "train")
    assert [v for _, v in s["epoch_loss"]] == pytest.approx(h.history["loss"], rel=1e-6)
    assert [st for st, _ in s["epoch_loss"]] == [0, 1]
    assert [v for _, v in s["epoch_accuracy"]] == pytest.approx(h.history["accuracy"])
    assert [v for _, v in s["epoch_lr"]] == pytest.approx(h.history["lr"])
    val = scalars(tmp_path / "validation")
    assert [v for _, v in val["epoch_loss"]] == pytest.approx(h.history["val_loss"], rel=1e-6)
    assert [st for st, _ in s["batch_loss"]] == [2, 4, 6, 8]   # 4 batches/epoch, every 2nd
    train_file = glob.glob(str(tmp_path / "train" / "*tfevents*"))[0]
    tags = [v["tag"] for e in events(train_file) for v in e.get("values", [])]
    for name, _ in model.named_parameters():
        assert tags.count(name) == 2 and tags.count(f"{name}/grad") == 2
    assert "samples" in tags and "0.weight/image" in tags
    histo = [v["histo"] for e in events(train_file) for v in e.get("values", [])
             if v["tag"] == "0.weight"][-1]
    assert histo["num"] == 32 * 64


def test_gradient_monitor_records_per_layer_norms(small):
    manual = []

    def record(batch, logs):
        manual.append({n: float(np.sqrt(sum((p.grad.numpy().astype(np.float64) ** 2).sum()
                                            for p in layer.parameters())))
                       for n, layer in (("0", mon.model[0]), ("2", mon.model[2]))})
    mon = GradientMonitor()
    spy = LambdaCallback(on_after_backward=record)
    _fit(small, [mon, spy], epochs=2)
    assert mon.steps == list(range(8)) and set(mon.norms) == {"0", "2"}
    for layer in ("0", "2"):
        np.testing.assert_allclose(mon.norms[layer], [m[layer] for m in manual], rtol=1e-6)
    lo, mean, hi = mon.summary()["0"]
    assert lo <= mean <= hi


def test_gradient_monitor_exposes_vanishing_gradients(small, tmp_path):
    x, y, _, _ = small
    layers = [nn.Linear(64, 16), nn.Sigmoid()]
    for _ in range(8):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(16, 10))
    mon = GradientMonitor(vanish=1e-4, log_dir=tmp_path)
    fit(model, (x[:64], y[:64]), loss=nn.CrossEntropyLoss(),
        optimizer=optim.SGD(model.parameters(), lr=0.01), epochs=1, batch_size=32,
        callbacks=[mon], verbose=0)
    first, last = mon.norms["0"][0], mon.norms[str(len(layers))][0]
    assert first < last * 1e-3                  # the gradient dies on the way down
    assert any(w[1] == "0" and w[2] == "vanishing" for w in mon.warnings)
    assert "grad_norm/0" in scalars(tmp_path)


def test_terminate_on_nan_names_the_batch(small):
    calls = {"n": 0}
    ce = nn.CrossEntropyLoss()

    def flaky_loss(out, target):
        calls["n"] += 1
        loss = ce(out, target)
        return loss * float("nan") if calls["n"] == 3 else loss
    err = io.StringIO()
    guard = TerminateOnNaN(stream=err)
    x, y, _, _ = small
    model = make_mlp()
    h = fit(model, (x, y), loss=flaky_loss, optimizer=optim.SGD(model.parameters(), lr=0.1),
            epochs=3, batch_size=64, callbacks=[guard], verbose=0)
    assert calls["n"] == 3 and h.epoch == [0]
    assert guard.message == "TerminateOnNaN: loss is nan at epoch 1, batch 3; stopping training"
    assert guard.message in err.getvalue()
    assert math.isnan(h.history["loss"][0])


def test_learning_rate_scheduler(small):
    sched = LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)
    _, opt, h = _fit(small, [sched], epochs=3)
    assert h.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    one_arg = LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    _, _, h = _fit(small, [one_arg], epochs=2)
    assert h.history["lr"] == pytest.approx([0.01, 0.02])


def test_history_files_and_plot(small, tmp_path):
    _, _, h = _fit(small, [], epochs=2)
    h.to_json(tmp_path / "h.json")
    h2 = type(h).from_json(tmp_path / "h.json")
    assert h2.history == h.history and h2.epoch == h.epoch
    assert h.to_csv().splitlines()[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr"
    pytest.importorskip("matplotlib")
    plot_history(h, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
