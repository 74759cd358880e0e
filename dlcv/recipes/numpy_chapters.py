"""The from-scratch chapters (8-11) as runnable recipes over :mod:`dlcv.reference`.

Each function is one book script: it builds the data, trains the NumPy model, prints what the book prints
and writes its figures into ``output``. scikit-learn supplies data and reports, matplotlib the plots;
the algorithms themselves are NumPy only.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import classification_report
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer

from .. import files
from ..data.toy import bitwise, book_blobs
from ..errors import DlcvError
from ..images import UnreadableImage, read_image
from ..plotting import new_figure, save_figure
from ..reference import (
    KERNELS,
    SGD,
    ArgumentError,
    NeuralNetwork,
    Perceptron,
    SigmoidClassifier,
    convolve,
    linear_scores,
)
from .script import run_script, script_parser

log = logging.getLogger(__name__)

OPTIMIZERS = ("gd", "momentum", "nesterov")


def _print_epoch(every: int):
    def report(epoch: int, loss: float) -> None:
        if epoch == 1 or epoch % every == 0:
            log.info(f"[INFO] epoch={epoch}, loss={loss:.7f}")
    return report


def descent_parser(description: str, default_output: str, batch_size: int | None):
    """The flags gradient_descent.py (batch_size None: full batch) and sgd.py share."""
    parser = script_parser(description, default_output)
    parser.add_argument("--epochs", "-e", type=int, default=100, help="passes over the training data")
    parser.add_argument("--alpha", "-a", type=float, default=0.01, help="learning rate")
    if batch_size is not None:
        parser.add_argument("--batch-size", "-b", type=int, default=batch_size, help="samples per update")
    parser.set_defaults(batch_size=batch_size)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="gd",
                        help="plain gradient descent, momentum (0.9) or Nesterov momentum (0.9)")
    parser.add_argument("--compare", action="store_true",
                        help="train all three optimizers and overlay their loss curves")
    parser.add_argument("--book", action="store_true",
                        help="reproduce the printed code: no sigmoid derivative in the gradient; with "
                             "mini-batches also no shuffling and the test half trained on")
    return parser


def run_chapter_script(main, parser) -> None:
    """run_script for the from-scratch scripts: the reference path's ArgumentError is a user error too."""
    run_script(main, parser, user_errors=(ArgumentError,))


def run_descent(args) -> dict:
    if args.compare:
        return compare_optimizers(args.output, args.epochs, args.alpha, args.batch_size, args.seed)
    return blobs_descent(args.output, args.epochs, args.alpha, args.batch_size, args.optimizer, args.book,
                         args.seed)


def blobs_descent(output: Path, epochs: int, alpha: float, batch_size: int | None, optimizer: str,
                  book: bool, seed: int) -> dict:
    """gradient_descent.py (batch_size None) and sgd.py: a sigmoid unit on the book's two blobs."""
    X, y = book_blobs()
    train_x, test_x, train_y, test_y = train_test_split(X, y, test_size=0.5, random_state=42)
    # The printed sgd.py trains on the whole dataset, test half included; --book keeps that flaw.
    fit_x, fit_y = (X, y) if book and batch_size else (train_x, train_y)

    log.info("[INFO] training...")
    model = SigmoidClassifier(SGD.named(optimizer, alpha), epochs=epochs, batch_size=batch_size, book=book,
                              seed=seed)
    model.fit(fit_x, fit_y, on_epoch=_print_epoch(5))

    log.info("[INFO] evaluating...")
    predictions = model.predict(test_x).ravel()
    log.info(classification_report(test_y, predictions, digits=4, zero_division=0))
    _plot_blobs(model, test_x, test_y, output / "data.png")
    _plot_losses({optimizer: model.loss_history_}, output / "loss.png")
    summary = {"epochs": epochs, "alpha": alpha, "batch_size": batch_size, "optimizer": optimizer,
               "book_mode": book, "first_loss": model.loss_history_[0], "final_loss": model.loss_history_[-1],
               "test_accuracy": float(np.mean(predictions == test_y))}
    files.write_json(output / "results.json", summary)
    log.info(f"[INFO] wrote {output / 'data.png'}, {output / 'loss.png'}, {output / 'results.json'}")
    return summary


def compare_optimizers(output: Path, epochs: int, alpha: float, batch_size: int | None, seed: int) -> dict:
    """The same problem under plain GD, momentum and Nesterov, loss curves overlaid in one plot."""
    X, y = book_blobs()
    train_x, _, train_y, _ = train_test_split(X, y, test_size=0.5, random_state=42)
    curves = {}
    for name in OPTIMIZERS:
        model = SigmoidClassifier(SGD.named(name, alpha), epochs=epochs, batch_size=batch_size, seed=seed)
        curves[name] = model.fit(train_x, train_y).loss_history_
        log.info(f"[INFO] {name:<9} loss {curves[name][0]:.4f} -> {curves[name][-1]:.6f}")
    _plot_losses(curves, output / "optimizers.png", log=True)
    log.info(f"[INFO] wrote {output / 'optimizers.png'}")
    return {name: losses[-1] for name, losses in curves.items()}


def _plot_blobs(model: SigmoidClassifier, X: np.ndarray, y: np.ndarray, path: Path) -> None:
    figure, axes = new_figure()
    xx, yy = np.meshgrid(np.linspace(X[:, 0].min() - 1, X[:, 0].max() + 1, 200),
                         np.linspace(X[:, 1].min() - 1, X[:, 1].max() + 1, 200))
    surface = model.predict_proba(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
    axes.contourf(xx, yy, surface, levels=[0, 0.5, 1], alpha=0.2, colors=["C0", "C1"])
    axes.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=12)
    axes.set(title="Test data and decision boundary", xlabel="x1", ylabel="x2")
    save_figure(figure, path)


def _plot_losses(curves: dict[str, list[float]], path: Path, log: bool = False) -> None:
    figure, axes = new_figure()
    for name, losses in curves.items():
        axes.plot(np.arange(1, len(losses) + 1), losses, label=name)
    axes.set(title="Training loss", xlabel="epoch", ylabel="loss", yscale="log" if log else "linear")
    axes.legend()
    save_figure(figure, path)


def perceptron_bitwise(dataset: str, epochs: int, alpha: float, seed: int) -> float:
    """perceptron_or.py / perceptron_and.py / perceptron_xor.py: returns the training accuracy."""
    X, y = bitwise(dataset)
    log.info(f"[INFO] training perceptron on {dataset.upper()}...")
    model = Perceptron(alpha=alpha, epochs=epochs, seed=seed).fit(X, y)
    predictions = model.predict(X)
    for x, target, prediction in zip(X, y, predictions):
        log.info(f"[INFO] data={x.astype(int).tolist()}, ground-truth={target}, pred={prediction}")
    accuracy = float(np.mean(predictions == y))
    log.info(f"[INFO] accuracy {accuracy:.2f}")
    return accuracy


def nn_xor(output: Path, epochs: int, alpha: float, seed: int) -> dict:
    """nn_xor.py: a 2-2-1 network learns XOR; a 2-1 network (no hidden layer) cannot."""
    X, y = bitwise("xor")
    results = {}
    for layers in ([2, 2, 1], [2, 1]):
        net = NeuralNetwork(layers, alpha=alpha, epochs=epochs, display_update=max(1, epochs // 10), seed=seed)
        log.info(f"[INFO] {net}")
        net.fit(X, y, on_display=lambda e, loss: log.info(f"[INFO] epoch={e}, loss={loss:.7f}"))
        predictions = net.predict(X).ravel()
        for x, target, p in zip(X, y, predictions):
            # (The printed nn_xor.py formatted a whole array with {:.4f} and crashed.)
            log.info(f"[INFO] data={x.astype(int).tolist()}, ground-truth={target}, pred={p:.4f}, "
                  f"step={int(p > 0.5)}")
        name = "-".join(map(str, layers))
        results[name] = {"final_loss": net.loss_history_[-1][1], "predictions": predictions.tolist(),
                         "accuracy": float(np.mean((predictions > 0.5) == y))}
    files.write_json(output / "results.json", results)
    return results


def digits_backprop(output: Path, epochs: int, alpha: float, batch_size: int | None, float32: bool,
                    seed: int) -> dict:
    """nn_mnist.py: 64-32-16-10 on scikit-learn's 8x8 digits, min-max scaled, 75/25 split."""
    from sklearn.datasets import load_digits

    log.info("[INFO] loading the digits dataset...")
    digits = load_digits()
    data = digits.data.astype(np.float64)
    data = (data - data.min()) / (data.max() - data.min())
    log.info(f"[INFO] samples: {data.shape[0]}, dim: {data.shape[1]}")
    train_x, test_x, train_y, test_y = train_test_split(data, digits.target, test_size=0.25,
                                                        random_state=seed)
    binarizer = LabelBinarizer().fit(train_y)

    net = NeuralNetwork([train_x.shape[1], 32, 16, 10], alpha=alpha, epochs=epochs, batch_size=batch_size,
                        seed=seed, dtype=np.float32 if float32 else np.float64)
    mode = "per-sample (the book's)" if batch_size is None else f"mini-batches of {batch_size}"
    log.info(f"[INFO] training {net}, {mode}...")
    net.fit(train_x, binarizer.transform(train_y),
            on_display=lambda e, loss: log.info(f"[INFO] epoch={e}, loss={loss:.7f}"))

    log.info("[INFO] evaluating network...")
    predictions = net.predict(test_x).argmax(axis=1)
    log.info(classification_report(test_y, predictions, digits=4, zero_division=0))
    epochs_logged, losses = zip(*net.loss_history_)
    figure, axes = new_figure()
    axes.plot(epochs_logged, losses, marker="o")
    axes.set(title=f"{net} on digits", xlabel="epoch", ylabel="loss (1/2 SSE)", yscale="log")
    save_figure(figure, output / "loss.png")
    summary = {"first_loss": losses[0], "final_loss": losses[-1],
               "test_accuracy": float(np.mean(predictions == test_y)), "test_samples": len(test_y)}
    files.write_json(output / "results.json", summary)
    log.info(f"[INFO] wrote {output / 'loss.png'}, {output / 'results.json'}")
    return summary


def linear_example(output: Path, image_path: str | None, seed: int) -> str:
    """linear_example.py: random W and b score a 32x32 image for dog / cat / panda; the label is drawn."""
    labels = ["dog", "cat", "panda"]
    image = _load_bgr(image_path)
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((len(labels), 32 * 32 * 3))
    b = rng.standard_normal(len(labels))
    x = cv2.resize(image, (32, 32)).astype(np.float64).reshape(1, -1)
    scores = linear_scores(W, b, x)[0]
    for label, score in zip(labels, scores):
        log.info(f"[INFO] {label}: {score:.2f}")
    best = labels[int(np.argmax(scores))]
    labelled = image.copy()
    cv2.putText(labelled, f"Label: {best}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 255, 0), 2)
    files.write_image(output / "linear_example.png", labelled)
    log.info(f"[INFO] wrote {output / 'linear_example.png'}")
    return best


def convolutions(output: Path, image_path: str | None) -> dict[str, int]:
    """convolutions.py: each kernel of the bank by hand and by cv2.filter2D, side by side."""
    gray = cv2.cvtColor(_load_bgr(image_path), cv2.COLOR_BGR2GRAY)
    figure, grid = new_figure(nrows=len(KERNELS), ncols=2, figsize=(6, 3 * len(KERNELS)))
    differences = {}
    for row, (name, kernel) in zip(grid, KERNELS.items()):
        ours = convolve(gray, kernel)
        theirs = cv2.filter2D(gray, -1, kernel, borderType=cv2.BORDER_REPLICATE)
        differences[name] = int(np.abs(ours.astype(int) - theirs.astype(int)).max())
        log.info(f"[INFO] {name:<11} max |convolve - filter2D| = {differences[name]}")
        for axes, image, title in zip(row, (ours, theirs), (f"{name}: convolve", f"{name}: filter2D")):
            axes.imshow(image, cmap="gray", vmin=0, vmax=255)
            axes.set_title(title, fontsize=9)
            axes.axis("off")
    save_figure(figure, output / "convolutions.png")
    log.info(f"[INFO] wrote {output / 'convolutions.png'}")
    return differences


def _load_bgr(image_path: str | None) -> np.ndarray:
    """The given image, or scikit-learn's bundled sample photo (works offline)."""
    if image_path is None:
        from sklearn.datasets import load_sample_image

        return cv2.cvtColor(load_sample_image("china.jpg"), cv2.COLOR_RGB2BGR)
    if not Path(image_path).is_file():
        raise DlcvError(f"--image: file not found: {image_path!r}")
    try:
        return cv2.cvtColor(read_image(image_path, channels=3), cv2.COLOR_RGB2BGR)
    except UnreadableImage as error:
        raise DlcvError(f"--image: {error}") from None
