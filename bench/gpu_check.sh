#!/usr/bin/env bash
# The GPU checks of issues 6 and 7 as one device run (the lent GPU machine has PyTorch, timm,
# onnxruntime and the rest, but not pydantic or simplejpeg, and cannot download them).
#
#   bash bench/gpu_check.sh wheels     # here: fetch the missing wheels into .whl/ (git-ignored)
#   bash bench/gpu_check.sh run        # there (device `run` with carry [".whl"]): tests + bench
#
# `run` installs the wheels under /tmp/site, runs the GPU tests (nvJPEG decode, onnxruntime
# CUDA/TensorRT providers where that onnxruntime has them) and bench/gpu_speed.py with its
# compile and torchrun rows, and leaves the logs and the figures in $OUT (or ./gpu_out).
# TEST_SECONDS / BENCH_SECONDS cap the two parts (240 s / 420 s), so a hang still returns the logs;
# BENCH_ARGS replaces the bench's arguments (e.g. BENCH_ARGS="--only synthetic on_device").
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=(pydantic pydantic-core annotated-types typing-inspection typing-extensions simplejpeg)

case "${1:-}" in
  wheels)
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      -d .whl "${WHEELS[@]}"
    ls .whl ;;
  run)
    out="${OUT:-gpu_out}"
    mkdir -p "$out"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
    python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)" \
      | tee -a "$out/gpu.txt"
    python3 -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())" \
      | tee -a "$out/gpu.txt" || true
    timeout "${TEST_SECONDS:-240}" python3 -m pytest -q -p no:cacheprovider -n 4 tests/test_gpu.py \
      tests/test_prefetch.py tests/test_device_decode.py tests/test_inference_backends.py \
      -k "nvjpeg or cuda or tensorrt or gpu" -rs 2>&1 | tee "$out/gpu_tests.txt" || true
    timeout "${BENCH_SECONDS:-420}" python3 bench/gpu_speed.py ${BENCH_ARGS:---compile --ddp 1} --json "$out/gpu_speed.json" \
      2>&1 | grep -v -i warning | tee "$out/gpu_speed.txt" ;;
  *)
    echo "usage: bash bench/gpu_check.sh wheels|run" >&2
    exit 2 ;;
esac
