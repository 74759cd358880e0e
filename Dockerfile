# dlcv on a CUDA GPU: docker build -t dlcv . && docker run --gpus all -v $PWD/output:/app/output dlcv train
# TensorFlow's pip wheel brings its own CUDA/cuDNN libraries ([and-cuda]); the host needs only the NVIDIA
# driver and the NVIDIA Container Toolkit. First version: the Docker issue hardens it (non-root, volumes).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt pyproject.toml README.md ./
COPY dlcv ./dlcv
COPY configs ./configs
RUN pip install -r requirements.txt "tensorflow[and-cuda]==2.21.0" && pip install --no-deps .

ENTRYPOINT ["dlcv"]
CMD ["train"]
