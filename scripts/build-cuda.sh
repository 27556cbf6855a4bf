#!/bin/sh
# Build the `cuda` binaries on a machine without a GPU, against the CUDA
# headers and CUDA-13-soname link stubs that ../shared/gpu/cuda-sdk.sh
# prepares (nothing NVIDIA's lands in the repo). Results, all in the ignored
# bin/: vmdls-cuda (the command), cuda-selftest.test (the cuda package's
# tests, the GPU self-test among them) and gpu-run.sh (the launcher that
# finds libcublas/libnvrtc on the GPU machine). Then run scripts/gpu-check.sh
# there.
set -eu
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/gpu}
eval "$(sh "$SHARED/cuda-sdk.sh" | tail -1)"
mkdir -p bin
go build -tags cuda -trimpath -o bin/vmdls-cuda ./cmd/vmdls
go test -tags cuda -c -trimpath -o bin/cuda-selftest.test ./cuda
cp "$SHARED/gpu-run.sh" bin/gpu-run.sh
echo "built: $(ls bin/vmdls-cuda bin/cuda-selftest.test bin/gpu-run.sh | tr '\n' ' ')"
