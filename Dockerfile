# dlcv for CUDA GPUs. TensorFlow's wheel brings its own CUDA and cuDNN libraries ([and-cuda]), so the host
# needs only the NVIDIA driver and the NVIDIA Container Toolkit. Runs as any host user (--user):
#   docker build -t dlcv .
#   docker run --rm --gpus all --user "$(id -u):$(id -g)" -v "$PWD/datasets:/data:ro" -v "$PWD/output:/output" dlcv train
# Two stages: the first installs into a virtual environment, the second copies only that environment onto
# a clean base, so no pip, wheel or build leftovers reach the image.
FROM python:3.11.14-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# requirements-runtime.txt is what the tests install minus the test tools; [and-cuda] only adds
# TensorFlow's CUDA libraries.
COPY requirements-runtime.txt ./
RUN python -m venv /opt/dlcv \
    && /opt/dlcv/bin/pip install -r requirements-runtime.txt "tensorflow[and-cuda]==2.21.0" pydot==4.0.1
COPY pyproject.toml README.md ./
COPY dlcv ./dlcv
# Then drop what no run uses: pip itself and TensorFlow's C++ headers (430 MB, for compiling custom ops).
RUN /opt/dlcv/bin/pip install --no-deps . \
    && /opt/dlcv/bin/pip uninstall -y pip \
    && rm -rf /opt/dlcv/lib/python3*/site-packages/tensorflow/include

FROM python:3.11.14-slim-bookworm

# Graphviz draws architecture diagrams (plot_model); nothing else is needed from the system.
RUN apt-get update \
    && apt-get install -y --no-install-recommends graphviz=2.42.2-7+deb12u1 \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /opt/dlcv /opt/dlcv
# Any uid may run the image (docker run --user "$(id -u):$(id -g)"), so everything a run writes outside
# /output goes to places every user can write: a shared sticky HOME (Keras's cache, matplotlib's config)
# and /tmp. DLCV_CONTAINER makes dlcv's "not writable" errors say how to fix a mount.
ENV PATH=/opt/dlcv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/dlcv \
    KERAS_HOME=/home/dlcv/.keras \
    MPLCONFIGDIR=/tmp/matplotlib \
    DLCV_CONTAINER=1

WORKDIR /app
COPY configs ./configs
COPY scripts ./scripts
# Datasets are mounted at /data and outputs go to /output; inside /app they appear as datasets/ and
# output/, so configs resolve paths exactly as in a clone of the repository.
RUN mkdir -p /data /output /home/dlcv \
    && chmod 1777 /home/dlcv /output \
    && ln -s /data /app/datasets \
    && ln -s /output /app/output
# The default user when no --user is given (unprivileged; any other uid works the same way).
USER 1000:1000
VOLUME ["/data", "/output"]
# dlcv serve's default port: docker run -p 8000:8000 ... dlcv serve output/<run> --host 0.0.0.0
EXPOSE 8000
ENTRYPOINT ["dlcv"]
CMD ["train"]
