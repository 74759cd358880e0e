"""The later chapters end to end on tiny synthetic data: pre-trained ImageNet classifiers (random
weights, a stand-in class index), the captcha breaker, and smile detection in a synthetic video."""
import json

import cv2
import numpy as np
import pytest
from conftest import ROOT

from dlcv import cli
from dlcv.config import load_config
from dlcv.errors import DlcvError

# ---- pre-trained ImageNet networks (ch. 20) ---------------------------------------------------------


@pytest.fixture(scope="module")
def class_index(tmp_path_factory):
    path = tmp_path_factory.mktemp("index") / "index.json"
    names = ["beagle", "tabby", "panda", "tench"]
    path.write_text(json.dumps({str(i): [f"n0000000{i}", name] for i, name in enumerate(names)}))
    return path


def test_each_network_has_its_input_size_and_preprocessing(keras):
    from dlcv.casestudies.pretrained import NETWORKS

    sizes = {name: network.native_size for name, network in NETWORKS.items()}
    assert sizes == {"vgg16": 224, "vgg19": 224, "resnet50": 224, "inception_v3": 299, "xception": 299}
    ranges = {name: network.input_range for name, network in NETWORKS.items()}
    assert ranges == {"vgg16": "caffe", "vgg19": "caffe", "resnet50": "caffe", "inception_v3": "tf", "xception": "tf"}


def test_classify_ranks_the_networks_probabilities_and_names_them(keras, tmp_path, class_index, capsys):
    """A stand-in network whose softmax output is known: [tabby .6, tench .25, beagle .1, panda .05]."""
    from dlcv.casestudies.pretrained import NETWORKS, PretrainedClassifier

    inputs = keras.Input((224, 224, 3))
    logits = keras.layers.Dense(4, kernel_initializer="zeros",
                                bias_initializer=keras.initializers.Constant(np.log([0.1, 0.6, 0.05, 0.25])))(
        keras.layers.GlobalAveragePooling2D()(inputs))
    model = keras.Model(inputs, keras.layers.Softmax()(logits))
    from dlcv.casestudies.pretrained import read_class_index

    classifier = PretrainedClassifier(model, NETWORKS["resnet50"], read_class_index(class_index))
    guesses = classifier.classify(np.zeros((50, 70, 3), np.uint8), top=3)
    assert [g.label for g in guesses] == ["tabby", "tench", "beagle"]
    assert [g.wnid for g in guesses] == ["n00000001", "n00000003", "n00000000"]
    assert [g.probability for g in guesses] == pytest.approx([0.6, 0.25, 0.1], abs=1e-6)


def test_classify_prints_the_top_classes_and_draws_the_first(keras, tmp_path, class_index, capsys, console_output):
    from dlcv.casestudies.pretrained import classify_images

    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), np.random.default_rng(0).integers(0, 256, (180, 240, 3), dtype=np.uint8))
    results = classify_images([str(photo)], "resnet50", None, tmp_path / "out", str(class_index), top=3)
    guesses = results[str(photo)]
    assert len(guesses) == 3 and {g.label for g in guesses} <= {"beagle", "tabby", "panda", "tench"}
    printed = capsys.readouterr().out
    assert f"1. {guesses[0].label}" in printed and "resnet50, 224x224" in printed
    drawn = cv2.imread(str(tmp_path / "out" / "photo_resnet50.jpg"))
    assert drawn.shape == (180, 240, 3)  # the top guess drawn on a copy of the original


def test_a_local_weights_file_is_loaded(keras, tmp_path, class_index):
    from dlcv.casestudies.pretrained import PretrainedClassifier

    random_net = PretrainedClassifier.load("resnet50", None, class_index)
    weights = tmp_path / "resnet50.weights.h5"
    random_net.model.layers[-1].save_weights(weights)  # keras.applications.ResNet50's own weights
    reloaded = PretrainedClassifier.load("resnet50", str(weights), class_index)
    image = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert random_net.classify(image) == reloaded.classify(image)


def test_offline_without_cached_weights_names_the_file_to_provide(keras, tmp_path, class_index, monkeypatch):
    from dlcv.casestudies.pretrained import PretrainedClassifier

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] "
                        "Temporary failure in name resolution")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(DlcvError) as error:
        PretrainedClassifier.load("vgg16", "imagenet", class_index)
    message = str(error.value)
    assert "ImageNet weights vgg16_weights_tf_dim_ordering_tf_kernels.h5: not in" in message
    assert "--weights FILE" in message
    assert "\n" not in message
    with pytest.raises(DlcvError, match="ImageNet.s class index imagenet_class_index.json: not in .* --labels FILE"):
        PretrainedClassifier.load("vgg16", "imagenet")


def test_classify_command_rejects_an_unknown_network_and_a_bad_index(tmp_path, capsys):
    assert cli.main(["classify", "--network", "alexnet", str(ROOT / "README.md")]) == 2
    assert "unknown network 'alexnet'; expected one of: resnet50, vgg16, vgg19, inception_v3, xception" in \
        capsys.readouterr().err
    bad = tmp_path / "index.json"
    bad.write_text('["tench", "goldfish"]')
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.zeros((8, 8, 3), np.uint8))
    assert cli.main(["classify", "--weights", "none", "--labels", str(bad), str(photo)]) == 2
    assert "expected JSON like" in capsys.readouterr().err


# ---- the captcha breaker (ch. 21) ---------------------------------------------------------------------


def test_generated_captchas_segment_into_their_digits_left_to_right():
    from dlcv.casestudies.captcha import generate_captchas, segment_digits

    captchas = generate_captchas(80, seed=3)
    assert generate_captchas(2, seed=3)[1].text == captchas[1].text  # seeded
    for captcha in captchas:
        crops = segment_digits(captcha.image, 4)
        assert len(crops) == 4, captcha.text
        lefts = [c.box[0] for c in crops]
        rights = [c.box[0] + c.box[2] for c in crops]
        assert lefts == sorted(lefts) and all(right <= left for right, left in zip(rights, lefts[1:])), captcha.text


def test_the_pad_preprocessor_keeps_a_digits_shape():
    from dlcv.preprocessing import PadPreprocessor

    tall = np.full((40, 10), 200, np.uint8)
    tall[:, 3:7] = 0  # a vertical stroke: 40x10 becomes 28x7, padded by 10 and 11 columns
    out = PadPreprocessor(28, 28).preprocess(tall[:, :, None])
    assert out.shape == (28, 28, 1)
    assert out[:, 13:15].max() < 40 and out[:, :10].min() == 200  # stroke centred, sides replicated


def test_annotation_from_names_files_each_digit_crop_under_its_digit(tmp_path):
    from dlcv.casestudies.captcha import write_captchas
    from dlcv.casestudies.captcha.annotate import annotate, labels_from_name

    paths = write_captchas(tmp_path / "captchas", 12, seed=5)
    (tmp_path / "captchas" / "99999_1234.png").write_bytes(b"not a png")  # unreadable: skipped
    summary = annotate(sorted(map(str, (tmp_path / "captchas").iterdir())), tmp_path / "digits",
                       labels_from_name)
    digits = "".join(p.stem.split("_")[1] for p in paths)
    assert summary.written == {d: digits.count(d) for d in set(digits)}
    assert summary.skipped == [str(tmp_path / "captchas" / "99999_1234.png")]
    again = annotate(map(str, paths[:1]), tmp_path / "digits", labels_from_name)  # continues numbering
    assert sum(len(list((tmp_path / "digits" / d).glob("*.png"))) for d in set(digits)) == 48 + 4
    assert sum(again.written.values()) == 4


def test_the_keyboard_labeller_takes_a_key_per_crop_and_needs_a_screen(monkeypatch):
    from dlcv.casestudies.captcha import generate_captchas, segment_digits
    from dlcv.casestudies.captcha.annotate import keyboard_labels

    crops = segment_digits(generate_captchas(1, seed=4)[0].image, 4)
    with pytest.raises(DlcvError, match="needs a screen and OpenCV with GUI support"):
        keyboard_labels("c.png", crops)  # the headless OpenCV the tests install has no windows
    keys = iter([ord("7"), ord("'"), ord("a"), ord("3")])
    monkeypatch.setattr(cv2, "imshow", lambda title, image: None)
    monkeypatch.setattr(cv2, "waitKey", lambda delay: next(keys))
    assert keyboard_labels("c.png", crops) == ["7", None, "A", "3"]  # ' skips a crop


def test_the_captcha_breaker_reads_held_out_captchas(keras, tmp_path, capsys):
    """Generate, annotate, train LeNet through the engine, then read captchas it has never seen."""
    from dlcv.casestudies.captcha import write_captchas
    from dlcv.casestudies.captcha.annotate import annotate, labels_from_name
    from dlcv.casestudies.captcha.reader import read_captcha_files
    from dlcv.training.engine import train

    annotate(map(str, write_captchas(tmp_path / "train", 400, seed=1)), tmp_path / "digits", labels_from_name)
    config = load_config(ROOT / "configs" / "captcha_lenet.yaml",
                         [f"dataset.path={tmp_path / 'digits'}", f"output_dir={tmp_path}", "epochs=6"])
    result = train(config, verbose=0)
    assert result.test_accuracy > 0.95
    write_captchas(tmp_path / "held_out", 40, seed=2)
    accuracy = read_captcha_files(str(result.run_dir / "model.h5"), [str(tmp_path / "held_out")],
                                  tmp_path / "read", length=4)
    assert accuracy >= 0.85, capsys.readouterr().out[-2000:]
    assert len(list((tmp_path / "read").glob("*_read.png"))) == 40


# ---- smile detection (ch. 22) -------------------------------------------------------------------------


def drawn_face(size: int, smiling: bool, rng: np.random.Generator) -> np.ndarray:
    """A grey cartoon face a Haar cascade accepts: eyes, brows, nose, and a smiling or straight mouth."""
    face = np.full((size, size), int(rng.integers(40, 80)), np.uint8)
    c = size // 2
    cv2.ellipse(face, (c, c), (int(size * .38), int(size * .48)), 0, 0, 360, int(rng.integers(180, 220)), -1)
    for side in (-1, 1):
        cv2.ellipse(face, (c + side * int(size * .17), int(size * .40)), (int(size * .09), int(size * .05)),
                    0, 0, 360, 30, -1)
        cv2.line(face, (c + side * int(size * .08), int(size * .30)), (c + side * int(size * .26),
                 int(size * .30)), 40, max(size // 32, 2))
    cv2.line(face, (c, int(size * .45)), (c, int(size * .6)), 150, max(size // 40, 2))
    if smiling:
        cv2.ellipse(face, (c, int(size * .66)), (int(size * .17), int(size * .10)), 0, 10, 170, 40,
                    max(size // 20, 3))
    else:
        cv2.line(face, (c - int(size * .13), int(size * .73)), (c + int(size * .13), int(size * .73)), 60,
                 max(size // 32, 2))
    face = cv2.add(face, rng.normal(0, 6, face.shape).clip(-20, 20).astype(np.int8), dtype=cv2.CV_8U)
    return cv2.GaussianBlur(face, (5, 5), 0)


def write_smiles_folder(root, smiling: int, not_smiling: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for label, count in (("smiling", smiling), ("not_smiling", not_smiling)):
        (root / label).mkdir(parents=True)
        for i in range(count):
            cv2.imwrite(str(root / label / f"{i:04d}.jpg"), drawn_face(64, label == "smiling", rng))
    return root


def test_the_face_detector_finds_drawn_faces_and_validates_its_arguments():
    from dlcv.casestudies.faces import FaceDetector

    rng = np.random.default_rng(0)
    frame = np.full((240, 320), 120, np.uint8)
    frame[40:168, 150:278] = drawn_face(128, True, rng)
    (x, y, w, h), = FaceDetector().detect(frame)
    assert abs(x - 150) < 20 and abs(y - 40) < 20 and 100 < w < 160
    assert FaceDetector().detect(np.full((240, 320), 120, np.uint8)) == []
    with pytest.raises(ValueError, match="scale_factor must be > 1"):
        FaceDetector(scale_factor=1.0)
    with pytest.raises(DlcvError, match="cannot load the face cascade"):
        FaceDetector(cascade="missing.xml")


@pytest.mark.parametrize("route", ["fast", "fit"])
def test_balanced_class_weights_raise_the_minority_classs_recall(keras, tmp_path, route):
    from dlcv.training.engine import train

    root = write_smiles_folder(tmp_path / "faces", smiling=12, not_smiling=120)
    recalls = {}
    for weighting in ("none", "balanced"):
        config = load_config(ROOT / "configs" / "smiles_lenet.yaml", [
            f"dataset.path={root}", f"output_dir={tmp_path}", f"name={weighting}", "epochs=3",
            f"route={route}", f"class_weight={weighting}", "dataset.test_size=0.5", "dataset.val_size=0.2"])
        report = train(config, verbose=0).evaluation.report
        recalls[weighting] = report["classes"]["smiling"]["recall"]
    assert recalls["balanced"] > recalls["none"]


def test_smile_detection_labels_the_faces_of_a_video_and_writes_it(keras, tmp_path):
    from dlcv.casestudies.smiles import detect_smiles
    from dlcv.training.engine import train

    root = write_smiles_folder(tmp_path / "faces", smiling=60, not_smiling=150)
    config = load_config(ROOT / "configs" / "smiles_lenet.yaml",
                         [f"dataset.path={root}", f"output_dir={tmp_path}", "epochs=10"])
    result = train(config, verbose=0)
    assert result.prepared.class_names == ["not_smiling", "smiling"]

    rng, frames = np.random.default_rng(1), 12
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(frames):  # a smiling face drifting right; the second half, a straight face
        frame = np.full((240, 320, 3), 110, np.uint8)
        face = drawn_face(112, i < frames // 2, rng)
        frame[50:162, 40 + 8 * i:152 + 8 * i] = face[:, :, None]
        writer.write(frame)
    writer.release()

    summary = detect_smiles(str(result.run_dir / "model.h5"), str(video), tmp_path / "out" / "clip.avi")
    assert summary.frames == frames and summary.faces >= frames - 2
    assert summary.labels["smiling"] >= 3 and summary.labels["not_smiling"] >= 3
    written = cv2.VideoCapture(str(tmp_path / "out" / "clip.avi"))
    assert int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == frames
    assert not list((tmp_path / "out").glob(".tmp-*"))
    with pytest.raises(DlcvError, match="video file not found"):
        detect_smiles(str(result.run_dir / "model.h5"), str(tmp_path / "none.avi"), tmp_path / "x.avi")
