"""The book's ``pyimagesearch.nn``: the perceptron and the backpropagation network (ch. 10)."""
from .neuralnetwork import NeuralNetwork
from .perceptron import Perceptron

__all__ = ["NeuralNetwork", "Perceptron"]
