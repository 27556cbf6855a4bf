#!/bin/sh
# The GPU machine's check of the `cuda` build (issue 17), run from the repo
# root after scripts/build-cuda.sh, through the device tool with bin/
# carried:  sh scripts/gpu-check.sh
# In order: environment and libraries, the self-test (every primitive
# against the CPU), one training step of each encoder on the GPU against
# the CPU, images/s of nets.py's five training steps and inferences beside
# PyTorch's on the same GPU (TF32 off on both sides), cuBLAS SGEMM n=4096
# beside torch.mm. Each step has a timeout and the run goes on after a
# failure; the log is also written to $OUT/gpu-check.log (bin/ without $OUT).
# The last lines: the speed targets (training and inference at least 0.5x
# PyTorch's images/s, SGEMM at least 0.9x torch.mm), the PyTorch runs that
# failed if any (their rows get no ratio), and PASS or FAILED for our
# checks.
set -u
R="sh bin/gpu-run.sh"
LOGDIR=${OUT:-bin}
mkdir -p "$LOGDIR"
LOG=$LOGDIR/gpu-check.log
RES=$LOGDIR/gpu-speed.jsonl
: >"$RES"
STATUS=$(mktemp)
main() {
FAILED=""
ANCHOR="" # PyTorch runs that failed: no ratio for them, but no fault of ours
step() { echo; echo "==== $(date -u +%H:%M:%S) $*"; }
fail() { echo "---- FAILED: $1"; FAILED="$FAILED $1"; }

step "nvidia-smi"
timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv || fail nvidia-smi
step "glibc (the binary needs >= 2.34)"
ldd --version | head -1
step "libraries the binary resolves (none may be missing)"
LDD=$($R ldd bin/vmdls-cuda) || fail ldd
echo "$LDD" | grep -E 'cuda|cublas|nvrtc|not found'
if echo "$LDD" | grep -q 'not found'; then fail ldd-not-found; fi
step "vmdls info"
timeout 60 $R bin/vmdls-cuda info || fail info

step "self-test: every GPU primitive against the CPU"
# The passing checks' lines are left out; a FAIL line names the mismatch.
ST=$(mktemp)
timeout 120 $R bin/cuda-selftest.test -test.run '^TestGPUSelfTest$' -test.v >"$ST" 2>&1 || fail selftest
grep -v '^ok ' "$ST"; rm -f "$ST"

step "one training step of each encoder on the GPU against the CPU (1e-4), host copies counted"
timeout 240 $R bin/backbone-gpu.test -test.run '^TestGPUTrainStepMatchesCPU$' -test.v || fail trainstep

step "images/s: nets.py's workloads, vmdls (im2col + cuBLAS) then PyTorch (cuDNN), TF32 off"
NP=$(nproc)
for row in "mnist train 160 mnist-conv" "resnet18 train 128 resnet18" "vgg train 128 vgg" "densenet train 128 densenet" "wresnet train 128 wresnet" \
           "mnist infer 2500 mnist-conv" "resnet18 infer 256 resnet18" "vgg infer 256 vgg" "densenet infer 256 densenet" "wresnet infer 256 wresnet"; do
  set -- $row
  bench=train-step; [ "$2" = infer ] && bench=infer
  echo "-- $1 $2 batch $3"
  timeout 90 $R bin/vmdls-cuda bench $bench --gpus 0, --enc_type "$4" --batch_size "$3" --threads "$NP" --steps 10 --warmup 3 --clean 0 >>"$RES" \
    && tail -1 "$RES" || fail "vmdls-$1-$2"
  timeout 120 python3 scripts/torch_nets_gpu.py bin/anchors/nets.py --model "$1" --mode "$2" --batch "$3" --threads "$NP" \
    --steps 10 --warmup 3 --no-gate --json "$RES" | grep -v '^#' || ANCHOR="$ANCHOR torch-$1-$2"
done

step "SGEMM n=4096: cuBLAS through vmdls, then torch.mm (TF32 off)"
timeout 60 $R bin/vmdls-cuda bench gemm --device cuda --m 4096 --n 4096 --k 4096 >>"$RES" && tail -1 "$RES" || fail gemm
timeout 60 python3 scripts/torch_mm.py 4096 >>"$RES" && tail -1 "$RES" || ANCHOR="$ANCHOR torch-mm"

step "ratios (vmdls / PyTorch)"
python3 - "$RES" <<'PY' || fail ratios
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ours = {(r["enc_type"], r["bench"]): r for r in rows if "enc_type" in r}
name = {"mnist": "mnist-conv"}
missed = []
print(f"{'workload':28} {'vmdls img/s':>12} {'torch img/s':>12} {'ratio':>6}")
for r in rows:
    if "model" not in r:
        continue
    key = (name.get(r["model"], r["model"]), "train-step" if r["mode"] == "train" else "infer")
    o = ours.get(key)
    if o is None:
        continue
    ratio = o["images_per_s"] / r["img_per_s_med"]
    print(f"{key[0] + ' ' + r['mode'] + ' ' + str(r['batch']):28} {o['images_per_s']:12.1f} {r['img_per_s_med']:12.1f} {ratio:6.2f}")
    if ratio < 0.5:
        missed.append(f"{key[0]} {r['mode']} {ratio:.2f}x")
seen = {(name.get(r["model"], r["model"]), "train-step" if r["mode"] == "train" else "infer") for r in rows if "model" in r}
for enc in ["mnist-conv", "resnet18", "vgg", "densenet", "wresnet"]:
    for b in ["train-step", "infer"]:
        if (enc, b) not in ours or (enc, b) not in seen:
            missed.append(f"{enc} {b}: no ratio (a side did not run)")
g = [r for r in rows if r.get("op") == "sgemm"]
t = [r for r in rows if r.get("op") == "torch.mm"]
if not (g and t):
    missed.append("sgemm: no ratio")
else:
    ratio = g[0]["gflops"] / t[0]["gflops"]
    print(f"{'sgemm n=4096 GFLOP/s':28} {g[0]['gflops']:12.0f} {t[0]['gflops']:12.0f} {ratio:6.2f}")
    if ratio < 0.9:
        missed.append(f"sgemm {ratio:.2f}x")
print("SPEED TARGETS:", "met" if not missed else "missed: " + ", ".join(missed))
PY

[ -n "$ANCHOR" ] && echo "PyTorch anchors that did not run (no ratio):$ANCHOR"
echo
if [ -z "$FAILED" ]; then echo "GPU CHECK: PASS"; else echo "GPU CHECK: FAILED:$FAILED"; fi
echo "$FAILED" >"$STATUS"
}
main 2>&1 | tee "$LOG"
FAILED=$(cat "$STATUS"); rm -f "$STATUS"
[ -z "$FAILED" ]
