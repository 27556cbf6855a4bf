"""Runs the reference's own CAUROC computation on small tie-free cases: reference_cauroc.json.

    git clone https://github.com/BGU-CS-VIL/vmdls /tmp/vmdls-ref
    /usr/bin/python3 ovd/metrics/testdata/gen_reference_cauroc.py /tmp/vmdls-ref \
        > ovd/metrics/testdata/reference_cauroc.json

It parses the authors' models/vae.py from that checkout and runs its get_fpr_tpr and the
threshold loop of plot_roc_curve as they are (no copy of their code lives here), with numpy
only: the module's other imports (Lightning, ...) are not needed.
"""
import ast, json, subprocess, sys
import numpy as np
src = subprocess.check_output(['git', '-C', sys.argv[1], 'show', 'HEAD:models/vae.py']).decode()
tree = ast.parse(src)
fns = {}
for node in ast.walk(tree):
    if isinstance(node, ast.FunctionDef) and node.name in ('get_fpr_tpr', 'plot_roc_curve'):
        fns[node.name] = node
mod = ast.Module(body=[fns['get_fpr_tpr']], type_ignores=[])
ns = {'np': np}
exec(compile(mod, 'vae.py', 'exec'), ns)
get_fpr_tpr = ns['get_fpr_tpr']
# The loop of plot_roc_curve, as its statements from "thresholds = ..." to "aurocNew += fp * tp_cor".
body = fns['plot_roc_curve'].body
start = next(i for i, s in enumerate(body) if isinstance(s, ast.Assign) and ast.unparse(s).startswith('thresholds = np.flip(np.geomspace'))
end = next(i for i, s in enumerate(body) if ast.unparse(s) == 'aurocNew += fp * tp_cor')
loop = ast.Module(body=body[start:end + 1], type_ignores=[])
code = compile(loop, 'vae.py', 'exec')

class Self:
    def __init__(self, c): self.class_num = c
    def get_fpr_tpr(self, *a): return get_fpr_tpr(self, *a)

def reference(values, pred, labels, c):
    env = {'np': np, 'self': Self(c), 'values': values, 'pred_labels': pred, 'labels': labels, 'tqdm': lambda x: x}
    exec(code, env)
    return env['aurocNew']

rng = np.random.default_rng(2022)
cases = []
for n, c, acc in [(40, 3, 0.8), (120, 5, 0.6), (300, 10, 0.9)]:
    labels = rng.integers(0, c + 1, n)
    values = -np.exp(rng.normal(1 + (labels == c) * 1.0, 0.7))
    pred = np.where(rng.random(n) < acc, np.minimum(labels, c - 1), rng.integers(0, c, n))
    assert len(np.unique(values)) == n
    cases.append({'num_classes': c, 'values': values.tolist(), 'pred': pred.tolist(), 'labels': labels.tolist(),
                  'reference_cauroc': float(reference(values, pred, labels, c))})
json.dump({'source': 'BGU-CS-VIL/vmdls models/vae.py (get_fpr_tpr, plot_roc_curve), run by a throwaway script with numpy ' + np.__version__,
           'cases': cases}, sys.stdout)
