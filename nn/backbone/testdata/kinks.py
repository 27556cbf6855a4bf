"""The ReLU kink log shared by the backbone and autoencoder golden generators.

A ReLU's gradient jumps where its input crosses zero. A pre-activation that the float64
reference computes within float32 rounding of zero can land on the other side in a float32
run (Go's or PyTorch's own), and in train mode batch norm spreads that one flip over its
whole channel and every layer before it: normwise gradient errors of 1e-2 from a single
element while the forward agrees to 1e-6. So a generator logs, for every ReLU call in
order, the elements with |x| < KINK_REL * max|x| of that call and the side float64 put
them on; the Go tests replay those decisions (kinks_test.go) and compute everything else
independently. A flip outside the logged set would need a forward error of KINK_REL
relative, 20x the 5e-6 both float32 runs show.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

KINK_REL = 1e-4


class KinkLog:
    def __init__(self):
        self.on = False
        self.calls = []

    def relu(self, x):
        if self.on:
            with torch.no_grad():
                flat = x.detach().flatten()
                near = torch.nonzero(flat.abs() < KINK_REL * flat.abs().max()).flatten()
                self.calls.append(torch.where(flat[near] > 0, near + 1, -(near + 1)))
        return F.relu(x)

    def save(self, wr, name):
        """Add the log so far to writer wr as <name>.kinks and <name>.kink_counts, and clear
        it; returns the number of logged elements."""
        vals, counts = self.take()
        wr.add(name + ".kinks", vals)
        wr.add(name + ".kink_counts", counts)
        return vals.numel()

    def take(self):
        """The log so far as (signed index+1 per near-kink element, count per call), float32
        (exact: every index is below 2^24)."""
        calls, self.calls = self.calls, []
        vals = torch.cat(calls).to(torch.float32) if calls else torch.zeros(0)
        return vals, torch.tensor([float(len(c)) for c in calls], dtype=torch.float32)


KINKS = KinkLog()


class ReLU(nn.Module):
    """nn.ReLU through the kink log (stateless, so the state_dict keys are unchanged)."""
    def forward(self, x):
        return KINKS.relu(x)
