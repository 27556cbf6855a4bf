#!/bin/sh
# Build the `cuda` binaries on a machine without a GPU, against the CUDA
# headers and CUDA-13-soname link stubs that ../shared/gpu/cuda-sdk.sh
# prepares (nothing NVIDIA's lands in the repo). Results, all in the ignored
# bin/: vmdls-cuda (the command), cuda-selftest.test (the cuda package's
# tests, the GPU self-test among them), backbone-gpu.test (one training
# step of each encoder on the GPU against the CPU), gpu-run.sh (the launcher
# that finds libcublas/libnvrtc on the GPU machine) and anchors/ (PyTorch's
# nets.py). Then run scripts/gpu-check.sh there, carrying bin/.
set -eu
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/gpu}
eval "$(sh "$SHARED/cuda-sdk.sh" | tail -1)"
mkdir -p bin
go build -tags cuda -trimpath -o bin/vmdls-cuda ./cmd/vmdls
go test -tags cuda -c -trimpath -o bin/cuda-selftest.test ./cuda
go test -tags cuda -c -trimpath -o bin/backbone-gpu.test ./nn/backbone
cp "$SHARED/gpu-run.sh" bin/gpu-run.sh
# PyTorch's side of the timings: nets.py and its helper, which the GPU
# machine does not have (../shared does not travel).
mkdir -p bin/anchors
cp "$SHARED/../anchors/nets.py" "$SHARED/../anchors/quiet.py" bin/anchors/
echo "built: $(ls bin/vmdls-cuda bin/cuda-selftest.test bin/backbone-gpu.test bin/gpu-run.sh bin/anchors/nets.py | tr '\n' ' ')"
