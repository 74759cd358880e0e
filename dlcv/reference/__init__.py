"""The from-scratch chapters in NumPy alone: losses, gradient descent, SGD with momentum and Nesterov,
regularisation, the perceptron, backpropagation, weight initialisers and convolution.

This package imports NumPy and nothing else — never TensorFlow or Keras — so it reads as the algorithms
themselves. Its scripts (``scripts/gradient_descent.py`` and friends) use scikit-learn for data and
reports and matplotlib for plots.
"""
from ._checks import ArgumentError, NotFittedError
from .convolution import KERNELS, convolve
from .gradient_descent import SigmoidClassifier
from .initializers import INITIALIZERS, initialize
from .linear import add_bias_column, fold_bias, linear_scores
from .losses import Loss, multiclass_hinge, softmax, softmax_cross_entropy
from .neuralnet import NeuralNetwork, forward, gradients, half_sse
from .optimizers import SGD
from .perceptron import Perceptron
from .regularization import Regularizer

__all__ = ["ArgumentError", "INITIALIZERS", "KERNELS", "NotFittedError", "Loss", "NeuralNetwork", "Perceptron",
           "Regularizer", "SGD",
           "SigmoidClassifier", "add_bias_column", "convolve", "fold_bias", "initialize", "linear_scores",
           "forward", "gradients", "half_sse", "multiclass_hinge", "softmax", "softmax_cross_entropy"]
