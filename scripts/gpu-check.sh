#!/bin/sh
# The GPU machine's check of the `cuda` build, run from the repo root after
# scripts/build-cuda.sh, e.g. through the device tool: sh scripts/gpu-check.sh
# Each step prints a header and goes on after a failure; the last line sums up.
set -u
R="sh bin/gpu-run.sh"
FAILED=""
step() { echo; echo "==== $*"; }
fail() { echo "---- FAILED: $1"; FAILED="$FAILED $1"; }

step "nvidia-smi"
nvidia-smi || fail nvidia-smi
step "glibc (the binary needs >= 2.34)"
ldd --version | head -1
step "libraries the binary resolves"
$R ldd bin/vmdls-cuda | grep -E 'cuda|cublas|nvrtc|not found' || fail ldd
step "vmdls info"
$R bin/vmdls-cuda info || fail info
step "self-test: every GPU op against the CPU (test binary)"
$R bin/cuda-selftest.test -test.run 'TestGPUSelfTest' -test.v || fail selftest
step "vmdls info --selftest (only once the command is wired to cuda.SelfTest)"
$R bin/vmdls-cuda info --selftest || echo "(not wired or failed; the test binary above is authoritative)"
step "cuBLAS SGEMM n=4096 (test binary)"
VMDLS_GEMM_N=4096 $R bin/cuda-selftest.test -test.run 'TestGPUBenchGemm' -test.v || fail bench
step "vmdls bench gemm --device cuda n=4096 (once wired)"
$R bin/vmdls-cuda bench gemm --device cuda --m 4096 --n 4096 --k 4096 || echo "(not wired yet)"
step "PyTorch torch.mm float32 n=4096, TF32 off, same GPU"
python3 scripts/torch_mm.py 4096 || fail torch
echo
if [ -z "$FAILED" ]; then echo "GPU CHECK: PASS"; else echo "GPU CHECK: FAILED:$FAILED"; exit 1; fi
