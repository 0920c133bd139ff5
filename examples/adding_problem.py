"""The adding problem (Hochreiter & Schmidhuber 1997): an LSTM carries a sum across T >= 50
steps, a tanh RNN of the same size cannot; the plot shows the RNN's vanishing gradient.

    python examples/adding_problem.py --T 50 --steps 1500 --plot adding_gradients.png

The code lives in ``narae.models.adding`` (also ``narae demo adding-problem``).
"""
import argparse
import os
import shutil
import tempfile

from narae.models.adding import adding_demo


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=int, default=50)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="adding_gradients.png")
    args = p.parse_args(argv)
    tmp = tempfile.mkdtemp()
    result = adding_demo(args.T, args.hidden, args.steps, args.lr, args.seed,
                         out_dir=tmp if args.plot else None)
    for name, ratio in result["gradient_ratio_first_to_last"].items():
        print(f"{name}: ||dL/dh_1|| / ||dL/dh_T|| = {ratio:.2e}")
    if args.plot and os.path.exists(result.get("plot", "")):
        shutil.move(result["plot"], args.plot)
        print(f"saved {args.plot}")
    return result


if __name__ == "__main__":
    main()
