"""The book's API: a script in the book's style, with `pyimagesearch` replaced by `dlcv.pyimagesearch`,
runs on Keras 3 (given Keras 3 calls of its own)."""
import importlib
import json
import runpy
import sys

import cv2
import numpy as np
import pytest
from data_files import write_class_folders

# shallownet_animals.py as the book prints it (ch. 12) plus the TrainingMonitor of ch. 17, with the
# import prefix replaced and three Keras 3 calls: SGD(learning_rate=...), "accuracy", len(H.history).
BOOK_SCRIPT = '''
from sklearn.preprocessing import LabelBinarizer
from sklearn.model_selection import train_test_split
from sklearn.metrics import classification_report
from dlcv.pyimagesearch.preprocessing import ImageToArrayPreprocessor
from dlcv.pyimagesearch.preprocessing import SimplePreprocessor
from dlcv.pyimagesearch.datasets import SimpleDatasetLoader
from dlcv.pyimagesearch.nn.conv import ShallowNet
from dlcv.pyimagesearch.callbacks import TrainingMonitor
from keras.optimizers import SGD
from imutils import paths
import numpy as np
import argparse
import os

ap = argparse.ArgumentParser()
ap.add_argument("-d", "--dataset", required=True, help="path to input dataset")
ap.add_argument("-o", "--output", required=True, help="path to the output directory")
args = vars(ap.parse_args())

print("[INFO] loading images...")
imagePaths = list(paths.list_images(args["dataset"]))
sp = SimplePreprocessor(32, 32)
iap = ImageToArrayPreprocessor()
sdl = SimpleDatasetLoader(preprocessors=[sp, iap])
(data, labels) = sdl.load(imagePaths, verbose=10)
data = data.astype("float") / 255.0

(trainX, testX, trainY, testY) = train_test_split(data, labels, test_size=0.25, random_state=42)
trainY = LabelBinarizer().fit_transform(trainY)
testY = LabelBinarizer().fit_transform(testY)

print("[INFO] compiling model...")
opt = SGD(learning_rate=0.005)
model = ShallowNet.build(width=32, height=32, depth=3, classes=3)
model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

figPath = os.path.sep.join([args["output"], "{}.png".format(os.getpid())])
jsonPath = os.path.sep.join([args["output"], "{}.json".format(os.getpid())])
callbacks = [TrainingMonitor(figPath, jsonPath=jsonPath)]

print("[INFO] training network...")
H = model.fit(trainX, trainY, validation_data=(testX, testY), batch_size=8, epochs=6, verbose=0,
              callbacks=callbacks)

print("[INFO] evaluating network...")
predictions = model.predict(testX, batch_size=8)
print(classification_report(testY.argmax(axis=1), predictions.argmax(axis=1), target_names=["cat", "dog", "panda"]))
print("epochs run:", len(H.history["loss"]), "final accuracy:", H.history["accuracy"][-1])
'''


def test_a_book_style_script_trains_shallownet(keras, tmp_path, monkeypatch, capsys):
    root = write_class_folders(tmp_path / "animals", per_class=12)
    script = tmp_path / "shallownet_animals.py"
    script.write_text(BOOK_SCRIPT)
    (tmp_path / "output").mkdir()
    monkeypatch.setattr(sys, "argv", [str(script), "--dataset", str(root), "--output", str(tmp_path / "output")])
    runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out
    assert printed.count("[INFO] processed") == 3  # verbose=10 over 36 images, as the book's loader
    assert "epochs run: 6" in printed and "weighted avg" in printed
    history = json.loads(next((tmp_path / "output").glob("*.json")).read_text())
    assert len(history["loss"]) == 6 and history["loss"][-1] < history["loss"][0]
    assert next((tmp_path / "output").glob("*.png")).read_bytes()[:4] == b"\x89PNG"
    accuracy = float(printed.split("final accuracy:")[1])
    assert accuracy > 0.9  # one colour per class: learnt


def test_the_loader_gives_bgr_like_the_books_cv2_imread(tmp_path):
    from dlcv.pyimagesearch.datasets import SimpleDatasetLoader
    from dlcv.pyimagesearch.preprocessing import SimplePreprocessor

    folder = tmp_path / "reds"
    folder.mkdir()
    bgr = np.zeros((10, 10, 3), np.uint8)
    bgr[..., 2] = 200  # red, in OpenCV's order
    cv2.imwrite(str(folder / "a.png"), bgr)
    data, labels = SimpleDatasetLoader([SimplePreprocessor(4, 4)]).load([str(folder / "a.png")])
    assert data.shape == (1, 4, 4, 3) and labels.tolist() == ["reds"]
    np.testing.assert_array_equal(data[0], cv2.resize(cv2.imread(str(folder / "a.png")), (4, 4),
                                                      interpolation=cv2.INTER_AREA))


@pytest.mark.parametrize("module, names", [
    ("preprocessing.simplepreprocessor", ["SimplePreprocessor"]),
    ("preprocessing.aspectawarepreprocessor", ["AspectAwarePreprocessor"]),
    ("preprocessing.imagetoarraypreprocessor", ["ImageToArrayPreprocessor"]),
    ("datasets.simpledatasetloader", ["SimpleDatasetLoader"]),
    ("nn.conv.shallownet", ["ShallowNet"]), ("nn.conv.lenet", ["LeNet"]), ("nn.conv.minivggnet", ["MiniVGGNet"]),
    ("nn.perceptron", ["Perceptron"]), ("nn.neuralnetwork", ["NeuralNetwork"]),
    ("callbacks.trainingmonitor", ["TrainingMonitor"]), ("utils.captchahelper", ["preprocess"]),
])
def test_the_books_module_layout(module, names):
    imported = importlib.import_module(f"dlcv.pyimagesearch.{module}")
    assert all(hasattr(imported, name) for name in names)


def test_the_books_networks_build_with_its_signature(keras):
    from dlcv.pyimagesearch.nn.conv import LeNet, MiniVGGNet

    assert LeNet.build(width=28, height=28, depth=1, classes=10).count_params() == 1_256_080
    assert MiniVGGNet.build(32, 32, 3, 10).input_shape == (None, 32, 32, 3)


def test_the_books_perceptron_and_neural_network(capsys):
    from dlcv.pyimagesearch.nn import NeuralNetwork, Perceptron

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    p = Perceptron(X.shape[1], alpha=0.1)
    np.random.seed(1)  # as a reader would: the book's weights come from NumPy's global generator
    p.fit(X, np.array([[0], [1], [1], [1]]), epochs=20)
    first = p.W.copy()
    assert [int(p.predict(x)[0]) for x in X] == [0, 1, 1, 1] and p.W.shape == (3,)
    np.random.seed(1)
    p.fit(X, np.array([[0], [1], [1], [1]]), epochs=20)
    np.testing.assert_array_equal(p.W, first)  # the same seed, the same run
    nn = NeuralNetwork([2, 2, 1], alpha=0.5)
    assert [w.shape for w in nn.W] == [(3, 3), (3, 1)]  # weights exist from construction, as the book's
    nn.fit(X, np.array([[0], [1], [1], [0]]), epochs=200, displayUpdate=100)
    assert capsys.readouterr().out.count("[INFO] epoch=") == 3  # epochs 1, 100, 200
    assert nn.calculate_loss(X, np.array([[0], [1], [1], [0]])) >= 0


def test_captchahelper_pads_and_keeps_a_grey_crop_two_dimensional():
    from dlcv.pyimagesearch.utils.captchahelper import preprocess

    tall = np.full((40, 10), 200, np.uint8)
    tall[:, 3:7] = 0
    out = preprocess(tall, 28, 28)
    assert out.shape == (28, 28) and out[:, :10].min() == 200 and out[:, 13:15].max() < 40
