"""``dlcv serve``: the real server in a subprocess on 127.0.0.1 (one shared across the tests), each request
form, the same labels as ``dlcv predict``, batching under concurrent clients, every bound, SIGTERM."""
import base64
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, Server

pytestmark = pytest.mark.slow
MULTILABEL_RUN = ROOT / "tests" / "fixtures" / "runs" / "multilabel"


def multipart(files: list[tuple[str, bytes]], field: str = "images") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
             f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n" for name, data in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def predict(server: Server, files: list[tuple[str, bytes]], query: str = ""):
    body, content_type = multipart(files)
    return server.call("/v1/predict" + query, body, content_type)


def oversized(server: Server, length: int):
    """A request declaring a ``length``-byte body, of which only the first kilobyte is sent: the server
    answers from the header, as it should, before the rest would arrive (a client sending all of it may
    meet the closed connection first: a broken pipe, not an answer)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(f"POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n"
                           f"Content-Length: {length}\r\n\r\n".encode() + b"\0" * 1024)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, body = answer.split(b"\r\n\r\n", 1)
    status = int(head.split()[1])
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    return status, headers, json.loads(body)


def _length(answer: bytes) -> int:
    found = re.search(rb"(?i)content-length: (\d+)", answer)
    return int(found.group(1)) if found else 0


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("digits")
    digits = load_digits()
    for i in range(12):
        cv2.imwrite(str(folder / f"{i:02d}.png"), (digits.images[i] * 15).astype(np.uint8))
    return sorted(folder.glob("*.png"))


@pytest.fixture(scope="module")
def server(digits_run):
    """The quickstart run served with room to batch (20 ms), a small queue and a 1 MB body limit."""
    served = Server(digits_run.run_dir, "--max-wait-ms", "20", "--max-queue", "40", "--max-body-mb", "1")
    yield served
    assert served.stop() == 0


def test_each_request_form_gets_the_labels_dlcv_predict_gives(server, digits_run, digit_files, dlcv):
    said = dlcv("predict", "--model", digits_run.run_dir / "model.keras", *digit_files, "--format", "json")
    expected = {Path(record["path"]).name: record for record in json.loads(said.out)}
    status, _, answer = predict(server, [(path.name, path.read_bytes()) for path in digit_files])
    assert status == 200 and [record["path"] for record in answer["predictions"]] == [p.name for p in digit_files]
    for record in answer["predictions"]:
        assert record["label"] == expected[record["path"]]["label"]
        assert record["probability"] == pytest.approx(expected[record["path"]]["probability"], abs=1e-5)
        assert len(record["probabilities"]) == 10
        assert sum(record["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    first = digit_files[0]
    status, _, raw = server.call("/v1/predict?top=3", first.read_bytes(), "image/png")
    assert status == 200 and raw["predictions"][0]["path"] == "0" and len(raw["predictions"][0]["top"]) == 3
    assert raw["predictions"][0]["label"] == expected[first.name]["label"]
    body = json.dumps({"images": [base64.b64encode(p.read_bytes()).decode() for p in digit_files[:2]]}).encode()
    status, _, encoded = server.call("/v1/predict", body, "application/json")
    assert status == 200 and [r["label"] for r in encoded["predictions"]] == [expected[p.name]["label"]
                                                                             for p in digit_files[:2]]


def test_health_readiness_metadata_and_metrics(server, digits_run):
    assert server.announced.rstrip().endswith(
        ": POST images to /v1/predict (max batch 32, max wait 20 ms, max queue 40); GET /healthz, /readyz, /metadata, "
        "/metrics; SIGTERM drains and stops")
    assert server.call("/healthz")[:2][0] == 200 and server.call("/readyz")[2] == {"status": "ready"}
    _, _, spec = server.call("/metadata")
    model = digits_run.run_dir / "model.keras"
    assert spec["model"] == {"path": "model.keras", "sha256": hashlib.sha256(model.read_bytes()).hexdigest()}
    assert spec["labels"] == [str(k) for k in range(10)] and spec["input"]["shape"] == [None, 8, 8, 1]
    _, _, metrics = server.call("/metrics")
    assert "dlcv_queue_depth 0.0" in metrics and "dlcv_request_seconds_bucket" in metrics


def test_concurrent_clients_are_answered_in_shared_batches(server, digit_files):
    def one(i):
        path = digit_files[i % len(digit_files)]
        return predict(server, [(path.name, path.read_bytes())])[0]

    before = _batches(server)
    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(one, range(48))) == {200}
    images, calls = (after - was for after, was in zip(_batches(server), before))
    assert images == 48 and calls < 48  # fewer model calls than images: some batches held several


def _batches(server) -> tuple[float, float]:
    _, _, text = server.call("/metrics")
    values = dict(re.findall(r"^dlcv_batch_size_(sum|count) (\S+)$", text, flags=re.M))
    return float(values["sum"]), float(values["count"])


def test_every_bad_request_gets_its_status_and_the_server_goes_on(server, digit_files, tmp_path):
    from data_files import write_png_bomb

    image = digit_files[0].read_bytes()
    bomb = write_png_bomb(tmp_path / "bomb.png", side=10_000).read_bytes()  # 100 M pixels, over the limit
    cases = [
        (predict(server, [("a.png", image)] * 41), 503, None),  # 41 images > --max-queue 40
        (oversized(server, 2 << 20), 413, None),
        (server.call("/v1/predict", b"hello", "text/plain"), 415, None),
        (predict(server, [("a.png", image), ("b.png", b"not an image")]), 422, 1),
        (predict(server, [("bomb.png", bomb)]), 422, 0),
        (server.call("/v1/predict", b"{", "application/json"), 400, None),
        (predict(server, [("a.png", image)], "?top=0"), 400, None),
        (server.call("/predict", image, "image/png"), 404, None),  # a path it has not
        (server.call("/v1/predict"), 405, None),  # a GET where it takes a POST
    ]
    for (status, _, body), expected, index in cases:
        assert status == expected and body["error"]["code"] == expected and body["error"]["index"] == index, body
    assert cases[0][0][1]["Retry-After"] == "1"
    assert "has 100,000,000 pixels, more than the limit of 89,478,485" in cases[4][0][2]["error"]["message"]
    expected = "expected POST /v1/predict, or GET /healthz, /readyz, /metadata, /metrics"
    assert cases[7][0][2]["error"]["message"] == f"no POST /predict; {expected}"
    assert cases[8][0][2]["error"]["message"] == f"no GET /v1/predict; {expected}"
    assert predict(server, [("a.png", image)])[0] == 200 and server.call("/readyz")[0] == 200


def test_a_multi_label_run_serves_label_sets_and_sigterm_drains_in_flight_requests():
    served = Server(MULTILABEL_RUN, "--max-wait-ms", "1500")  # a lone image waits 1.5 s for company
    photo = png(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    answers = []
    request = threading.Thread(target=lambda: answers.append(predict(served, [("mosaic.png", photo)])))
    request.start()
    time.sleep(0.5)  # the request is in the batcher's queue now
    assert served.stop() == 0
    request.join(timeout=30)
    status, _, body = answers[0]
    assert status == 200, body
    (record,) = body["predictions"]
    thresholds = json.loads((MULTILABEL_RUN / "thresholds.json").read_text())["thresholds"]
    assert set(record["probabilities"]) == {"circles", "squares", "triangles"}
    assert record["labels"] == [name for name, p in record["probabilities"].items() if p >= thresholds[name]]


def test_a_bad_start_is_one_line_before_listening(dlcv, digits_run, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    said = dlcv("serve", digits_run.run_dir, "--port", str(port))
    assert said.code == 2 and said.err == (f"dlcv: error: --host 127.0.0.1 --port {port}: cannot listen there (in "
                                           "use); expected a free port\n")
    taken.close()
    said = dlcv("serve", tmp_path)
    assert said.code == 2 and "holds no model.keras or model.h5" in said.err
    (tmp_path / "serving.json").write_text("{}")
    said = dlcv("serve", tmp_path)
    assert said.code == 2 and "holds serving.json but no model of a known format" in said.err


def test_missing_packages_say_what_to_install(dlcv, digits_run, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "prometheus_client" else find_spec(name, *args))
    said = dlcv("serve", digits_run.run_dir)
    assert said.code == 2
    assert said.err == "dlcv: error: dlcv serve needs prometheus-client (pip install 'dlcv[serve]')\n"
