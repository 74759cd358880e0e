"""What the model sees is what a client sends: dlcv's default decode is OpenCV's imread + an INTER_AREA
resize (EXIF orientation applied), so a client following serving.json gets dlcv's pixels and labels."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from data_files import (
    odd_format_images,
    opencv_client,
    structured_photo,
    write_class_folders,
    write_oriented_jpegs,
    write_photo_folders,
)

from dlcv.config import PreprocessingConfig, load_config
from dlcv.images import read_image
from dlcv.preprocessing import decode_file, preprocessors_for

WIDTH, HEIGHT = 16, 12


def upright_picture() -> np.ndarray:
    """A landscape BGR picture whose top-left corner is red and bottom-right blue: any turn shows."""
    picture = np.full((60, 90, 3), 128, np.uint8)
    picture[:20, :30] = (0, 0, 255)
    picture[40:, 60:] = (255, 0, 0)
    return picture


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory):
    """Every kind of file a user's folder holds: turned phone JPEGs, grey, CMYK, 16-bit and alpha PNGs, an
    animated GIF, and large photos (which the fast decode would shrink in the DCT domain)."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("odd-files")
    paths = {f"exif{o}": p for o, p in write_oriented_jpegs(folder, upright_picture()).items()}
    paths.update(odd_format_images(folder / "png"))
    photo = structured_photo(np.random.default_rng(3), (320, 240))
    Image.fromarray(cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)).convert("CMYK").save(folder / "cmyk.jpg", quality=92)
    paths["cmyk"] = folder / "cmyk.jpg"
    cv2.imwrite(str(folder / "grey.jpg"), cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    paths["grey_jpeg"] = folder / "grey.jpg"
    frames = [Image.fromarray(cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)), Image.new("RGB", (320, 240), "blue")]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])  # a palette of 256 colours
    paths["gif"] = folder / "animated.gif"
    alpha16 = np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]).astype(np.uint16) * 257
    cv2.imwrite(str(folder / "rgba16.png"), alpha16)
    paths["rgba16"] = folder / "rgba16.png"
    for i in range(4):
        textured = structured_photo(np.random.default_rng(i), (480, 360), grain=40)
        cv2.imwrite(str(folder / f"photo{i}.jpg"), textured)
        paths[f"photo{i}"] = folder / f"photo{i}.jpg"
    return paths


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied_as_photo_viewers_do(tmp_path, orientation):
    from PIL import Image, ImageOps

    path = write_oriented_jpegs(tmp_path, upright_picture())[orientation]
    viewer = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))  # Pillow, independently
    for image in (read_image(path), read_image(path, reduce_to=(8, 8))):  # exact and fast decodes alike
        assert image.shape[:2] in ((60, 90), (30, 45), (15, 23))  # landscape, as taken
    image = read_image(path)
    assert np.abs(image.astype(int) - viewer).mean() < 1.0
    assert tuple(image[5, 5]) > (200, 0, 0) and image[5, 5, 2] < 60  # red (RGB) at the top left
    assert image[-5, -5, 2] > 200 and image[-5, -5, 0] < 60  # blue at the bottom right


@pytest.mark.parametrize("channels", [3, 1])
def test_the_default_decode_is_the_documented_client_recipe_on_every_kind_of_file(odd_files, channels):
    chain = preprocessors_for(PreprocessingConfig(width=WIDTH, height=HEIGHT, channels=channels))
    for name, path in odd_files.items():
        dlcv = decode_file(str(path), channels, chain)
        client = opencv_client(path, WIDTH, HEIGHT, channels)
        assert dlcv.shape == client.shape == (HEIGHT, WIDTH, channels), name
        assert np.abs(dlcv.astype(int) - client).mean() <= 0.5, name


def test_the_fast_decode_is_a_skew_the_client_recipe_test_would_catch(odd_files):
    """The opt-in reduced decode gives other pixels than a client's, so the test above can fail."""
    chain = preprocessors_for(PreprocessingConfig(width=WIDTH, height=HEIGHT, channels=3))
    differences = [np.abs(decode_file(str(odd_files[f"photo{i}"]), 3, chain, decode="fast").astype(int)
                          - opencv_client(odd_files[f"photo{i}"], WIDTH, HEIGHT)).mean() for i in range(4)]
    assert min(differences) > 0.5


def test_the_decode_mode_is_recorded_keys_the_cache_and_predicts_as_trained(keras, tmp_path):
    from dlcv.data import prepare_data
    from dlcv.inference import load_classifier
    from dlcv.training.engine import train

    root = write_photo_folders(tmp_path / "photos", per_class=8, size=(320, 240))

    def config(decode):
        return load_config(overrides=[
            "dataset.name=folder", f"dataset.path={root}", f"preprocessing.width={WIDTH}",
            f"preprocessing.height={HEIGHT}", f"dataset.decode={decode}", "model.name=linear", "model.params={}",
            "epochs=1", f"output_dir={tmp_path / decode}", "name=run", "dataset.test_size=0.3", "dataset.val_size=0.25",
            f"dataset.cache_dir={tmp_path / 'cache'}"])

    exact, fast = prepare_data(config("exact")), prepare_data(config("fast"))
    caches = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(caches) == 2 and any("-exact-" in c for c in caches) and any("-fast-" in c for c in caches)
    assert np.abs(exact.splits.train.images.astype(int) - fast.splits.train.images).mean() > 0.5
    result = train(config("fast"), verbose=0)
    assert "decode: fast" in (result.run_dir / "config.yaml").read_text()
    run = load_classifier(result.run_dir / "model.h5")
    assert run.decode_mode == "fast"
    path = sorted(str(p) for p in root.rglob("*.jpg"))[0]  # row 0 of the listing
    np.testing.assert_array_equal(run.decode(path), fast.source.read(np.array([0]))[0][0])


@pytest.fixture(scope="module")
def served(keras, tmp_path_factory):
    """A folder run trained on photos (default decode), exported in all three formats."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("exports are written on the TensorFlow backend")
    from dlcv import app

    tmp = tmp_path_factory.mktemp("served")
    root = write_photo_folders(tmp / "photos", per_class=40, size=(128, 96))
    result = app.train(None, overrides=["dataset.name=folder", f"dataset.path={root}", f"preprocessing.width={WIDTH}",
                             f"preprocessing.height={HEIGHT}", "model.name=mlp", "model.params={hidden: [32]}",
                             "epochs=8", f"output_dir={tmp / 'out'}", "name=photos", "optimizer.learning_rate=0.01"])
    app.export(result.run_dir, formats=["saved_model", "onnx", "litert"], output=result.run_dir / "export")
    return root, result


def _client_runtimes(export):
    """Each export loaded by its own runtime, as a serving client does (no dlcv)."""
    import onnxruntime
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    signature = tf.saved_model.load(str(export / "saved_model")).signatures["serving_default"]
    session = onnxruntime.InferenceSession(str(export / "model.onnx"))

    def litert(batch):
        interpreter = Interpreter(model_path=str(export / "model.tflite"))
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        interpreter.resize_tensor_input(inp["index"], batch.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], batch)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return {"saved_model": lambda batch: next(iter(signature(images=tf.constant(batch)).values())).numpy(),
            "onnx": lambda batch: session.run(None, {session.get_inputs()[0].name: batch})[0],
            "litert": litert}


def test_a_client_following_serving_json_gets_dlcvs_labels_from_every_export(served, odd_files, dlcv, tmp_path):
    """The run's photos and every odd file (turned phone JPEGs, grey, CMYK, 16-bit and alpha PNGs), fed
    to each export by a client that follows serving.json with OpenCV: dlcv predict's labels, and its
    pixels within 0.5 grey levels."""
    root, result = served
    export = result.run_dir / "export"
    spec = json.loads((export / "serving.json").read_text())
    assert spec["decode"]["mode"] == "exact" and spec["decode"]["exact"]
    assert any("cv2.imread(path, cv2.IMREAD_COLOR)" in step for step in spec["decode"]["steps"])
    assert any("cv2.INTER_AREA" in step for step in spec["decode"]["steps"])
    odd = [str(path) for path in odd_files.values()]
    predicted = dlcv("predict", "--model", result.run_dir / "model.keras", root, *odd, "--format", "json")
    assert predicted.code == 0, predicted.err
    dlcv_labels = {row["path"]: row["label"] for row in json.loads(predicted.out)}
    paths = sorted(dlcv_labels)
    assert set(odd) <= set(paths) and len(paths) == 120 + len(odd)
    batch = np.stack([opencv_client(p, WIDTH, HEIGHT) for p in paths])
    from dlcv.inference import load_classifier

    run = load_classifier(result.run_dir / "model.keras")
    ours = np.stack([run.decode(p) for p in paths])
    assert np.abs(ours.astype(int) - batch).mean(axis=(1, 2, 3)).max() <= 0.5
    for name, forward in _client_runtimes(export).items():
        client_labels = [spec["labels"][i] for i in np.argmax(forward(batch), axis=1)]
        agreement = np.mean([dlcv_labels[p] == label for p, label in zip(paths, client_labels)])
        assert agreement >= 0.995, name
    assert result.test_accuracy > 0.8  # a trained model, not a constant one


# ---- decompression bombs ---------------------------------------------------------------------------------

BOMBED = """
import json, resource, sys
from dlcv import cli
model, bomb, photo, folder, out = sys.argv[1:]
predicted = cli.main(["predict", "--model", model, bomb, photo])
settings = ["dataset.name=folder", f"dataset.path={folder}", "epochs=1", "preprocessing.width=8",
            "preprocessing.height=8", "dataset.val_size=0.2", f"output_dir={out}", "name=bombed",
            "callbacks.monitor=false"]
trained = cli.main(["train", *[part for setting in settings for part in ("--set", setting)]])
print(json.dumps({"predict": predicted, "train": trained,
                  "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


@pytest.mark.slow
def test_a_decompression_bomb_is_skipped_unread_in_predict_and_in_training(tmp_path, digits_run):
    """A 0.9 MB PNG of 30000x30000 pixels (0.9 GB grey, 2.7 GB as colour once decoded) in a predict list and in a
    training folder: refused from its header, named and counted, memory bounded."""

    from data_files import write_png_bomb

    folder = write_class_folders(tmp_path / "photos", per_class=10, size=(12, 12))
    bomb = write_png_bomb(folder / "cats" / "huge.png")
    run = subprocess.run([sys.executable, "-c", BOMBED, str(digits_run.artefacts["model_h5"]), str(bomb),
                          str(folder / "dogs" / "dogs_001.jpg"), str(folder), str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["predict"] == 1 and outcome["train"] == 0  # predict: one image skipped, said in its status
    assert outcome["peak_bytes"] < 2 * 2**30
    assert "huge.png" in run.stderr and "more than the limit of 89,478,485" in run.stderr
    results = json.loads((tmp_path / "out" / "bombed" / "results.json").read_text())
    assert results["skipped_files"] == 1
    assert (tmp_path / "out" / "bombed" / "skipped_files.txt").read_text().strip().endswith("huge.png")


def test_the_pixel_limit_comes_from_the_config_or_the_environment(tmp_path, monkeypatch):
    from dlcv.images import UnreadableImage

    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), np.zeros((30, 40, 3), np.uint8))
    assert read_image(path).shape == (30, 40, 3)
    with pytest.raises(UnreadableImage, match="has 1,200 pixels, more than the limit of 1,199"):
        read_image(path, pixel_limit=1199)
    monkeypatch.setenv("DLCV_MAX_PIXELS", "1000")
    with pytest.raises(UnreadableImage, match="more than the limit of 1,000"):
        read_image(path)
    assert read_image(path, pixel_limit=1200).shape == (30, 40, 3)  # a config's limit wins


def test_a_damaged_file_is_said_once_in_dlcvs_words_and_opencv_prints_nothing(capfd):
    """OpenCV logs a damaged PNG's header at ERROR level on the process's stderr: dlcv's message alone."""
    from dlcv.images import UnreadableImage, decode_image

    capfd.readouterr()
    with pytest.raises(UnreadableImage, match=r"^cannot decode image 'broken.png' \(28 bytes\): damaged"):
        decode_image(b"\x89PNG\r\n\x1a\n" + bytes(20), "broken.png")
    with pytest.raises(UnreadableImage, match=r"^image 'empty.jpg' is empty \(0 bytes\)"):
        decode_image(b"", "empty.jpg")
    assert capfd.readouterr().err == ""


def test_read_image_is_rgb_and_converts_channels(tmp_path):
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    rgb = read_image(tmp_path / "red.png", channels=3)
    assert rgb[0, 0].tolist() == [200, 0, 0]
    paths = odd_format_images(tmp_path / "odd")
    for name, path in paths.items():
        for channels in (1, 3):
            image = read_image(path, channels=channels)
            assert image.dtype == np.uint8 and image.shape == (20, 30, channels), name
    grey = read_image(paths["grey"], channels=1)
    np.testing.assert_array_equal(read_image(paths["sixteen"], channels=1), grey)  # 16-bit scaled to 8


def test_a_gif_is_its_first_frame_as_pillow_reads_it(odd_files):
    from PIL import Image

    with Image.open(odd_files["gif"]) as gif:
        assert gif.n_frames == 2
        first = np.asarray(gif.convert("RGB"))  # the frame Pillow opens on: the first
    np.testing.assert_array_equal(read_image(odd_files["gif"]), first)
    assert first[..., 2].mean() < 200  # the photo, not the blue second frame
