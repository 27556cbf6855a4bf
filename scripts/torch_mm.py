"""torch.mm float32 throughput on the GPU with TF32 off: the comparison
for `vmdls bench gemm --device cuda`. Prints one JSON line."""
import json
import sys
import time

import torch

n = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
torch.backends.cuda.matmul.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
g = torch.Generator(device="cuda").manual_seed(0)
a = torch.rand(n, n, device="cuda", generator=g) * 2 - 1
b = torch.rand(n, n, device="cuda", generator=g) * 2 - 1
c = torch.empty(n, n, device="cuda")
torch.mm(a, b, out=c)
torch.cuda.synchronize()
inner = 1
while True:
    t0 = time.perf_counter()
    for _ in range(inner):
        torch.mm(a, b, out=c)
    torch.cuda.synchronize()
    if time.perf_counter() - t0 >= 0.2 or inner >= 1 << 16:
        break
    inner *= 2
secs = []
for _ in range(5):
    t0 = time.perf_counter()
    for _ in range(inner):
        torch.mm(a, b, out=c)
    torch.cuda.synchronize()
    secs.append((time.perf_counter() - t0) / inner)
s = sorted(secs)[len(secs) // 2]
print(json.dumps({"op": "torch.mm", "n": n, "tf32": torch.backends.cuda.matmul.allow_tf32,
                  "torch": torch.__version__, "device": torch.cuda.get_device_name(),
                  "seconds": s, "gflops": 2 * n ** 3 / s / 1e9}))
