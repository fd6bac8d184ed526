"""
scipy's side of bench/grid.ts: reads the problems it wrote (JSON: cols, rows, points as float32 values), scales
each map onto the cell centres as gridAssignment.ts documents, builds the squared-distance cost matrix (cdist) and
times scipy.optimize.linear_sum_assignment on it (the solve only, best of --repeats). Prints JSON on stdout.

  /usr/bin/python3 bench/reference/grid_reference.py PROBLEMS.json [--repeats 1]
"""
import json
import sys
import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


def main() -> None:
    problems = json.load(open(sys.argv[1]))
    repeats = int(sys.argv[sys.argv.index('--repeats') + 1]) if '--repeats' in sys.argv else 1
    out = []
    for p in problems:
        cols, rows = p['cols'], p['rows']
        pts = np.asarray(p['points'], dtype=np.float64).reshape(-1, 2)
        lo, hi = pts.min(0), pts.max(0)
        scaled = np.stack([0.5 + (pts[:, 0] - lo[0]) / (hi[0] - lo[0]) * (cols - 1), 0.5 + (hi[1] - pts[:, 1]) / (hi[1] - lo[1]) * (rows - 1)], 1)
        k = np.arange(cols * rows)
        cost = cdist(np.stack([k % cols + 0.5, k // cols + 0.5], 1), scaled, 'sqeuclidean')
        best = float('inf')
        for _ in range(repeats):
            t = time.perf_counter()
            r, c = linear_sum_assignment(cost)
            best = min(best, time.perf_counter() - t)
        out.append({'name': p['name'], 'seconds': best, 'cost': float(cost[r, c].sum())})
    print(json.dumps(out))


if __name__ == '__main__':
    main()
