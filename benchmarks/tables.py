"""L1: reading and checking a label table of 100,000 rows (not its images), as a run does before it decodes
anything: every row parsed and checked, every file looked for, the split made."""
from __future__ import annotations

import csv
import json
import tempfile
import time
from pathlib import Path

from harness import Workload

ROWS = 100_000


def _table_folder(rows: int) -> Path:
    """``rows`` empty image files in 10 class folders (a table is checked, its images never decoded), and the
    same table as CSV and as JSON Lines."""
    root = Path(tempfile.mkdtemp(prefix="dlcv-l1-"))
    for c in range(10):
        (root / f"class{c}").mkdir()
    names = [(f"class{i % 10}/{i:06d}.jpg", f"class{i % 10}") for i in range(rows)]
    for path, _ in names:
        (root / path).touch()
    with open(root / "labels.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["path", "label"])
        writer.writerows(names)
    (root / "labels.jsonl").write_text("".join(json.dumps({"path": p, "label": c}) + "\n" for p, c in names))
    return root


def l1_label_table(rows: int = ROWS) -> Workload:
    from dlcv.config import DatasetConfig, PreprocessingConfig
    from dlcv.data.split import split_source
    from dlcv.data.table import read_table, table_source

    root = _table_folder(rows)

    def timed(work):
        def run() -> dict:
            started = time.perf_counter()
            count = work()
            seconds = time.perf_counter() - started
            return {"seconds": seconds, "rows_per_s": count / seconds}
        return run

    def floor():  # the csv module alone: rows parsed, nothing checked, no file looked for
        with open(root / "labels.csv", newline="") as stream:
            return sum(1 for _ in csv.reader(stream)) - 1

    def split_for_a_run():  # what dlcv train does before decoding: the table, the source, the split
        dataset = DatasetConfig(name="labels", path=str(root / "labels.csv"))
        source = table_source(dataset, PreprocessingConfig(width=32, height=32))
        return sum(len(part) for part in split_source(source, dataset, seed=42))

    routes = {"floor: csv.reader, rows only": timed(floor),
              "dlcv: read_table, CSV": timed(lambda: len(read_table(root / "labels.csv").paths)),
              "dlcv: read_table, JSON Lines": timed(lambda: len(read_table(root / "labels.jsonl").paths)),
              "dlcv: table, source and split": timed(split_for_a_run)}
    return Workload(name="L1", description=f"read and check a {rows:,}-row label table (every file looked for)",
                    unit=f"s per {rows:,} rows", baseline="floor: csv.reader, rows only", routes=routes)
