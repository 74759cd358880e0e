"""The benchmark workloads (../shared/BENCHMARKS.md numbering): each returns a harness.Workload."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from harness import Workload


def w3_numpy_backprop(epochs: int = 1000) -> Workload:
    """W3: the NumPy 64-32-16-10 network on scikit-learn digits, the book's per-sample loop vs vectorised."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from dlcv.reference import NeuralNetwork

    digits = load_digits()
    data = (digits.data - digits.data.min()) / (digits.data.max() - digits.data.min())
    train_x, test_x, train_y, test_y = train_test_split(data, digits.target, test_size=0.25, random_state=42)
    targets = np.eye(10)[train_y]

    def route(batch_size, dtype):
        def run() -> dict:
            net = NeuralNetwork([64, 32, 16, 10], alpha=0.1, seed=42, dtype=dtype)
            started = time.perf_counter()
            net.fit(train_x, targets, epochs=epochs, batch_size=batch_size, display_update=epochs)
            seconds = time.perf_counter() - started
            return {"seconds": seconds, "accuracy": float(np.mean(net.predict(test_x).argmax(1) == test_y))}
        return run

    return Workload(
        name="W3", description=f"NumPy NeuralNetwork 64-32-16-10 on digits, {epochs} epochs",
        unit=f"s per {epochs}-epoch run", baseline="book: per-sample, float64",
        routes={"book: per-sample, float64": route(None, np.float64),
                "dlcv: batch 128, float32": route(128, np.float32),
                "dlcv: batch 128, float64": route(128, np.float64)})


ANIMALS_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "animals-sample"


def _per_image(work: Callable[[], int]) -> Callable[[], dict]:
    """A route timing ``work``, which returns how many images it handled: seconds and images/s."""
    def run() -> dict:
        started = time.perf_counter()
        count = work()
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "images_per_s": count / seconds}
    return run


def w4_image_loading(folder: Path = ANIMALS_SAMPLE) -> Workload:
    """W4: decode + 32x32 resize a folder of real JPEGs, a full pass; images per second, four ways."""
    import tempfile

    import cv2

    from dlcv.config import PreprocessingConfig
    from dlcv.data.folder import folder_source, list_labelled_images
    from dlcv.data.store import build_store, load_store

    if not folder.is_dir():
        raise SystemExit(f"W4 needs a folder of <class>/<image> JPEGs; {folder} is missing")
    paths, _, _ = list_labelled_images(folder)
    recipe = PreprocessingConfig(width=32, height=32, channels=3)
    store = Path(tempfile.mkdtemp()) / "w4.h5"
    build_store(str(folder), store, recipe, progress=False)

    def book_loop():  # the book's SimpleDatasetLoader: one cv2.imread + resize at a time
        return len(np.array([cv2.resize(cv2.imread(p), (32, 32), interpolation=cv2.INTER_AREA) for p in paths]))

    def dlcv_loader(decode: str):  # what `dlcv train` does for a folder (dataset.cache: none): every core
        def load():
            source = folder_source(folder, recipe, decode)
            return len(source.load(np.arange(len(source))).labels)
        return load

    routes = {"book: sequential imread loop": _per_image(book_loop),
              "dlcv: folder loader, decode: exact": _per_image(dlcv_loader("exact")),
              "dlcv: folder loader, decode: fast": _per_image(dlcv_loader("fast"))}
    if _installed("tensorflow"):
        def keras_directory():  # what a Keras user picks: tf.data, decode_image + bilinear resize, parallel
            import keras

            data = keras.utils.image_dataset_from_directory(folder, image_size=(32, 32), batch_size=64,
                                                            shuffle=False, verbose=False)
            return sum(int(x.shape[0]) for x, _ in data)
        routes["peer: keras image_dataset_from_directory"] = _per_image(keras_directory)
    routes["dlcv: HDF5 store reload"] = _per_image(lambda: len(load_store(store).labels))
    return Workload(
        name="W4", description=f"load + 32x32 preprocess {len(paths)} JPEGs from {folder.name}",
        unit=f"s per {len(paths)} images", baseline="book: sequential imread loop", routes=routes)


M1_SIZES = (6_000, 24_000, 60_000)


def m1_memory(sizes: tuple[int, ...] = M1_SIZES, folder: Path = ANIMALS_SAMPLE,
              data: Path = Path("output/benchmarks/images")) -> list[Workload]:
    """M1: ShallowNet, one epoch at 128x128 on synthetic folders of each size (256x256 JPEGs made from the
    Animals sample), each route in a process of its own so its peak RSS is its own."""
    import json
    import subprocess
    import sys

    from make_image_folder import make_image_folder

    workloads = []
    for size in sizes:
        images = make_image_folder(folder, data / str(size), size, 256)
        cache = data.parent / f"cache-{size}"

        def child(mode: str, decode: str = "exact", images=images, cache=cache):
            def run() -> dict:
                result = subprocess.run([sys.executable, str(Path(__file__).parent / "m1_child.py"), mode,
                                         str(images), str(cache), decode], capture_output=True, text=True)
                line = [entry for entry in result.stdout.splitlines() if entry.startswith("M1RESULT ")]
                if result.returncode or not line:
                    raise SystemExit(f"M1 {mode} failed: {result.stderr[-2000:]}")
                measured = json.loads(line[0].removeprefix("M1RESULT "))
                phases = {f"{name}_peak_gb": rss / 1e9 for name, rss in measured.get("phase_peaks", {}).items()}
                return {"seconds": measured["seconds"], "epoch_s": measured["epoch_seconds"],
                        "images_per_s": measured["images"] / measured["seconds"],
                        "epoch_images_per_s": measured["images"] / measured["epoch_seconds"],
                        "peak_rss_gb": measured["peak_rss"] / 1e9, "start_rss_gb": measured["baseline_rss"] / 1e9,
                        **phases}
            return run

        workloads.append(Workload(
            name=f"M1-{size}", description=f"ShallowNet, 1 epoch at 128x128, {size:,} JPEGs "
                                           f"({size * 128 * 128 * 3 / 1e9:.2f} GB decoded)",
            unit="s for the whole run (data + 1 epoch)", baseline="peer: keras image_dataset_from_directory + fit",
            routes={"peer: keras image_dataset_from_directory + fit": child("keras"),
                    "dlcv: streaming, cache cold": child("stream-cold"),
                    "dlcv: streaming, cache cold, decode: fast": child("stream-cold", "fast"),
                    "dlcv: streaming, cache warm": child("stream-warm"),
                    "dlcv: in memory (from the cache)": child("memory")}))
    return workloads


def _keras_model(name: str, batch_size: int, seed: int, shape=(32, 32, 3), classes: int = 10):
    """A freshly compiled network: SGD lr 0.01, momentum 0.9, Nesterov (W1 mlp, W2 minivggnet, S1 shallownet)."""
    import keras

    from dlcv.models import build_model

    keras.utils.set_random_seed(seed)
    width, height, depth = shape[1], shape[0], shape[2]
    if name == "mlp":
        model = build_model("mlp", width, height, depth, classes, hidden=[1024, 512], activation="relu")
    else:
        model = build_model(name, width, height, depth, classes)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _timed_after_warm_up(epoch: Callable[[], object]) -> Callable[[], dict]:
    """Run one epoch now (tracing, compiling, first-touch allocation), then time each later one."""
    epoch()

    def run() -> dict:
        started = time.perf_counter()
        epoch()
        return {"seconds": time.perf_counter() - started}
    return run


def _default_trainer(network: str, images: np.ndarray, labels: np.ndarray, batch_size: int, **options):
    """dlcv's default route for this network and backend, as `dlcv train` would choose it."""
    import keras

    from dlcv.data import ImageSet
    from dlcv.training.compiled import build_trainer
    from dlcv.training.plan import EpochPlan
    from dlcv.training.routes import compiled_loop
    from dlcv.training.windows import Windows

    model = _keras_model(network, batch_size, 0, images.shape[1:], int(labels.max()) + 1)
    data = ImageSet(images, labels, [str(c) for c in range(int(labels.max()) + 1)])
    val = data.subset(np.arange(min(len(labels), 1000)))
    options.setdefault("progress", False)
    return build_trainer(model, EpochPlan(data, val, batch_size, seed=0),
                         Windows(loop=compiled_loop(model, keras.backend.backend()), **options))


def _keras_routes(network: str, images: np.ndarray, labels: np.ndarray, batch_size: int) -> dict:
    """The book's way (fit on NumPy floats), dlcv's default route and dlcv's `route: fit`, each warmed up."""
    from dlcv.data import ImageSet
    from dlcv.pipeline import training_pipeline
    from dlcv.training.plan import EpochPlan

    def book_way():
        model = _keras_model(network, batch_size, 0, images.shape[1:], int(labels.max()) + 1)
        x = images.astype(np.float32) / 255.0
        return _timed_after_warm_up(lambda: model.fit(x, labels, batch_size=batch_size, epochs=1, verbose=0))

    def default_route():
        trainer = _default_trainer(network, images, labels, batch_size)
        epoch = iter(range(10**6))
        return _timed_after_warm_up(lambda: trainer.train_epoch(next(epoch)))

    def fit_route():
        model = _keras_model(network, batch_size, 0, images.shape[1:], int(labels.max()) + 1)
        data = ImageSet(images, labels, ["c"])
        pipeline = training_pipeline(EpochPlan(data, None, batch_size, seed=0))
        return _timed_after_warm_up(lambda: model.fit(pipeline, epochs=1, verbose=0, shuffle=False))

    return {"book: fit on NumPy": book_way(), "dlcv: default route": default_route(),
            "dlcv: route fit (Keras fit on dlcv's pipeline)": fit_route()}


def _torch_eager(network_sizes, images, labels, batch_size):
    """The PyTorch peer: an eager training loop over tensors already in memory / on the GPU."""
    import torch

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    layers = []
    for fan_in, fan_out in zip(network_sizes[:-1], network_sizes[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.tensor(images.reshape(len(images), -1), device=device, dtype=torch.float32) / 255.0
    y = torch.tensor(labels, device=device, dtype=torch.long)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        for rows in torch.randperm(len(x), device=device).split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x[rows]), y[rows]).backward()
            optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return _timed_after_warm_up(epoch)


def _jax_floor(network_sizes, images, labels, batch_size):
    """The practical floor: a hand-written JAX MLP, whole epoch in one jit-compiled lax.scan."""
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.PRNGKey(0), len(network_sizes))
    params = [(jax.random.normal(k, (i, o)) * jnp.sqrt(2.0 / i), jnp.zeros(o))
              for k, i, o in zip(keys, network_sizes[:-1], network_sizes[1:])]
    velocity = jax.tree_util.tree_map(jnp.zeros_like, params)
    x = jax.device_put(images.reshape(len(images), -1))
    y = jax.device_put(labels.astype(np.int32))
    steps = len(labels) // batch_size

    def loss_fn(params, xb, yb):
        h = xb.astype(jnp.float32) / 255.0
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b)
        logits = h @ params[-1][0] + params[-1][1]
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(yb.shape[0]), yb])

    @jax.jit
    def epoch(params, velocity, key):
        order = jax.random.permutation(key, x.shape[0])[:steps * batch_size].reshape(steps, batch_size)

        def step(carry, rows):
            params, velocity = carry
            grads = jax.grad(loss_fn)(params, x[rows], y[rows])
            velocity = jax.tree_util.tree_map(lambda v, g: 0.9 * v - 0.01 * g, velocity, grads)
            params = jax.tree_util.tree_map(lambda p, v, g: p + 0.9 * v - 0.01 * g, params, velocity, grads)
            return (params, velocity), None

        (params, velocity), _ = jax.lax.scan(step, (params, velocity), order)
        return params, velocity

    state = {"params": params, "velocity": velocity, "epoch": 0}

    def one_epoch():
        state["epoch"] += 1
        state["params"], state["velocity"] = epoch(state["params"], state["velocity"],
                                                   jax.random.PRNGKey(state["epoch"]))
        jax.block_until_ready(state["params"])

    return _timed_after_warm_up(one_epoch)


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _random_cifar(samples: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (samples, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, samples)


def w1_cifar_mlp(samples: int | None = None, batch_size: int = 32) -> Workload:
    """W1: the CIFAR-10 MLP, one epoch (random CIFAR-shaped data; 10,000 samples on a CPU, 50,000 on a GPU)."""
    from dlcv.runtime import devices, start_keras

    keras = start_keras(quiet=True)
    samples = samples or (50_000 if devices() else 10_000)
    images, labels = _random_cifar(samples)
    routes = _keras_routes("mlp", images, labels, batch_size)
    sizes = [3072, 1024, 512, 10]
    if _installed("torch"):
        routes["peer: PyTorch eager loop"] = _torch_eager(sizes, images, labels, batch_size)
    if _installed("jax"):
        routes["floor: hand-written JAX scan"] = _jax_floor(sizes, images, labels, batch_size)
    return Workload(name="W1", description=f"CIFAR-10 MLP 3072-1024-512-10, batch {batch_size}, "
                    f"{samples:,} samples, Keras backend {keras.backend.backend()}",
                    unit="s per epoch", baseline="book: fit on NumPy", routes=routes)


def w2_minivggnet(samples: int | None = None, batch_size: int = 64) -> Workload:
    """W2: MiniVGGNet on 32x32x3, one epoch (50,000 samples on a GPU; 2,000 on a CPU)."""
    from dlcv.runtime import devices, start_keras

    keras = start_keras(quiet=True)
    samples = samples or (50_000 if devices() else 2_000)
    images, labels = _random_cifar(samples)
    return Workload(name="W2", description=f"MiniVGGNet 32x32x3, batch {batch_size}, {samples:,} samples, "
                    f"Keras backend {keras.backend.backend()}", unit="s per epoch",
                    baseline="book: fit on NumPy", routes=_keras_routes("minivggnet", images, labels, batch_size))


def s1_shallownet(folder: Path = ANIMALS_SAMPLE) -> Workload:
    """S1: ShallowNet on the Animals sample at 32x32 (the book's recipe), one epoch: default vs fit."""
    from dlcv.config import load_config
    from dlcv.data import prepare_data
    from dlcv.runtime import start_keras

    keras = start_keras(quiet=True)
    if not folder.is_dir():
        raise SystemExit(f"S1 needs a folder of <class>/<image> JPEGs; {folder} is missing")
    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "shallownet_animals.yaml",
                         [f"dataset.path={folder}", "dataset.cache=none"])
    train = prepare_data(config, progress=False).splits.train
    return Workload(name="S1", description=f"ShallowNet 32x32x3, batch 32, {len(train.labels)} Animals photos, "
                    f"Keras backend {keras.backend.backend()}", unit="s per epoch", baseline="book: fit on NumPy",
                    routes=_keras_routes("shallownet", train.images, train.labels, 32))


def p1_progress(samples: int = 10_000, batch_size: int = 32) -> Workload:
    """P1: what the fast route's progress bar costs: W1's epoch with the bar (a window per 1/20 of the
    epoch, synced to show the running loss) against one window and no bar."""
    import contextlib
    import io

    from dlcv.runtime import start_keras

    keras = start_keras(quiet=True)
    images, labels = _random_cifar(samples)

    def route(progress: bool):
        trainer = _default_trainer("mlp", images, labels, batch_size, progress=progress)
        epoch = iter(range(10**6))

        def run_epoch():
            with contextlib.redirect_stdout(io.StringIO()):  # the bar's text: not what is timed
                trainer.train_epoch(next(epoch))
        return _timed_after_warm_up(run_epoch)

    return Workload(name="P1", description=f"W1 ({samples:,} samples, batch {batch_size}) with and without the "
                    f"progress bar, Keras backend {keras.backend.backend()}", unit="s per epoch",
                    baseline="dlcv: fast route, no bar", routes={"dlcv: fast route, no bar": route(False),
                                                                 "dlcv: fast route, progress bar": route(True)})


def _shallownet_animals_run(folder: Path, output: Path):
    """ShallowNet trained 3 epochs on the Animals sample at 32x32 (the book's recipe, shortened): a real
    run folder to predict and export with; the weights' quality does not change the speed."""
    from dlcv.config import load_config
    from dlcv.training.engine import train

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "shallownet_animals.yaml",
                         [f"dataset.path={folder}", "dataset.cache=none", "epochs=3", f"output_dir={output}",
                          "name=shallownet"])
    return train(config, verbose=0)


def i1_predict(folder: Path = ANIMALS_SAMPLE) -> Workload:
    """I1: label every Animals photo with a trained ShallowNet: the book's shallownet_load.py loop
    (imread, resize, model.predict per image) against dlcv predict's streamed, parallel, batched path."""
    import io
    import tempfile

    import cv2

    from dlcv.images import list_images
    from dlcv.inference import load_classifier
    from dlcv.predictions import TextWriter
    from dlcv.runtime import start_keras

    keras = start_keras(quiet=True)
    if not folder.is_dir():
        raise SystemExit(f"I1 needs a folder of <class>/<image> JPEGs; {folder} is missing")
    run_dir = _shallownet_animals_run(folder, Path(tempfile.mkdtemp())).run_dir
    paths = list_images(folder)
    model = keras.models.load_model(run_dir / "model.h5", compile=False)

    def book_loop():  # shallownet_load.py: one image at a time through model.predict
        for path in paths:
            image = cv2.resize(cv2.imread(path), (32, 32), interpolation=cv2.INTER_AREA)
            model.predict(np.expand_dims(image.astype("float32") / 255.0, 0), verbose=0)
        return len(paths)

    dlcv_run = load_classifier(run_dir / "model.h5")

    def dlcv_predict():  # what `dlcv predict --model RUN/model.h5 FOLDER` does, writing text lines
        return TextWriter(io.StringIO(), dlcv_run.task).write_all(dlcv_run.iter_predictions(paths))

    book_loop(), dlcv_predict()  # warm up both (tracing, first allocations)
    return Workload(name="I1", description=f"label {len(paths)} Animals JPEGs with ShallowNet 32x32, "
                    f"Keras backend {keras.backend.backend()}", unit=f"s per {len(paths)} images",
                    baseline="book: model.predict per image",
                    routes={"book: model.predict per image": _per_image(book_loop),
                            "dlcv: predict (streamed, batched)": _per_image(dlcv_predict)})


def e1_export_runtimes(folder: Path = ANIMALS_SAMPLE) -> Workload:
    """E1: a trained ShallowNet exported to SavedModel, ONNX and LiteRT (float32 and int8 weights) by dlcv
    export, each labelling the Animals sample (decoded once, 32x32 uint8, batches of 64) in its own
    runtime, against Keras."""
    import tempfile

    from dlcv import app
    from dlcv.inference import load_classifier
    from dlcv.runtime import start_keras

    start_keras(quiet=True)
    if not folder.is_dir():
        raise SystemExit(f"E1 needs a folder of <class>/<image> JPEGs; {folder} is missing")
    run_dir = _shallownet_animals_run(folder, Path(tempfile.mkdtemp())).run_dir
    app.export(run_dir, formats=["saved_model", "onnx", "litert"], output=run_dir / "export")
    app.export(run_dir, formats=["litert"], output=run_dir / "export-int8", quantize=True)
    keras_run = load_classifier(run_dir / "model.h5")
    from dlcv.images import list_images

    images = np.stack([keras_run.decode(path) for path in list_images(folder)])
    runs = {"Keras (model.h5, predict_on_batch)": keras_run,
            "SavedModel (tf.saved_model.load)": load_classifier(run_dir / "export" / "saved_model"),
            "ONNX (onnxruntime)": load_classifier(run_dir / "export" / "model.onnx"),
            "LiteRT (ai-edge-litert)": load_classifier(run_dir / "export" / "model.tflite"),
            "LiteRT int8 weights (--quantize)": load_classifier(run_dir / "export-int8" / "model.tflite")}

    def timed(run):
        run.predict_arrays(images[:64])  # warm up

        def label() -> dict:  # ten passes: one pass is a few milliseconds, too short to time alone
            started = time.perf_counter()
            for _ in range(PASSES):
                for start in range(0, len(images), 64):
                    run.predict_arrays(images[start:start + 64])
            seconds = time.perf_counter() - started
            return {"seconds": seconds, "images_per_s": PASSES * len(images) / seconds}
        return label

    PASSES = 10
    return Workload(name="E1", description=f"{len(images)} decoded Animals images x {PASSES}, ShallowNet 32x32, "
                    f"batches of 64, each export in its runtime", unit=f"s per {PASSES * len(images)} images",
                    baseline="Keras (model.h5, predict_on_batch)",
                    routes={name: timed(run) for name, run in runs.items()})


def t1_transfer_head(folder: Path = ANIMALS_SAMPLE, size: int = 128, epochs: int = 10,
                     backbone: str = "mobilenet_v2", with_fine_tune: bool = False) -> Workload:
    """T1: a backbone's first phase (the head on the frozen backbone), ``epochs`` epochs on the Animals
    sample: the backbone run every epoch (dlcv's default route without the cache) vs its features computed
    once (feature_cache); ``with_fine_tune``: also the second phase's speed (the whole backbone training).
    Random backbone weights (ImageNet's cannot be downloaded everywhere): the work per image is the same."""
    import tempfile

    from dlcv.config import load_config
    from dlcv.runtime import start_keras

    start_keras(quiet=True)
    from dlcv.data import prepare_data
    from dlcv.pipeline import predict_dataset
    from dlcv.runtime import seed_everything
    from dlcv.training.distribution import Distribution
    from dlcv.training.engine import compile_model
    from dlcv.training.plan import EpochPlan
    from dlcv.training.routes import choose_route

    output = Path(tempfile.mkdtemp(prefix="dlcv-t1-"))
    base = [f"output_dir={output}", "dataset.name=folder", f"dataset.path={folder}", f"preprocessing.width={size}",
            f"preprocessing.height={size}", f"model.name={backbone}", f"epochs={epochs}", "batch_size=32",
            f"dataset.cache_dir={output / 'cache'}"]
    prepared = prepare_data(load_config(overrides=base))  # decoded once, outside the timing
    splits = prepared.splits

    def route(cache: bool, trainable: bool = False):
        """The training of the phase alone (as `dlcv train` runs it: the route it chooses, its first epoch's
        tracing included), then the test split scored."""
        def run() -> dict:
            config = load_config(overrides=[*base, f"feature_cache={str(cache).lower()}", "model.params={weights: "
                                            f"none, dropout: 0.0, trainable: {str(trainable).lower()}}}"])
            seed_everything(config.seed)
            model = compile_model(prepared.config.model_copy(update={"model": config.model,
                                                                     "feature_cache": config.feature_cache}),
                                  prepared.task, -(-len(splits.train.labels) // 32))
            chosen = choose_route(config, splits.train, Distribution(), model)
            started = time.perf_counter()
            chosen.fit(model, EpochPlan(splits.train, splits.val, 32, config.seed), callbacks=[], verbose=0)
            seconds = time.perf_counter() - started
            probabilities, labels = predict_dataset(model, splits.test)
            return {"seconds": seconds, "accuracy": float(np.mean(probabilities.argmax(1) == labels)),
                    "train_images_per_s": len(splits.train.labels) * epochs / seconds}
        return run

    routes = {"backbone every epoch": route(False), "feature cache": route(True)}
    if with_fine_tune:
        routes["fine-tune phase (whole backbone trains)"] = route(False, trainable=True)
    return Workload(
        name="T1", description=f"{backbone} head on the frozen backbone, {epochs} epochs at {size}x{size}, "
                               f"{folder.name} ({len(splits.train.labels)} training images; the training alone)",
        unit=f"s per {epochs}-epoch run", baseline="backbone every epoch", routes=routes)


def host_decode_rate(folder: Path = ANIMALS_SAMPLE, size: int = 224) -> float:
    """JPEGs decoded and resized to ``size`` per second by dlcv's exact decode on every core (as training's
    streaming reader and `dlcv predict` do): what the host can feed a device."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from dlcv.config import PreprocessingConfig
    from dlcv.images import expand_image_paths
    from dlcv.preprocessing import decode_file, preprocessors_for

    paths = expand_image_paths([str(folder)])
    chain = preprocessors_for(PreprocessingConfig(width=size, height=size, channels=3))
    started = time.perf_counter()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        count = sum(1 for _ in pool.map(lambda path: decode_file(path, 3, chain), paths))
    return count / (time.perf_counter() - started)


from tables import l1_label_table  # noqa: E402  (benchmarks/tables.py: label tables)

WORKLOADS = {"w1": w1_cifar_mlp, "w2": w2_minivggnet, "w3": w3_numpy_backprop, "w4": w4_image_loading,
             "m1": m1_memory, "s1": s1_shallownet, "p1": p1_progress, "i1": i1_predict, "e1": e1_export_runtimes,
             "t1": t1_transfer_head, "l1": l1_label_table}
