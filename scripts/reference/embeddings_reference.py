"""
Independent reference values for convscope's PCA (issue 13): scikit-learn's PCA(svd_solver='full') on seeded
low-rank-plus-noise codes.

The codes are not stored: both this script and test/unit/pca.test.ts make them with the same integer generator
(an LCG whose draws are exact float64 numbers) and the same float64 operations in the same order (elementwise only:
IEEE-754 rounds them identically in numpy and in JavaScript), then round to float32; the script checks its codes'
sha256 against the test's through cases.json (`sha256`).

Writes test/golden/embeddings/pca.json (per case: n, d, k, rank, noise, sha256, scikit-learn's
explained_variance_ratio_ and explained_variance_) and pca-<case>.components.npy (float32 [k, d]) and
pca-<case>.points.npy (float32 [n, k], fit_transform). The test compares components and points up to each
component's sign, and the ratios, to 1e-4.

Cases: n > d (the covariance route), n < d (the Gram route), rank-deficient (5 directions, no noise: only the
first 5 components are defined, the other variances are 0), and one of each route above 384 (topEigen.ts's
dense limit), so the iterative solver is checked too, and one with d ≥ 512 (the covariance summed by column slices).

Run with Debian's Python (it has scikit-learn):  /usr/bin/python3 scripts/reference/embeddings_reference.py
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import sklearn
from sklearn.decomposition import PCA

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
OUT = os.path.join(ROOT, 'test', 'golden', 'embeddings')

CASES = [
    # name, n, d, k, rank, noise, seed
    ('tall500x64', 500, 64, 10, 8, 0.05, 1),
    ('wide300x1024', 300, 1024, 8, 6, 0.1, 2),
    ('rank200x40', 200, 40, 8, 5, 0.0, 3),
    ('cov1000x420', 1000, 420, 20, 30, 0.2, 4),
    ('gram400x600', 400, 600, 10, 12, 0.1, 5),
    ('cov1200x600', 1200, 600, 12, 16, 0.1, 6),
]


class Lcg:
    """Numerical Recipes' 32-bit LCG; a draw is the top 24 bits over 2^24 (exact in float64 and float32)."""

    def __init__(self, seed: int) -> None:
        self.state = seed & 0xFFFFFFFF

    def draws(self, count: int) -> np.ndarray:
        out = np.empty(count, dtype=np.float64)
        s = self.state
        for i in range(count):
            s = (1664525 * s + 1013904223) & 0xFFFFFFFF
            out[i] = (s >> 8) / 16777216.0
        self.state = s
        return out


def codes(n: int, d: int, rank: int, noise: float, seed: int) -> np.ndarray:
    """x[i, j] = Σ_t (z[i, t] · w[t, j]) / (t + 1)  +  noise · e[i, j]  +  (j mod 5), draws centred (− 0.5), in float64."""
    rng = Lcg(seed)
    z = rng.draws(n * rank).reshape(n, rank) - 0.5
    w = rng.draws(rank * d).reshape(rank, d) - 0.5
    e = rng.draws(n * d).reshape(n, d) - 0.5
    acc = np.zeros((n, d), dtype=np.float64)
    for t in range(rank):
        acc = acc + (z[:, t:t + 1] * w[t:t + 1, :]) / (t + 1)
    acc = acc + noise * e
    acc = acc + (np.arange(d) % 5).astype(np.float64)[None, :]
    return acc.astype(np.float32)


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for name, n, d, k, rank, noise, seed in CASES:
        x = codes(n, d, rank, noise, seed)
        pca = PCA(n_components=k, svd_solver='full')
        points = pca.fit_transform(x.astype(np.float64))
        np.save(os.path.join(OUT, f'pca-{name}.components.npy'), np.ascontiguousarray(pca.components_, dtype=np.float32))
        np.save(os.path.join(OUT, f'pca-{name}.points.npy'), np.ascontiguousarray(points, dtype=np.float32))
        cases.append({
            'name': name, 'n': n, 'd': d, 'k': k, 'rank': rank, 'noise': noise, 'seed': seed,
            'sha256': hashlib.sha256(x.tobytes()).hexdigest(),
            # Components past the data's rank have no direction (variance 0): the test compares the defined ones.
            'definedComponents': int(min(k, rank if noise == 0 else k)),
            'explainedVarianceRatio': [float(v) for v in pca.explained_variance_ratio_],
            'explainedVariance': [float(v) for v in pca.explained_variance_],
        })
    meta = {'sklearn': sklearn.__version__, 'numpy': np.__version__, 'solver': "PCA(svd_solver='full') on float64 copies", 'cases': cases}
    with open(os.path.join(OUT, 'pca.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    print(json.dumps({c['name']: c['explainedVarianceRatio'][:3] for c in cases}))


if __name__ == '__main__':
    main()
