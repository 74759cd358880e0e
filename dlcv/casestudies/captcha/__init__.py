"""The captcha breaker (ch. 21): synthetic captchas, digit segmentation, annotation, and reading.

    captchas = generate_captchas(500, seed=1)           # images with their digits as text
    crops = segment_digits(captchas[0].image)           # one crop per digit, left to right
    text = CaptchaReader(load_classifier("output/captcha/model.h5")).read(captchas[0].image).text
"""
from .reader import CaptchaReader, Reading
from .segment import DigitCrop, segment_digits
from .synthetic import Captcha, generate_captchas, write_captchas

__all__ = ["Captcha", "CaptchaReader", "DigitCrop", "Reading", "generate_captchas", "segment_digits",
           "write_captchas"]
