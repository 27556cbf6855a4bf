"""Runs the reference's own test-time class fit on synthetic features: reference_fit.json.

    /usr/bin/python3 ovd/testdata/gen_reference_fit.py /work/.mirror/BGU-CS-VIL+vmdls/repo \
        > ovd/testdata/reference_fit.json

(the argument is a clone of BGU-CS-VIL/vmdls, bare or not). It parses the authors'
models/vae.py and runs GMM_VAE_Contrastive.test_step over the batches and then
calculate_gaussian, as they are (no copy of their code lives here), with PyTorch 1.13 on
the CPU and a stand-in `self` whose encoder hands back the stored features: taps 1-3, h
(get_layer_output 1..4) and mu (fc_mu). It writes the batches, the reference's jitter k
("Increases:" as calculate_gaussian prints it), its fitted means, a checksum of its final
float32 covariances, and the log-densities of query rows under its early_gaussians, both
as the reference evaluates them (float32) and in float64 from the same float32 covariance.

The features are shaped like the MNIST test line (vmdls test --batch_classes 1
--sample_count 4996: 12 batches, classes 0 and 1 fitted twice): five classes, one class
per batch, seven batches, so classes 0 and 1 are fitted twice and their mean comes out
halved. F = [tap1, tap2, tap3, h, mu] with taps of 20, h of 12 and mu of 8 (80 columns;
initialize_gaussians only allocates zeros, of layer_size = enc_out_dim + latent_dim + 300
for MNIST's taps of 100, and the stand-in allocates them at this smaller width). 32 rows
per batch in 80 columns and some dead (always 0) units make every covariance
rank-deficient, as the reference's are.

Every feature is a multiple of 1/64 small enough that every float32 sum and product of the
accumulation is exact, so the accumulated sums and XᵀX do not depend on the order of the
additions: the Go side's float32 covariances are then the reference's bit for bit, and the
jitter k tests the walk and the Cholesky's verdicts, not two summation orders. Classes 2-4
sit at large means (up to 8) with small spread, so the float32 cancellation in
E[xxᵀ] - mean·meanᵀ makes their covariances indefinite by far more than the jitter step,
as the reference's are; classes 0 and 1 have small means, so that the rank-one term the
halved mean adds stays small.
"""
import ast, contextlib, io, json, re, subprocess, sys
import numpy as np
import torch

src = subprocess.check_output(['git', '-C', sys.argv[1], 'show', 'HEAD:models/vae.py']).decode()
cls = next(n for n in ast.parse(src).body if isinstance(n, ast.ClassDef) and n.name == 'GMM_VAE_Contrastive')
fns = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}


class StubAE:
    """calculate_gaussian ends by loading the autoencoder; scoring here does not use it."""
    def load_from_checkpoint(self, path): return self


ns = {'torch': torch, 'ae_dict': {'mnist': (StubAE, 'models/ae_mnist.ckpt')}}
exec(compile(ast.Module(body=[fns['test_step'], fns['calculate_gaussian']], type_ignores=[]), 'vae.py', 'exec'), ns)

TAPS, H, MU = 20, 12, 8
D = 3 * TAPS + H + MU
C, N_PER, BATCHES = 5, 32, 7


class Encoder:
    """The stand-in encoder: the batch x is the feature rows themselves."""
    def __call__(self, x): return x
    def get_layer_output(self, x, i):
        lo = [0, TAPS, 2 * TAPS, 3 * TAPS][i - 1]
        return x[:, lo:lo + (TAPS if i < 4 else H)]


class Trainer:
    testing = True


class Self:
    def __init__(self):
        self.class_num, self.latent_dim, self.enc_out_dim, self.device = C, MU, H, 'cpu'
        self.known_dataset, self.is_tested, self.class_gaussian = 'mnist', 0, []
        self.trainer, self.encoder = Trainer(), Encoder()
        self.fc_mu = lambda v: v[:, D - MU:]
        z = lambda *s: torch.zeros(s, dtype=torch.float32)
        self.class_counts = z(C)
        self.class_temp_means, self.class_temp_cov = z(C, MU), z(C, MU, MU)
        self.class_means, self.class_cov = z(C, MU), z(C, MU, MU)
        self.early_temp_means, self.early_temp_cov = z(C, D), z(C, D, D)
        self.early_means, self.early_cov = z(C, D), z(C, D, D)

    def unfreeze(self): pass


rng = np.random.default_rng(18)
dead = rng.random(D) < 0.1
centre = np.where(np.arange(C)[:, None] >= 2, 64 * rng.integers(1, 9, (C, D)), rng.integers(0, 3, (C, D)))


def rows(c, n):
    q = centre[c] + rng.integers(-2, 3, (n, D))
    q[:, dead] = 0
    return q


batches = [(b % C, rows(b % C, N_PER)) for b in range(BATCHES)]
self = Self()
for i, (c, q) in enumerate(batches):
    x = torch.tensor(q / 64, dtype=torch.float32)
    xs = q.astype(np.float64) / 64
    # The exactness the file relies on: float32 accumulations equal the float64 ones.
    assert np.array_equal((x.T @ x).double().numpy(), xs.T @ xs) and np.array_equal(x.sum(0).double().numpy(), xs.sum(0))
    ns['test_step'](self, (x, torch.full((N_PER,), c, dtype=torch.int64)), i)
out = io.StringIO()
with contextlib.redirect_stdout(out):
    ns['calculate_gaussian'](self)
k = int(re.search(r'Increases: (\d+)', out.getvalue()).group(1))

query = np.vstack([batches[-1][1][:2], batches[3][1][:2]] + [rows(c, 2) for c in range(C)] + [rng.integers(-64, 600, (4, D))])
qx = torch.tensor(query / 64, dtype=torch.float32)
ll32 = torch.stack([g.log_prob(qx) for g in self.early_gaussians], 1)
ll64 = torch.stack([torch.distributions.MultivariateNormal(self.early_means[c].double(), self.early_cov[c].double()).log_prob(qx.double())
                    for c in range(C)], 1)


def checksum(m):
    """A row-major, sequential float64 sum of the entries weighted 1..7: equal on both sides only when the matrices match."""
    s = 0.0
    for i, v in enumerate(m.reshape(-1).tolist()):
        s += v * (1 + i % 7)
    return s


json.dump({
    'source': 'BGU-CS-VIL/vmdls models/vae.py (GMM_VAE_Contrastive.test_step, calculate_gaussian), run by '
              'ovd/testdata/gen_reference_fit.py with PyTorch ' + torch.__version__ + ' on the CPU',
    'classes': C, 'dim': D, 'taps': [TAPS, TAPS, TAPS], 'h': H, 'mu': MU, 'scale': 64,
    'batches': [{'labels': [c] * N_PER, 'q': q.tolist()} for c, q in batches],
    'k': k,
    'counts': self.class_counts.tolist(),
    'means': self.early_means.tolist(),
    'cov_diag': [self.early_cov[c].diagonal().tolist() for c in range(C)],
    'cov_checksum': [checksum(self.early_cov[c].double().numpy()) for c in range(C)],
    'query_q': query.tolist(),
    'logprob_float32': ll32.tolist(),
    'logprob_float64': ll64.tolist(),
}, sys.stdout)
