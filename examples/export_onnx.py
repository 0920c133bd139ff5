"""Export a narae model to ONNX and run it with onnxruntime.

``narae.onnx.export`` runs the model once on example inputs and records every op it calls
(as torch.onnx's tracing exporter does). Parameters are stored under their ``state_dict``
names, and ``dynamic_axes`` keeps the batch size free, so the file is run here on a batch
of another size than the one it was traced with. The script builds a LeNet-5 for the 8x8
digits (its resize to 28x28 becomes an ONNX Resize node), exports it and prints the largest
difference between onnxruntime's logits and narae's. Nothing is trained: export needs no
training, and the untrained weights make the comparison just as strict.

    pip install 'narae[onnx]'
    python examples/export_onnx.py [--out lenet.onnx]
"""
import argparse
import os
import tempfile

import numpy as np

import narae as nr
from narae.datasets import Digits
from narae.models import lenet5


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="where to write the .onnx file "
                    "(default: a temporary file)")
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()
    try:
        import onnxruntime as ort
    except ImportError:
        raise SystemExit("this example needs onnxruntime: pip install 'narae[onnx]'")

    nr.manual_seed(0)
    model = lenet5(num_classes=10, in_channels=1, input_size=8).eval()
    images = Digits(train=False).tensors()[0]          # (N, 1, 8, 8) in [0, 1]
    example = images[:2]                              # traced with a batch of 2...
    path = args.out or os.path.join(tempfile.mkdtemp(), "lenet_digits.onnx")
    nr.onnx.export(model, (example,), path, input_names=["image"], output_names=["logits"],
                   dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                   opset_version=args.opset)
    size = os.path.getsize(path)

    import onnx
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f"wrote {path} ({size / 1024:.1f} KiB, opset {args.opset}): "
          f"{len(proto.graph.node)} nodes, ops {', '.join(ops)}")

    batch = images[:64]                               # ...and run on a batch of 64
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": batch.numpy()})[0]
    with nr.no_grad():
        want = model(batch).numpy()
    diff = float(np.abs(got - want).max())
    same = float((got.argmax(1) == want.argmax(1)).mean())
    print(f"onnxruntime vs narae on {len(batch)} digits: max |difference| = {diff:.3g}, "
          f"same predicted class for {same:.0%}")


if __name__ == "__main__":
    main()
