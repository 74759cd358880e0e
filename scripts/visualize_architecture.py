#!/usr/bin/env python
"""Draw LeNet's architecture with layer shapes (ch. 19); needs pydot and Graphviz, else prints a summary.

    python scripts/visualize_architecture.py --output output/lenet.png
"""
from dlcv.errors import DlcvError
from dlcv.models import build_model, get_builder
from dlcv.recipes.script import run_script, script_parser
from dlcv.runtime import start_keras

parser = script_parser(__doc__, default_output="output/visualize_architecture")
parser.add_argument("--model", default="lenet", help="registered model to draw")
parser.add_argument("--shape", default="28,28,1", help="input width,height,depth")
parser.add_argument("--classes", type=int, default=10, help="output classes")


def main(args):
    try:
        width, height, depth = (int(v) for v in args.shape.split(","))
    except ValueError:
        raise DlcvError(f"--shape {args.shape!r}: expected width,height,depth, e.g. 28,28,1") from None
    get_builder(args.model)  # an unknown name fails before Keras starts
    start_keras()
    from dlcv.visualize import model_summary, plot_architecture

    model = build_model(args.model, width, height, depth, args.classes)
    print(model_summary(model))
    path = plot_architecture(model, args.output / f"{args.model}.png")
    if path:
        print(f"[INFO] wrote {path}")


if __name__ == "__main__":
    run_script(main, parser)
