"""Label tables (dlcv.data.table): CSV and JSON Lines, a label column or one 0/1 column per class, with or
without a split column, in another folder than their images; the same run as the folder of the same
images; each bad row one line before any image is decoded; dlcv data check and data build on a table."""
import csv
import json

import numpy as np
import pytest
from data_files import write_class_folders

from dlcv.config import load_config

CLASSES = ("cats", "dogs", "panda")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_class_folders(tmp_path_factory.mktemp("table") / "photos", per_class=10)


def listed(photos) -> list[tuple[str, str]]:
    """(path relative to the folder, class) of every photo, in the folder dataset's order."""
    return [(f"{name}/{path.name}", name) for name in CLASSES for path in sorted((photos / name).iterdir())]


def write_csv(path, header: list[str], rows: list[list]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def write_jsonl(path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def overrides(tmp_path, dataset: list[str], *more: str) -> list[str]:
    return [*dataset, "preprocessing.width=8", "preprocessing.height=8", f"output_dir={tmp_path / 'out'}",
            "model.name=linear", "model.params={}", "epochs=2", "dataset.cache=none", *more]


def table(path, photos) -> list[str]:
    return ["dataset.name=labels", f"dataset.path={path}", f"dataset.images={photos}"]


def test_a_table_trains_and_predicts_as_the_folder_of_its_images(keras, tmp_path, photos):
    from dlcv import app
    from dlcv.inference import load_classifier

    rows = [[path, name] for path, name in listed(photos)]
    rows.insert(7, ["cats/not_there.png", "cats"])  # one row of 31 without its file: 3%, under max_missing
    labels = write_csv(tmp_path / "tables" / "labels.csv", ["filename", "label"], rows)  # not beside the photos
    from_folder = app.train(None, overrides=overrides(tmp_path, ["dataset.name=folder", f"dataset.path={photos}"],
                                                      "name=folder"))
    from_table = app.train(None, overrides=overrides(tmp_path, table(labels, photos), "name=table"))
    assert from_table.prepared.class_names == list(CLASSES)
    assert from_table.test_accuracy == from_folder.test_accuracy  # the same split, the same training
    np.testing.assert_allclose(from_table.evaluation.probabilities, from_folder.evaluation.probabilities, atol=1e-6)
    results = json.loads((from_table.run_dir / "results.json").read_text())
    assert results["skipped_files"] == 1
    assert "line 9: cats/not_there.png (no such file)" in (from_table.run_dir / "skipped_files.txt").read_text()
    images = [str(photos / path) for path, _ in listed(photos)[::4]]
    assert [p.label for p in load_classifier(from_table.run_dir / "model.keras").predict_files(images)] == \
        [p.label for p in load_classifier(from_folder.run_dir / "model.keras").predict_files(images)]


def test_json_lines_and_one_hot_tables_hold_the_folders_rows(tmp_path, photos):
    """Every way of writing the same labels gives the folder's rows, in its split."""
    from dlcv.data import prepare_data

    rows = listed(photos)
    tables = {
        "json lines": write_jsonl(tmp_path / "a.jsonl", [{"image": p, "class": c} for p, c in rows]),
        "one-hot, found": write_csv(tmp_path / "b.csv", ["path", *CLASSES],
                                    [[p, *(int(c == k) for k in CLASSES)] for p, c in rows]),
        "one-hot, named": write_jsonl(tmp_path / "c.jsonl", [{"file": p, "note": "x", **{k: c == k for k in CLASSES}}
                                                             for p, c in rows]),
    }
    named = ["dataset.columns={path: file, label: [cats, dogs, panda]}"]
    folder = prepare_data(load_config(overrides=overrides(tmp_path, ["dataset.name=folder",
                                                                     f"dataset.path={photos}"])))
    for kind, path in tables.items():
        prepared = prepare_data(load_config(overrides=overrides(tmp_path, table(path, photos),
                                                                *(named if kind == "one-hot, named" else ()))))
        assert prepared.class_names == list(CLASSES), kind
        for part in ("train", "val", "test"):
            ours, theirs = getattr(prepared.splits, part), getattr(folder.splits, part)
            assert ours.paths == theirs.paths, (kind, part)
            np.testing.assert_array_equal(ours.images, theirs.images)
            np.testing.assert_array_equal(ours.labels, theirs.labels)


def test_a_split_column_is_used_as_given(tmp_path, photos):
    from dlcv.data import prepare_data

    parts = ["train", "train", "val", "test", "train"]
    rows = [[path, name, parts[i % 5]] for i, (path, name) in enumerate(listed(photos))]
    path = write_csv(photos / "split.csv", ["path", "label", "split"], rows)  # beside its photos: no images key
    prepared = prepare_data(load_config(overrides=overrides(tmp_path, ["dataset.name=labels",
                                                                       f"dataset.path={path}"])))
    for part, name in (("train", "train"), ("val", "val"), ("test", "test")):
        expected = [str(photos / p) for p, _, given in rows if given == name]
        assert list(getattr(prepared.splits, part).paths) == expected, part


BAD_TABLES = [
    ("path,label\ncats/cats_000.png,cats\ndogs/missing_1.png,dogs\ndogs/missing_2.png,dogs\n",
     "2 of 3 rows (67%) name files that are not under"),
    ("path,label,split\ncats/cats_000.png,cats,tst\n", "line 2: split 'tst'; expected train, val"),
    ("path,label\ncats/cats_000.png,cats\ndogs/dogs_000.png,\n", "line 3: empty label; expected a class name"),
    ("path,cats,dogs\ncats/cats_000.png,0,0\n", "line 2: no class is 1; expected exactly one per image"),
    ("task=single", "path,cats,dogs\ncats/cats_000.png,1,1\n", "line 2: cats and dogs are all 1; expected exactly one "
     "per image in a single-label table (several labels per image: task: multilabel)"),
    ("path,label\n../photos/cats/cats_000.png,cats\n", "line 2: path '../photos/cats/cats_000.png' leaves the images"),
    ("path,label\n/etc/hostname,cats\n", "line 2: path '/etc/hostname' leaves the images folder"),
    ("path,label\n..\\photos\\cats\\cats_000.png,cats\n", "line 2: path '../photos/cats/cats_000.png' leaves the "),
    ("picture,label\ncats/cats_000.png,cats\n", "no path column among picture, label; expected one of path"),
    ('{"path": "cats/cats_000.png", "label": "cats"}\n{"path": "dogs/dogs_000.png", "label": dogs}\n',
     "line 2: not valid JSON"),
    ('path,label\ncats/cats_000.png,cats\n"dogs/\n' + "x" * 140_000 + '",dogs\n',  # a row from line 3, over 2 lines
     "line 3: not valid CSV (field larger than field limit (131072))"),
    ("task=multilabel", "path,labels\ncats/cats_000.png,\ndogs/dogs_000.png,\n", "no label in any row; a classifier "
     "needs at least two classes"),
]


BAD_TABLES = [case if len(case) == 3 else ("", *case) for case in BAD_TABLES]  # (override, table, message)


@pytest.mark.parametrize("override, text, message", BAD_TABLES, ids=[m.split(";")[0][:40] for *_, m in BAD_TABLES])
def test_a_bad_row_is_one_line_before_any_image_is_decoded(dlcv, tmp_path, photos, monkeypatch, override, text,
                                                           message):
    from dlcv.data import sources

    def must_not_decode(*args, **kwargs):
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(sources, "decode_file", must_not_decode)
    path = tmp_path / ("bad.jsonl" if text.startswith("{") else "bad.csv")
    path.write_text(text)
    settings = overrides(tmp_path, table(path, photos), *([override] if override else []))
    said = dlcv("train", *[part for o in settings for part in ("--set", o)])
    assert said.code == 2 and said.err.count("\n") == 1, said.err
    assert message in said.err, said.err


def test_a_table_written_on_windows_names_the_same_files(tmp_path, photos):
    from dlcv.data.table import read_table

    rows = [[path, name] for path, name in listed(photos)]
    posix = read_table(write_csv(tmp_path / "posix.csv", ["path", "label"], rows), photos)
    windows = read_table(write_csv(tmp_path / "windows.csv", ["path", "label"],
                                   [[path.replace("/", "\\"), name] for path, name in rows]), photos)
    assert "cats\\cats_000.png" in (tmp_path / "windows.csv").read_text()
    assert windows.paths == posix.paths and len(posix.paths) == 30 and not windows.missing
    np.testing.assert_array_equal(windows.labels, posix.labels)


@pytest.mark.parametrize("delimiter", [";", "\t"])  # Excel's CSV where the decimal mark is a comma; a TSV
def test_a_csv_separated_by_semicolons_or_tabs_is_read_as_by_commas(tmp_path, photos, delimiter):
    from dlcv.data.table import read_table

    rows = [[path, name] for path, name in listed(photos)]
    commas = read_table(write_csv(tmp_path / "commas.csv", ["path", "label"], rows), photos)
    other = tmp_path / "other.csv"
    other.write_text("\ufeffpath" + delimiter + "label\n" + "".join(f"{p}{delimiter}{n}\n" for p, n in rows))
    read = read_table(other, photos)
    assert read.paths == commas.paths and read.class_names == list(CLASSES)
    np.testing.assert_array_equal(read.labels, commas.labels)


def test_data_check_on_a_table_names_missing_unlisted_and_repeated_files(dlcv, tmp_path, photos):
    rows = [[path, name] for path, name in listed(photos)[:-2]]       # the last two photos named by no row
    rows += [["cats/gone.png", "cats"], rows[0]]                       # a missing file; a file named twice
    path = write_csv(tmp_path / "labels.csv", ["path", "label"], rows)
    said = dlcv("data", "check", path, "--images", photos)
    assert said.code == 1, said.err  # the file named twice is one picture twice
    assert "missing: 1 row(s) naming no file: line 30: cats/gone.png" in said.out
    assert "not in the table: 2 file(s) no row names: panda/panda_008.png, panda/panda_009.jpg" in said.out
    assert f"named twice: 1 file(s) two rows or more name: lines 2 and 31: {rows[0][0]}" in said.out
    assert "exact duplicates" in said.out
    rows[-1] = [rows[0][0], "dogs"]  # named twice under two labels: refused, as training refuses it
    said = dlcv("data", "check", write_csv(tmp_path / "labels.csv", ["path", "label"], rows), "--images", photos)
    assert said.code == 2 and f"line 31: {rows[0][0]} is labelled dogs, but line 2 labels it cats" in said.err


def test_data_build_writes_a_tables_images_into_a_store(dlcv, tmp_path, photos):
    from dlcv.data.store import load_store

    path = write_jsonl(tmp_path / "labels.jsonl", [{"path": p, "label": c} for p, c in listed(photos)])
    built = dlcv("data", "build", path, "--images", photos, "--width", "8", "--height", "8",
                 "--output", tmp_path / "table.h5")
    assert built.code == 0, built.err
    stored = load_store(tmp_path / "table.h5")
    assert stored.class_names == list(CLASSES) and len(stored.labels) == 30
    np.testing.assert_array_equal(np.bincount(stored.labels), [10, 10, 10])
