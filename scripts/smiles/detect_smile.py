#!/usr/bin/env python
"""Find faces in a video (or camera) with a Haar cascade, label each smiling / not smiling with the
trained model, and write the annotated video (ch. 22).

    python scripts/smiles/detect_smile.py --model output/smiles_lenet/model.h5 --video clip.mp4
"""
from pathlib import Path

from dlcv.casestudies.smiles import detect_smiles
from dlcv.config import BACKENDS
from dlcv.recipes.script import run_script, script_parser

parser = script_parser(__doc__, default_output="output/detect_smile")
parser.add_argument("--model", "-m", required=True, help="model trained by train_model.py")
source = parser.add_mutually_exclusive_group(required=True)
source.add_argument("--video", "-v", help="a video file")
source.add_argument("--camera", type=int, help="a camera index (0 = the first)")
parser.add_argument("--display", action="store_true", help="also show the frames in a window (needs a screen)")
parser.add_argument("--max-frames", type=int, help="stop after this many frames")
parser.add_argument("--backend", choices=BACKENDS, help="Keras backend")


def main(args):
    name = Path(args.video).stem if args.video else f"camera{args.camera}"
    return detect_smiles(args.model, args.video if args.video else args.camera,
                         Path(args.output) / f"{name}-smiles.avi", args.display, args.max_frames, args.backend)


if __name__ == "__main__":
    run_script(main, parser)
