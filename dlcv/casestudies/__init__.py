"""The later chapters (20–22), built on the package's loaders, models, engine and inference:
``pretrained`` (ImageNet networks from keras.applications, ch. 20), ``captcha`` (segment, annotate and
read digit captchas, ch. 21) and ``smiles`` with ``faces`` (smile detection in video, ch. 22)."""
