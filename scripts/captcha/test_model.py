#!/usr/bin/env python
"""Read captchas with a trained digit model: print each, draw the digits on it, and score generated
captchas against the answers in their names (ch. 21).

    python scripts/captcha/test_model.py --input datasets/captchas-test --model output/captcha_lenet/model.h5
"""
from dlcv.casestudies.captcha.reader import read_captcha_files
from dlcv.config import BACKENDS
from dlcv.recipes.script import run_script, script_parser

parser = script_parser(__doc__, default_output="output/captcha_test")
parser.add_argument("--input", "-i", required=True, nargs="+", help="captcha images or folders")
parser.add_argument("--model", "-m", required=True, help="model trained by train_model.py")
parser.add_argument("--length", type=int, default=4, help="characters per captcha")
parser.add_argument("--backend", choices=BACKENDS, help="Keras backend")

if __name__ == "__main__":
    run_script(lambda a: read_captcha_files(a.model, a.input, a.output, a.length, a.backend), parser)
