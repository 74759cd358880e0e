# dlcv for CUDA GPUs. TensorFlow's wheel brings its own CUDA and cuDNN libraries ([and-cuda]), so the host
# needs only the NVIDIA driver and the NVIDIA Container Toolkit.
#   docker build -t dlcv .
#   docker run --gpus all -v "$PWD/datasets:/data" -v "$PWD/output:/output" dlcv train
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Graphviz draws architecture diagrams (plot_model); nothing else is needed from the system.
RUN apt-get update \
    && apt-get install -y --no-install-recommends graphviz=2.42.2-7+deb12u1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# requirements.txt is the same file the tests install; [and-cuda] only adds TensorFlow's CUDA libraries.
COPY requirements.txt ./
RUN pip install -r requirements.txt "tensorflow[and-cuda]==2.21.0" pydot==4.0.1
COPY pyproject.toml README.md ./
COPY dlcv ./dlcv
COPY configs ./configs
COPY scripts ./scripts
RUN pip install --no-deps .

# Run as an unprivileged user. Datasets are mounted at /data and outputs go to /output; inside /app they
# appear as datasets/ and output/, so configs resolve paths exactly as in a clone of the repository.
RUN useradd --create-home --uid 1000 dlcv \
    && mkdir -p /data /output \
    && chown 1000:1000 /data /output \
    && ln -s /data /app/datasets \
    && ln -s /output /app/output
USER 1000:1000
VOLUME ["/data", "/output"]
ENTRYPOINT ["dlcv"]
CMD ["train"]
