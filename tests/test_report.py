"""report.html: the mistakes are exactly the misclassified test images, most confident first, with the
pixels the model saw; `dlcv report` writes it again, and says so when the data has moved."""
import base64
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import at_temperature
from data_files import write_class_folders

CAPTION = re.compile(r'<figure(?: id="(m-\d+-\d+)")? class=mistake><img alt="test image (\d+)(?:: [^"]*)?" '
                     r'src="data:image/png;base64,([^"]+)"><figcaption>#(\d+): true <b>(\w+)</b>, predicted '
                     r"<b>(\w+)</b> \(([0-9.]+)\)")
FILE = re.compile(r'<br><a class=file href="([^"]+)">([^<]+)</a></figcaption>')


@pytest.fixture(scope="module")
def weak_run(keras, tmp_path_factory):
    """A grey-image run trained too briefly to be right about everything."""
    from dlcv.config import load_config
    from dlcv.training.engine import train

    root = tmp_path_factory.mktemp("report")
    photos = write_class_folders(root / "photos", per_class=20, size=(12, 12))
    config = load_config(overrides=[f"output_dir={root / 'out'}", "name=weak", "dataset={name: folder, path: "
                                    f"{photos}, test_size: 0.5}}", "preprocessing={width: 8, height: 8, channels: 1}",
                                    "model={name: linear, params: {}}", "epochs=1", "batch_size=8",
                                    "optimizer.learning_rate=0.002", "callbacks.checkpoint=none"])
    return train(config, verbose=0)


def test_the_mistakes_are_the_misclassified_test_images_most_confident_first(weak_run):
    from dlcv.pipeline import predict_dataset

    test = weak_run.prepared.splits.test
    probabilities, labels = predict_dataset(weak_run.model, test)
    probabilities = at_temperature(probabilities, weak_run.run_dir)  # as the run gives them
    predicted = probabilities.argmax(axis=1)
    wrong = [i for i in range(len(labels)) if predicted[i] != labels[i]]
    expected = sorted(wrong, key=lambda i: -probabilities[i, predicted[i]])
    assert 3 <= len(expected) < len(labels)  # a model that gets some right and some wrong

    page = (weak_run.run_dir / "report.html").read_text()
    shown = CAPTION.findall(page)
    names = test.class_names
    assert [int(m[3]) for m in shown] == expected
    assert [(m[4], m[5]) for m in shown] == [(names[labels[i]], names[predicted[i]]) for i in expected]
    assert [float(m[6]) for m in shown] == pytest.approx([probabilities[i, predicted[i]] for i in expected], abs=1e-3)
    for _, _, data, index, *_ in shown[:3]:  # the very pixels the model was given
        pixels = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(pixels, test.images[int(index)][..., 0])
    # every count of the confusion matrix's mistakes links to the first of its images
    targets = set(re.findall(r'<a href="#(m-\d+-\d+)">', page))
    assert targets == {f"m-{labels[i]}-{predicted[i]}" for i in expected} == {m[0] for m in shown if m[0]}
    assert f"{len(expected)} of {len(labels)} test images misclassified" in page
    # each mistake names its file under the data set's folder, in its caption and its alt text, linked
    photos = weak_run.run_dir.parent.parent / "photos"
    files_shown = FILE.findall(page)
    assert [name for _, name in files_shown] == [str(Path(test.paths[i]).relative_to(photos)) for i in expected]
    assert all((weak_run.run_dir / href).resolve() == Path(test.paths[i]).resolve()
               for (href, _), i in zip(files_shown, expected))
    assert f'alt="test image {expected[0]}: {files_shown[0][1]}"' in page
    for part in ("<h2>Learning curves</h2>", "<h2>Per class</h2>", "<h2>Config</h2>", "name: weak"):
        assert part in page


def test_classes_named_like_the_reports_averages_keep_their_own_rows(keras, tmp_path):
    """Class folders called "accuracy" and "macro avg": scikit-learn's report dict would mix them with its
    averages; each class's scores have a section of their own, the run finishes, the page lists them."""
    from dlcv.config import load_config
    from dlcv.training.engine import train

    names = ("accuracy", "macro avg", "weighted avg")
    photos = write_class_folders(tmp_path / "photos", classes=names, per_class=8, size=(12, 12))
    config = load_config(overrides=[f"output_dir={tmp_path / 'out'}", "name=named", "dataset={name: folder, path: "
                                    f"{photos}, val_size: 0.2}}", "preprocessing={width: 8, height: 8, channels: 1}",
                                    "model={name: linear, params: {}}", "epochs=1", "callbacks.checkpoint=none"])
    result = train(config, verbose=0)
    report = json.loads((result.run_dir / "classification_report.json").read_text())
    assert list(report["classes"]) == list(names)
    assert report["classes"]["macro avg"]["support"] == 2 and isinstance(report["accuracy"], float)
    assert report["macro avg"]["support"] == 6  # the average's own row, over the 6 test images
    assert (result.run_dir / "results.json").is_file()
    page = (result.run_dir / "report.html").read_text()
    assert all(f"<tr><td>{name}</td>" in page for name in names)


def test_a_cap_keeps_the_page_small_and_says_so(weak_run, tmp_path):
    from dlcv.pipeline import predict_dataset
    from dlcv.report import write_report
    from dlcv.runs import RunFolder

    copy = RunFolder(shutil.copytree(weak_run.run_dir, tmp_path / "copy"))
    test = weak_run.prepared.splits.test
    evaluation = weak_run.task.score(*predict_dataset(weak_run.model, test))
    page = write_report(copy, evaluation, test, limit=2).read_text()
    assert len(CAPTION.findall(page)) == 2 and "the 2 most confident are shown (report.mistakes)" in page


def test_dlcv_report_writes_it_again_and_says_when_the_images_are_gone(weak_run, dlcv, tmp_path):
    run = shutil.copytree(weak_run.run_dir, tmp_path / "weak")
    (run / "report.html").unlink()
    said = dlcv("report", run, "--mistakes", "4")
    assert said.code == 0, said.err
    assert len(CAPTION.findall((run / "report.html").read_text())) == 4

    photos, moved = Path(weak_run.prepared.config.dataset.path), tmp_path / "elsewhere"
    shutil.move(photos, moved)  # the data moved since the run
    try:
        said = dlcv("report", run)
        page = (run / "report.html").read_text()
        assert said.code == 0, said.err
        assert "Not shown: the test images cannot be read" in page and "<h2>Per class</h2>" in page
        assert not CAPTION.findall(page)
    finally:
        shutil.move(moved, photos)


def test_dlcv_report_on_an_unfinished_run_is_one_line(dlcv, tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "history.json").write_text("{}")
    said = dlcv("report", tmp_path / "half")
    assert said.code == 2 and "no results.json there, so no finished run" in said.err
    assert len(said.err.strip().splitlines()) == 1


# What a browser makes of the page, read back from the DOM after loading: the page has no script of its
# own, so the test appends this probe to a copy and Chromium's --dump-dom returns the body's attribute.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const targets = [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute("href").slice(1));
  const external = [...document.querySelectorAll("[src], link[href]")].map(e => e.getAttribute("src") ||
    e.getAttribute("href") || "").filter(url => url && !url.startsWith("data:") && !url.startsWith("#"));
  const files = [...document.querySelectorAll("a.file")];
  document.body.setAttribute("data-probe", JSON.stringify({
    headings: [...document.querySelectorAll("h2")].map(h => h.textContent),
    images: images.length,
    decoded: images.filter(i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().height > 0).length,
    mistakes: document.querySelectorAll("figure.mistake").length,
    links: targets.length,
    dangling: targets.filter(id => !document.getElementById(id)).length,
    external: external,
    files: files.filter(a => a.getBoundingClientRect().height > 0).length,
    other_links: [...document.querySelectorAll("a[href]")].filter(a => !a.classList.contains("file") &&
      !a.getAttribute("href").startsWith("#")).length,
  }));
});
</script>"""


def chromium() -> str | None:
    return next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="no Chromium installed (Debian: apt-get install chromium)")
def test_headless_chromium_renders_every_part_of_the_report(weak_run, tmp_path):
    page = (weak_run.run_dir / "report.html").read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>") if "</body>" in page else page + PROBE)
    flags = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
             "--disable-background-networking", "--disable-component-update", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=5000", "--window-size=1280,2400"]
    dom = subprocess.run([*flags, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert found, dom.stderr[-2000:]
    probe = json.loads(html.unescape(found.group(1)))
    assert probe["headings"] == ["Learning curves", "Per class", "Confusion matrix", "Mistakes", "Confidence",
                                 "Config"]
    shown = len(CAPTION.findall(page))
    assert probe["mistakes"] == shown >= 3
    assert probe["images"] == probe["decoded"] == shown + 3  # the curves, every mistake, reliability, risk-coverage
    assert probe["links"] >= 1 and probe["dangling"] == 0
    assert probe["external"] == [] and probe["other_links"] == 0  # self-contained: nothing fetched from anywhere
    assert probe["files"] == shown  # each mistake's file named (and linked: the user's own photo, not fetched)

    shot = tmp_path / "report.png"  # and drawn: a screenshot of the page as it opens
    subprocess.run([*flags, f"--screenshot={shot}", (weak_run.run_dir / "report.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    pixels = cv2.imread(str(shot), cv2.IMREAD_GRAYSCALE)
    assert pixels.shape == (2400, 1280) and pixels.std() > 10
