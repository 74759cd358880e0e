#!/usr/bin/env python
"""Write synthetic digit captchas, the answer in each file name (ch. 21; replaces download_images.py).

    python scripts/captcha/generate_captchas.py --output datasets/captchas --count 1000
"""
from dlcv.casestudies.captcha.synthetic import generate_captcha_files
from dlcv.recipes.script import run_script, script_parser

parser = script_parser(__doc__, default_output="datasets/captchas")
parser.add_argument("--count", "-n", type=int, default=1000, help="how many captchas")
parser.add_argument("--length", type=int, default=4, help="digits per captcha")

if __name__ == "__main__":
    run_script(lambda a: generate_captcha_files(a.output, a.count, a.length, a.seed), parser)
