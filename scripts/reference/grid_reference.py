"""
Independent reference costs for convscope's image-grid assignment (issue 13, engine/embeddings/gridAssignment.ts).

For seeded 2-D maps (uniform, and clustered the way t-SNE maps are) and grids of several shapes (as many cells as
points, more points than cells, fewer points than cells), scales the map onto the cell centres as documented in
gridAssignment.ts (x from [min, max] onto 0.5 … cols − 0.5, y from [max, min] onto 0.5 … rows − 0.5), builds the
squared-distance cost matrix with scipy's cdist and solves it with scipy.optimize.linear_sum_assignment. Writes the
map points (float32 values), the grid shape and scipy's minimum cost to test/golden/grid/assignment.json;
test/unit/gridAssignment.test.ts checks convscope reaches the same cost, so the test needs no Python.

Run with Debian's Python (it has scipy):  /usr/bin/python3 scripts/reference/grid_reference.py
"""
from __future__ import annotations

import json
import os

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
GOLDEN = os.path.join(ROOT, 'test', 'golden', 'grid', 'assignment.json')
SEED = 20261205

# (name, points, cols, rows, layout)
CASES = [
    ('square uniform 10x10', 100, 10, 10, 'uniform'),
    ('square clustered 20x20', 400, 20, 20, 'clusters'),
    ('more points than cells 8x5', 120, 8, 5, 'clusters'),
    ('more points than cells 16x12', 400, 16, 12, 'uniform'),
    ('fewer points than cells 12x10', 50, 12, 10, 'clusters'),
    ('fewer points than cells 20x15', 260, 20, 15, 'uniform'),
    ('one column 1x30', 45, 1, 30, 'clusters'),
]


def make_points(rng: np.random.Generator, n: int, layout: str) -> np.ndarray:
    if layout == 'uniform':
        return rng.uniform(-3, 5, size=(n, 2)).astype(np.float32)
    centres = rng.normal(0, 10, size=(6, 2))
    which = rng.integers(0, 6, size=n)
    return (centres[which] + rng.normal(0, 1.5, size=(n, 2))).astype(np.float32)


def scale_to_grid(points: np.ndarray, cols: int, rows: int) -> np.ndarray:
    p = points.astype(np.float64)
    lo, hi = p.min(axis=0), p.max(axis=0)
    x = 0.5 + (p[:, 0] - lo[0]) / (hi[0] - lo[0]) * (cols - 1)
    y = 0.5 + (hi[1] - p[:, 1]) / (hi[1] - lo[1]) * (rows - 1)
    return np.stack([x, y], axis=1)


def main() -> None:
    rng = np.random.default_rng(SEED)
    cases = []
    for name, n, cols, rows, layout in CASES:
        points = make_points(rng, n, layout)
        k = np.arange(cols * rows)
        cells = np.stack([k % cols + 0.5, k // cols + 0.5], axis=1)
        cost = cdist(cells, scale_to_grid(points, cols, rows), 'sqeuclidean')
        r, c = linear_sum_assignment(cost)
        cases.append({
            'name': name,
            'cols': cols,
            'rows': rows,
            'points': [float(v) for v in points.reshape(-1)],
            'cost': float(cost[r, c].sum()),
            'filled': int(len(r)),
        })
    with open(GOLDEN, 'w') as f:
        json.dump({'seed': SEED, 'reference': 'scipy.optimize.linear_sum_assignment', 'cases': cases}, f)
        f.write('\n')
    print(f'wrote {GOLDEN}: ' + ', '.join(f"{c['name']} cost {c['cost']:.6f}" for c in cases))


if __name__ == '__main__':
    main()
