#!/usr/bin/python3
"""Arrays saved by numpy.save, for the test that --features_out's .npy writer writes NumPy's bytes:

    /usr/bin/python3 ovd/testdata/gen_npy.py

writes npy/float32_2x3.npy (arange(6) / 4 as float32, shape (2, 3)), npy/int64_3.npy ([-1, 0, 7])
and npy/float64_2.npy ([0.5, 1e-300]) beside this script. Tests never run it.
"""
import os

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "npy")
os.makedirs(HERE, exist_ok=True)
np.save(os.path.join(HERE, "float32_2x3.npy"), (np.arange(6) / 4).astype(np.float32).reshape(2, 3))
np.save(os.path.join(HERE, "int64_3.npy"), np.array([-1, 0, 7], dtype=np.int64))
np.save(os.path.join(HERE, "float64_2.npy"), np.array([0.5, 1e-300], dtype=np.float64))
print("numpy", np.__version__, "wrote", HERE)
