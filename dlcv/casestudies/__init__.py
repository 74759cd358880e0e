"""The book's case studies (ch. 21–22), built on the package's loaders, models, engine and inference:
``captcha`` (segment and read digit captchas) and ``smiles`` (smile detection in video, with ``faces``)."""
