#!/usr/bin/env bash
# The Docker image built and run for real, as the README's commands run it, by an arbitrary host user:
#   1. docker build (after ../shared/docker/make-base.sh where no image registry is reachable);
#   2. the quickstart into a root-owned host folder: refused in one line saying how to fix it; the folder
#      made the user's as the README says; the quickstart again; every file on the host owned by that user;
#   3. dlcv predict on that run, photos mounted read-only; dlcv export, and predict on the ONNX export;
#   4. a folder dataset mounted read-only at /data (images made by this script) trained from there;
#   5. a run killed with `docker kill` mid-run, then --resume: every epoch in the history exactly once;
#   6. dlcv doctor in the container.
# Not part of CI: it downloads several GB. Usage, from the repository root (as root, or a docker group member):
#   bash docker/smoke.sh            # DLCV_SMOKE_UID=4321 by default: any uid but the image's own 1000
set -euo pipefail
cd "$(dirname "$0")/.."
image=${DLCV_IMAGE:-dlcv}
user="${DLCV_SMOKE_UID:-4321}:${DLCV_SMOKE_UID:-4321}"
work=$(mktemp -d /tmp/dlcv-smoke.XXXXXX)
chmod 755 "$work"
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'SMOKE FAILED: %s\n' "$*"; exit 1; }
run() { docker run --rm --user "$user" "$@"; }   # the README's `docker run --rm --user "$(id -u):$(id -g)"`

base=$(awk 'toupper($1)=="FROM" {print $2; exit}' Dockerfile)
if ! docker image inspect "$base" >/dev/null 2>&1 && [ -f ../shared/docker/make-base.sh ]; then
  step "no registry here: a local stand-in for $base (../shared/docker/make-base.sh)"
  bash ../shared/docker/make-base.sh
fi

step "docker build -t $image ."
started=$(date +%s)
docker build -q -t "$image" . >/dev/null
echo "built in $(( $(date +%s) - started )) s; image size $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.2f GB", $1/1e9}')"

step "quickstart into a root-owned output folder, as uid $user: refused in one line"
mkdir -p "$work/output"   # created by root, as on many cloud hosts
set +e
refused=$(run -v "$work/output:/output" "$image" train --set epochs=3 2>&1)
code=$?
set -e
echo "$refused" | tail -1
[ "$code" -eq 2 ] || fail "expected exit 2 for an unwritable output folder, got $code"
echo "$refused" | tail -1 | grep -q -- '--user' || fail "the error does not say how to fix the mount"

step "the folder made the user's (sudo chown -R \"\$(id -u):\$(id -g)\" output), then the quickstart"
chown -R "$user" "$work/output"
run -v "$work/output:/output" "$image" train --set epochs=5 | tail -3
[ -f "$work/output/quickstart/model.h5" ] && [ -f "$work/output/quickstart/results.json" ] || fail "no finished run on the host"

step "dlcv predict on that run, photos mounted read-only"
mkdir -p "$work/photos" && chown "$user" "$work/photos"
run -v "$work/photos:/photos" --entrypoint python "$image" -c '
import cv2
from sklearn.datasets import load_digits
digits = load_digits()
for i in range(5):
    cv2.imwrite(f"/photos/digit{i}-is-{digits.target[i]}.png", (digits.images[i] * 16).clip(0, 255).astype("uint8"))'
predicted=$(run -v "$work/output:/output" -v "$work/photos:/photos:ro" "$image" \
  predict --model output/quickstart/model.h5 /photos 2>/dev/null)
echo "$predicted"
[ "$(echo "$predicted" | grep -c 'digit')" -eq 5 ] || fail "expected 5 predictions"

step "dlcv export of that run, and predict on the ONNX export"
run -v "$work/output:/output" "$image" export output/quickstart --format saved_model onnx litert | tail -5
[ -f "$work/output/quickstart/export/model.onnx" ] && [ -f "$work/output/quickstart/export/serving.json" ] \
  || fail "no export on the host"
onnx=$(run -v "$work/output:/output" -v "$work/photos:/photos:ro" "$image" \
  predict --model output/quickstart/export/model.onnx /photos 2>/dev/null)
[ "$(echo "$onnx" | cut -f1,2)" = "$(echo "$predicted" | cut -f1,2)" ] || fail "the ONNX export labels differently"
echo "the ONNX export gives the same 5 labels"

step "a folder dataset mounted read-only at /data"
mkdir -p "$work/data" && chown "$user" "$work/data"
run -v "$work/data:/data" --entrypoint python "$image" -c '
import os, cv2, numpy as np
rng = np.random.default_rng(0)
for name, colour in (("red", (0, 0, 255)), ("blue", (255, 0, 0))):
    os.makedirs(f"/data/shapes/{name}", exist_ok=True)
    for i in range(40):
        image = rng.integers(0, 60, (48, 48, 3), dtype=np.uint8)
        x, y = rng.integers(4, 24, 2)
        cv2.rectangle(image, (int(x), int(y)), (int(x) + 20, int(y) + 20), colour, -1)
        cv2.imwrite(f"/data/shapes/{name}/{i:03d}.jpg", image)'
run -v "$work/data:/data:ro" -v "$work/output:/output" "$image" train --set name=shapes \
  --set dataset.name=folder --set dataset.path=datasets/shapes --set preprocessing.width=16 \
  --set preprocessing.height=16 --set preprocessing.channels=3 --set model.name=shallownet --set 'model.params={}' \
  --set epochs=5 | grep -E "test accuracy|run written"
[ -f "$work/output/shapes/model.keras" ] || fail "the folder dataset did not train"

step "docker kill mid-run, then --resume"
killed="dlcv-smoke-$$"
docker run -d --name "$killed" --user "$user" -v "$work/output:/output" "$image" train --set name=killed \
  --set epochs=150 --set route=fit >/dev/null
for _ in $(seq 240); do
  epoch=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['epoch'])" \
    "$work/output/killed/checkpoints/last.json" 2>/dev/null || echo 0)
  [ "$epoch" -ge 5 ] && break
  sleep 0.5
done
docker kill "$killed" >/dev/null && docker rm "$killed" >/dev/null
echo "killed after epoch $epoch was committed"
[ "$epoch" -ge 5 ] || fail "the run never committed 5 epochs"
[ ! -f "$work/output/killed/results.json" ] || fail "the run finished before it was killed; nothing was tested"
run -v "$work/output:/output" "$image" train --set name=killed --set epochs=150 --set route=fit --resume | grep -E "resum|test accuracy"
python3 - "$work/output/killed/history.json" <<'EOF' || fail "the resumed history is not every epoch once"
import json, sys
history = json.load(open(sys.argv[1]))
epochs = len(history["loss"])
assert epochs == 150, epochs
print(f"history: {epochs} epochs, each once")
EOF

step "every file on the host belongs to uid $user"
others=$(find "$work/output" ! -user "${user%%:*}" | head -5)
[ -z "$others" ] || fail "files not owned by $user: $others"
echo "$(find "$work/output" -type f | wc -l) files, all owned by $user"

step "dlcv doctor in the container"
run -v "$work/output:/output" "$image" doctor

rm -rf "$work"
printf '\nSMOKE PASSED\n'
