"""
The numpy brute force bench/neighbours.ts compares convscope's exact kNN with: cosine k nearest of each query row
by `X @ q` (BLAS, every thread numpy is given) over rows normalised once, then argpartition + argsort of the k best.

  /usr/bin/python3 bench/reference/knn_reference.py CODES.npy QUERY_ROWS(comma-separated) K  → one JSON line:
  {"msPerQuery": [...], "indices": [[...], ...], "distances": [[...], ...], "numpy": "...", "blas": "..."}

The matrix is memory-mapped and read into memory once before timing (as convscope keeps it resident); the norms are
computed once, outside the timing, as convscope does.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np


def main() -> None:
    path, rows, k = sys.argv[1], [int(r) for r in sys.argv[2].split(',')], int(sys.argv[3])
    x = np.array(np.load(path, mmap_mode='r'))
    norms = np.sqrt(np.einsum('ij,ij->i', x, x, dtype=np.float64)).astype(np.float32)
    ms, indices, distances = [], [], []
    for r in rows:
        q = x[r]
        t0 = time.perf_counter()
        sims = (x @ q) / (norms * norms[r])
        sims[r] = -np.inf  # the query itself is left out
        top = np.argpartition(-sims, k)[:k]
        top = top[np.argsort(-sims[top], kind='stable')]
        ms.append((time.perf_counter() - t0) * 1000)
        indices.append([int(i) for i in top])
        distances.append([float(1 - sims[i]) for i in top])
    blas = ''
    try:
        blas = np.__config__.get_info('blas_opt_info').get('libraries', [''])[0]
    except Exception:  # noqa: BLE001 - only a label
        pass
    print(json.dumps({'msPerQuery': ms, 'indices': indices, 'distances': distances, 'numpy': np.__version__, 'blas': blas}))


if __name__ == '__main__':
    main()
