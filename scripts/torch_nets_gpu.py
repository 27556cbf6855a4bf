"""Run ../shared/anchors/nets.py (PyTorch's side of `vmdls bench
train-step|infer`) on the GPU: the same models, batches, losses and SGD,
with every tensor made on CUDA and TF32 off for cuDNN and cuBLAS, so that
the comparison with our float32 im2col+SGEMM path is float32 against
float32. Each step of nets.py ends with .item() or float(...), which waits
for the GPU, so its wall-clock step times are the GPU's.

    python3 scripts/torch_nets_gpu.py bin/anchors/nets.py --model resnet18 --mode train --batch 128 --threads 16 --no-gate --json out.jsonl

The first argument is the path of nets.py (../shared does not travel to the
GPU machine; scripts/build-cuda.sh copies it into bin/anchors/)."""
import runpy
import sys
import types

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
torch.set_default_device("cuda")

try:
    import threadpoolctl  # noqa: F401  (nets.py reports the host's BLAS pools)
except ImportError:
    sys.modules["threadpoolctl"] = types.SimpleNamespace(threadpool_info=lambda: [])

nets = sys.argv[1]
sys.argv = [nets] + sys.argv[2:]
print(f"# torch {torch.__version__} on {torch.cuda.get_device_name()}, cuDNN {torch.backends.cudnn.version()}, TF32 off", flush=True)
runpy.run_path(nets, run_name="__main__")
