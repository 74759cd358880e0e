#!/usr/bin/env python
"""``dlcv serve`` under load: a bounded aiohttp client against the real server on 127.0.0.1.

For a ShallowNet and a MiniVGGNet trained briefly on the Animals sample (32x32), their Keras model and
ONNX export, batching on (``--max-batch 32``) and off (``--max-batch 1``): throughput and p50/p99 latency
of single-photo requests (raw JPEG bodies, decoded and resized by the server) at 1, 8 and 64 concurrent
clients; then the server's resident memory over 20,000 requests, and 64 clients against a queue of 16
(only 503s above saturation).

    python benchmarks/serve_load.py --images ../shared/datasets/animals-sample
    python benchmarks/serve_load.py --images ... --requests 200 --memory-requests 500   # a quick look
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = {"shallownet": "configs/shallownet_animals.yaml", "minivggnet": "configs/minivggnet_animals.yaml"}


class Server:
    def __init__(self, model: Path, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "dlcv", "serve", str(model), "--port", "0", *args],
                                        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        said = []
        found = None
        while not found and len(said) < 50:  # its own lines first (a run it loads may say one)
            line = self.process.stdout.readline()
            said.append(line)
            found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
            if not line:
                break
        if not found:  # stopped first: reading the stderr of a live server would wait for ever
            self.process.kill()
            _, err = self.process.communicate(timeout=60)
            raise RuntimeError("".join(said) + err[-2000:])
        self.url = found.group(1)

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


async def load(url: str, photos: list[bytes], clients: int, requests: int) -> dict:
    """``requests`` single-photo requests from ``clients`` concurrent clients: seconds each, statuses."""
    import aiohttp

    latencies, statuses = [], {}
    counter = iter(range(requests))

    async def client(session):
        for i in counter:
            started = time.perf_counter()
            async with session.post(url + "/v1/predict", data=photos[i % len(photos)],
                                    headers={"Content-Type": "image/jpeg"}) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        seconds = time.perf_counter() - started
    return {"clients": clients, "requests": requests, "per_second": round(requests / seconds, 1),
            "p50_ms": round(1000 * float(np.percentile(latencies, 50)), 1),
            "p99_ms": round(1000 * float(np.percentile(latencies, 99)), 1), "statuses": statuses}


def models(images: Path, output: Path) -> dict[str, dict[str, Path]]:
    """Each network trained for 3 epochs (once) and exported to ONNX: {network: {format: path}}."""
    from dlcv import app

    found = {}
    for name, config in NETWORKS.items():
        run = output / name
        if not (run / "results.json").is_file():
            app.train(ROOT / config, overrides=[f"dataset.path={images}", "epochs=3", f"output_dir={output}",
                                                f"name={name}", "preprocessing.width=32", "preprocessing.height=32"])
        if not (run / "export" / "model.onnx").is_file():
            app.export(run, formats=["onnx"], force=True)
        found[name] = {"keras": run / "model.keras", "onnx": run / "export" / "model.onnx"}
    return found


def serving_rows(images: Path, output: Path, requests: int = 1000, networks=("shallownet",),
                 formats=("keras", "onnx"), concurrency=(1, 8, 64)) -> list[dict]:
    """The load table's rows (``main``'s first part): each network and format, batching on and off."""
    photos = [p.read_bytes() for p in sorted(images.rglob("*.jpg"))[:64]]
    rows = []
    for network, paths in models(images, output).items():
        if network not in networks:
            continue
        for fmt in formats:
            for batching, max_batch in (("on", "32"), ("off", "1")):
                server = Server(paths[fmt], "--max-batch", max_batch)
                try:
                    for clients in concurrency:
                        result = asyncio.run(load(server.url, photos, clients, requests))
                        rows.append({"network": network, "format": fmt, "batching": batching, **result})
                        print(json.dumps(rows[-1]), flush=True)
                finally:
                    server.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="a <class>/<image> folder (the Animals sample)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per measurement")
    parser.add_argument("--memory-requests", type=int, default=20000)
    parser.add_argument("--output", type=Path, default=ROOT / "output" / "serve-load")
    args = parser.parse_args()
    photos = [p.read_bytes() for p in sorted(args.images.rglob("*.jpg"))[:64]]
    rows = serving_rows(args.images, args.output, args.requests, networks=tuple(NETWORKS))
    keras_model = models(args.images, args.output)["shallownet"]["keras"]
    server = Server(keras_model)
    try:
        asyncio.run(load(server.url, photos, 8, 500))  # warm: allocator pools, caches
        before = server.rss_mb()
        memory = asyncio.run(load(server.url, photos, 8, args.memory_requests))
        memory.update(rss_before_mb=round(before, 1), rss_after_mb=round(server.rss_mb(), 1))
        print(json.dumps({"memory": memory}), flush=True)
    finally:
        server.stop()
    server = Server(keras_model, "--max-queue", "16", "--max-batch", "8", "--max-wait-ms", "20")
    try:
        saturated = asyncio.run(load(server.url, photos, 64, args.requests))
        print(json.dumps({"saturated": saturated}), flush=True)
    finally:
        server.stop()
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "serve-load.json").write_text(json.dumps({"rows": rows, "memory": memory,
                                                              "saturated": saturated}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
