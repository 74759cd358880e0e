#!/usr/bin/env python
"""Draw LeNet's architecture with layer shapes (ch. 19); needs pydot and Graphviz, else prints a summary.

    python scripts/visualize_architecture.py --output output/lenet.png
"""
from dlcv.recipes.script import run_script, script_parser
from dlcv.runtime import import_keras, use_backend

parser = script_parser(__doc__.splitlines()[1], default_output="output/visualize_architecture")
parser.add_argument("--model", default="lenet", help="registered model to draw")
parser.add_argument("--shape", default="28,28,1", help="input width,height,depth")
parser.add_argument("--classes", type=int, default=10, help="output classes")


def main(args):
    use_backend(None)
    import_keras()
    from dlcv.models import build_model
    from dlcv.visualize import model_summary, plot_architecture

    width, height, depth = (int(v) for v in args.shape.split(","))
    model = build_model(args.model, width, height, depth, args.classes)
    print(model_summary(model))
    path = plot_architecture(model, args.output / f"{args.model}.png")
    if path:
        print(f"[INFO] wrote {path}")


if __name__ == "__main__":
    run_script(main, parser)
