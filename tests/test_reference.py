"""The NumPy reference path: worked examples, gradient checks, the book's outcomes, bad input."""
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import ROOT

from dlcv.data.toy import bitwise
from dlcv.reference import (
    INITIALIZERS,
    KERNELS,
    SGD,
    ArgumentError,
    NeuralNetwork,
    NotFittedError,
    Perceptron,
    Regularizer,
    SigmoidClassifier,
    add_bias_column,
    convolve,
    fold_bias,
    gradients,
    half_sse,
    initialize,
    linear_scores,
    multiclass_hinge,
    softmax,
    softmax_cross_entropy,
)

# ---- worked examples (ch. 8) -------------------------------------------------------------------------

BOOK_SCORES = np.array([[4.26, 1.33, -1.01], [3.76, -1.20, -3.81], [-2.37, 1.03, -2.27]])  # dog/cat/panda


def test_hinge_worked_example():
    loss = multiclass_hinge(BOOK_SCORES, np.array([0, 1, 2]))
    np.testing.assert_allclose(loss.per_sample, [0.0, 5.96, 5.2], atol=1e-9)
    assert round(loss.value, 2) == 3.72


def test_softmax_worked_example():
    scores = np.array([[-3.44, 1.16, 3.91]])
    np.testing.assert_allclose(softmax(scores).round(4), [[0.0006, 0.0601, 0.9393]])
    assert round(softmax_cross_entropy(scores, np.array([2])).value, 4) == 0.0626


def test_bias_trick_equals_wx_plus_b():
    rng = np.random.default_rng(0)
    W, b, X = rng.normal(size=(3, 5)), rng.normal(size=3), rng.normal(size=(7, 5))
    np.testing.assert_allclose(linear_scores(W, b, X), add_bias_column(X) @ fold_bias(W, b).T)


# ---- gradient checks ---------------------------------------------------------------------------------

def numeric_gradient(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        up = f()
        x[index] = saved - eps
        down = f()
        x[index] = saved
        grad[index] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("loss_fn", [
    lambda s, y: multiclass_hinge(s, y), lambda s, y: multiclass_hinge(s, y, squared=True),
    softmax_cross_entropy])
def test_loss_gradients_match_finite_differences(loss_fn):
    rng = np.random.default_rng(1)
    scores, labels = rng.normal(size=(6, 4)) * 2, rng.integers(0, 4, size=6)
    analytic = loss_fn(scores, labels).gradient
    numeric = numeric_gradient(lambda: loss_fn(scores, labels).value, scores)
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)


@pytest.mark.parametrize("kind", ["l1", "l2", "elastic_net"])
def test_regularizer_gradients_match_finite_differences(kind):
    W = np.random.default_rng(2).normal(size=(4, 3))  # away from 0, where |W| is differentiable
    penalty = Regularizer(kind, strength=0.3, l1_ratio=0.4)
    np.testing.assert_allclose(penalty.gradient(W), numeric_gradient(lambda: penalty.value(W), W), atol=1e-6)


def test_sigmoid_classifier_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    X1, y = add_bias_column(rng.normal(size=(20, 2))), rng.integers(0, 2, size=(20, 1)).astype(float)
    model = SigmoidClassifier(regularizer=Regularizer("l2", 0.01))
    W = rng.normal(size=(3, 1))
    _, analytic = model.loss_and_gradient(W, X1, y)
    np.testing.assert_allclose(analytic, numeric_gradient(lambda: model.loss_and_gradient(W, X1, y)[0], W),
                               rtol=1e-5, atol=1e-7)
    book = SigmoidClassifier(book=True)
    assert not np.allclose(book.loss_and_gradient(W, X1, y)[1], analytic)  # the book's omission, kept


def test_backprop_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    weights = NeuralNetwork([3, 4, 2], seed=0).initial_weights()
    A0, targets = add_bias_column(rng.normal(size=(5, 3))), rng.random((5, 2))
    analytic = gradients(weights, A0, targets)
    for layer, W in enumerate(weights):
        numeric = numeric_gradient(lambda: half_sse(weights, A0, targets), W)
        np.testing.assert_allclose(analytic[layer], numeric, rtol=1e-5, atol=1e-8)


def test_a_batch_gradient_is_the_sum_of_per_sample_gradients():
    rng = np.random.default_rng(5)
    weights = NeuralNetwork([4, 3, 2], seed=1).initial_weights()
    A0, targets = add_bias_column(rng.normal(size=(6, 4))), rng.random((6, 2))
    per_sample = [gradients(weights, A0[i:i + 1], targets[i:i + 1]) for i in range(6)]
    for layer, batch_gradient in enumerate(gradients(weights, A0, targets)):
        np.testing.assert_allclose(batch_gradient, sum(g[layer] for g in per_sample), atol=1e-12)


# ---- optimisers against Keras ------------------------------------------------------------------------

@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_and_nesterov_follow_keras_sgd(keras, nesterov):
    """The one test of the reference path that imports Keras: same trajectory on a quadratic."""
    A = np.array([[3.0, 0.5], [0.5, 1.0]])
    target = np.array([1.0, -2.0])

    def gradient(w):  # of 1/2 (w - t)^T A (w - t)
        return A @ (w - target)

    ours = SGD(learning_rate=0.05, momentum=0.9, nesterov=nesterov)
    variable = keras.Variable(np.zeros(2, dtype="float32"))
    theirs = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=nesterov)
    w = np.zeros(2)
    for _ in range(60):
        w = ours.step(w, gradient(w))
        current = np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float64)
        theirs.apply_gradients([(keras.ops.convert_to_tensor(gradient(current).astype("float32")), variable)])
        np.testing.assert_allclose(w, keras.ops.convert_to_numpy(variable), atol=1e-5)
    assert np.linalg.norm(w - target) < 0.1


def test_momentum_beats_plain_sgd_on_an_ill_conditioned_quadratic():
    A = np.diag([10.0, 0.1])
    distances = {}
    for name in ("gd", "momentum", "nesterov"):
        opt, w = SGD.named(name, 0.05), np.array([1.0, 1.0])
        for _ in range(100):
            w = opt.step(w, A @ w)
        distances[name] = np.linalg.norm(w)
    assert distances["momentum"] < distances["gd"] and distances["nesterov"] < distances["gd"]


# ---- the book's outcomes -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_perceptron_learns_or_and_and_but_not_xor(seed):
    for name, learnable in (("or", True), ("and", True), ("xor", False)):
        X, y = bitwise(name)
        predictions = Perceptron(alpha=0.1, epochs=50, seed=seed).fit(X, y).predict(X)
        assert np.array_equal(predictions, y) == learnable, name


def test_perceptron_accepts_1d_and_column_labels():
    X, y = bitwise("or")
    for labels in (y, y[:, None]):
        assert np.array_equal(Perceptron(epochs=30, seed=0).fit(X, labels).predict(X), y)


def test_backprop_learns_xor_with_a_hidden_layer_only():
    X, y = bitwise("xor")
    hidden = NeuralNetwork([2, 2, 1], alpha=0.5, epochs=20000, seed=1).fit(X, y)
    assert np.array_equal((hidden.predict(X).ravel() > 0.5).astype(int), y)
    assert hidden.loss_history_[-1][1] < 0.01
    flat = NeuralNetwork([2, 1], alpha=0.5, epochs=2000, seed=1).fit(X, y)
    assert not np.array_equal((flat.predict(X).ravel() > 0.5).astype(int), y)


def test_vectorised_backprop_reaches_097_on_digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    data = digits.data / 16.0
    train_x, test_x, train_y, test_y = train_test_split(data, digits.target, test_size=0.25, random_state=42)
    net = NeuralNetwork([64, 32, 16, 10], alpha=0.1, epochs=1000, batch_size=128, seed=42, dtype=np.float32)
    net.fit(train_x, np.eye(10)[train_y])
    assert np.mean(net.predict(test_x).argmax(axis=1) == test_y) >= 0.97
    assert net.loss_history_[-1][1] < net.loss_history_[0][1] / 100


# ---- initialisers and convolution --------------------------------------------------------------------

# The uniform limit or the normal standard deviation for fan_in 400, fan_out 300, from the book's table
# (ch. 11), evaluated by hand: sqrt(3/400), sqrt(6/700), sqrt(6/400); sqrt(1/400), sqrt(2/700), sqrt(2/400).
BOOK_SPREADS = {"uniform": 0.05, "lecun_uniform": 0.08660254, "glorot_uniform": 0.09258201,
                "he_uniform": 0.12247449, "normal": 0.05, "lecun_normal": 0.05, "glorot_normal": 0.05345225,
                "he_normal": 0.07071068}


@pytest.mark.parametrize("name", [n for n in INITIALIZERS if n != "constant"])
def test_initializers_have_the_books_spread(name):
    fan_in, fan_out = 400, 300
    W = initialize(name, (fan_in, fan_out), rng=np.random.default_rng(0))
    spread = BOOK_SPREADS[name]
    assert abs(W.mean()) < spread * 0.02
    if name.endswith("uniform"):
        assert W.min() >= -spread * (1 + 1e-6) and W.max() <= spread * (1 + 1e-6) and W.max() > spread * 0.99
        assert W.std() == pytest.approx(spread / np.sqrt(3), rel=0.02)
    else:
        assert W.std() == pytest.approx(spread, rel=0.02)


def test_constant_initializer():
    assert np.all(initialize("constant", (3, 2), value=0.5) == 0.5)


@pytest.mark.parametrize("name", list(KERNELS))
def test_convolve_equals_filter2d(name):
    image = np.random.default_rng(6).integers(0, 256, size=(37, 53), dtype=np.uint8)
    expected = cv2.filter2D(image, -1, KERNELS[name], borderType=cv2.BORDER_REPLICATE)
    assert np.abs(convolve(image, KERNELS[name]).astype(int) - expected.astype(int)).max() <= 1


def test_convolve_rejects_a_colour_image():
    with pytest.raises(ArgumentError, match="image must be a 2-D greyscale"):
        convolve(np.zeros((5, 5, 3)), np.ones((3, 3)))


# ---- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, argument", [
    (lambda: SigmoidClassifier().fit(np.ones((4, 2)), np.ones(3)), "y must have one row per sample"),
    (lambda: SigmoidClassifier().fit(np.ones(4), np.ones(4)), "X must be a non-empty 2-D array"),
    (lambda: SigmoidClassifier().fit(np.array([[1.0, np.nan]]), [1]), "X contains NaN"),
    (lambda: SigmoidClassifier().fit(np.ones((2, 2)), [1.0, np.nan]), "y contains NaN"),
    (lambda: SGD(learning_rate=0), "learning_rate must be > 0"),
    (lambda: SGD(0.1, momentum=0, nesterov=True), "nesterov=True needs momentum > 0"),
    (lambda: SigmoidClassifier(epochs=0), "epochs must be an integer >= 1"),
    (lambda: Perceptron(alpha=-0.1), "alpha must be > 0"),
    (lambda: Perceptron().fit(np.ones((4, 2)), np.ones(4)).predict(np.ones((4, 3))), "X must have 2 features"),
    (lambda: Perceptron().predict(np.ones((4, 2))), "not fitted yet"),
    (lambda: NeuralNetwork([2, 1], alpha=0), "alpha must be > 0"),
    (lambda: NeuralNetwork([2, 1], epochs=0), "epochs must be"),
    (lambda: NeuralNetwork([2, 2]).fit(np.ones((4, 2)), np.ones(4)), "y must have 2 columns"),
    (lambda: NeuralNetwork([3, 1]).fit(np.ones((4, 2)), np.ones(4)), "X must have 3 features"),
    (lambda: NeuralNetwork([2, 1]).predict(np.ones((4, 2))), "not fitted yet"),
    (lambda: SigmoidClassifier().predict(np.ones((4, 2))), "not fitted yet"),
    (lambda: multiclass_hinge(np.ones((2, 3)), np.array([0, 3])), "labels must lie in"),
    (lambda: initialize("orthogonal", (3, 2)), "name must be one of"),
    (lambda: convolve(np.zeros((5, 5)), np.ones((2, 2))), "kernel must be 2-D with odd"),
])
def test_bad_input_raises_an_argument_error_naming_the_argument(call, argument):
    with pytest.raises(ArgumentError, match=argument):
        call()


@pytest.mark.parametrize("make", [
    lambda: Perceptron(epochs=5, seed=3),
    lambda: NeuralNetwork([2, 3, 1], epochs=50, batch_size=2, seed=3),
    lambda: SigmoidClassifier(SGD(0.1, momentum=0.9), epochs=5, batch_size=2, seed=3),
])
def test_fit_starts_from_fresh_weights_like_scikit_learn(make):
    """Hyperparameters in __init__, learned attributes ending in _, and a second fit that does not
    continue the first (same data, same seed: the same weights)."""
    X, y = bitwise("xor")
    model = make()
    assert getattr(model, "weights_", None) is None
    with pytest.raises(NotFittedError):
        model.predict(X)
    first = [np.copy(w) for w in _as_list(model.fit(X, y).weights_)]
    again = _as_list(model.fit(X, y).weights_)
    assert len(first) == len(again)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def _as_list(weights):
    return weights if isinstance(weights, list) else [weights]


def test_reference_package_imports_numpy_only():
    code = ("import sys, dlcv.reference\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'cv2', 'matplotlib', 'jax', 'torch')"
            " if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
