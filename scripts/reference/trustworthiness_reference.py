"""
Independent reference values for convscope's trustworthiness (issue 13): scikit-learn's
sklearn.manifold.trustworthiness (euclidean, Venna & Kaski 2001) on seeded data made here.

Writes test/golden/trustworthiness/: <case>.high.npy and <case>.low.npy (float32 [n, d]) and cases.json with each
case's n, dims, k and scikit-learn's value; test/unit/trustworthiness.test.ts compares
engine/embeddings/trustworthiness.ts with them (1e-6), so the test needs no Python.

Cases: clustered blobs with a noisy linear map to 2-D, a 50-D set with its PCA-2D, several k on one set, and
exact ties (integer points, or exact duplicates, so that scikit-learn's float64 distances tie exactly).
Inside a tie scikit-learn's answer depends on numpy's argsort, which promises no order; convscope breaks ties
by the lower index. So for each tie case this script computes the value from the definition with a loop of its
own, ties by lower index (the golden), and again with 50 random tie orders: where none changes the value
(`tieOrderMatters` false) it must equal scikit-learn's, and the script stops if it does not; where the order
matters (a dense integer grid) scikit-learn's own value is kept beside it for the record.

It also writes the bars of test/unit/umap.test.ts (umap-bars.json): a seeded clustered set (clusters600: 6
anisotropic Gaussian clusters in 30-D, labels beside it) with the trustworthiness (k = 10) of scikit-learn's PCA to
2-D and of scikit-learn's TSNE (perplexity 30, seed 0) on it — the UMAP map must do at least as well as PCA and
within 0.05 of t-SNE.

Run with Debian's Python (it has scikit-learn):  /usr/bin/python3 scripts/reference/trustworthiness_reference.py
"""
from __future__ import annotations

import json
import os

import numpy as np
import sklearn
from sklearn.manifold import trustworthiness

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
OUT = os.path.join(ROOT, 'test', 'golden', 'trustworthiness')


def blobs(rng: np.random.Generator, n: int, dim: int, centers: int, spread: float) -> np.ndarray:
    means = rng.normal(0, 4, size=(centers, dim))
    labels = rng.integers(0, centers, size=n)
    return (means[labels] + rng.normal(0, spread, size=(n, dim))).astype(np.float32)


def noisy_map(rng: np.random.Generator, high: np.ndarray, noise: float) -> np.ndarray:
    w = rng.normal(0, 1, size=(high.shape[1], 2))
    low = high.astype(np.float64) @ w
    return (low + rng.normal(0, noise * low.std(), size=low.shape)).astype(np.float32)


def pca2(high: np.ndarray) -> np.ndarray:
    x = high.astype(np.float64) - high.astype(np.float64).mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return (x @ vt[:2].T).astype(np.float32)


def by_definition(high: np.ndarray, low: np.ndarray, k: int, tie_high: np.ndarray, tie_low: np.ndarray) -> float:
    """Trustworthiness from its definition (Venna & Kaski), a loop, not sklearn; inside a tie the point with the
    lower tie_high (input space) or tie_low (map) key comes first."""
    h = high.astype(np.float64)
    e = low.astype(np.float64)
    n = len(h)
    total = 0
    for i in range(n):
        dh = ((h - h[i]) ** 2).sum(axis=1)
        de = ((e - e[i]) ** 2).sum(axis=1)
        others = [m for m in range(n) if m != i]
        order_h = sorted(others, key=lambda m: (dh[m], tie_high[m]))
        rank = {m: r + 1 for r, m in enumerate(order_h)}
        for j in sorted(others, key=lambda m: (de[m], tie_low[m]))[:k]:
            total += max(0, rank[j] - k)
    return 1.0 - total * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0))


def tie_case(rng: np.random.Generator, high: np.ndarray, low: np.ndarray, k: int) -> dict:
    index = np.arange(len(high))
    golden = by_definition(high, low, k, index, index)
    others = {by_definition(high, low, k, rng.permutation(index), rng.permutation(index)) for _ in range(50)}
    return {'trustworthiness': golden, 'tieOrderMatters': others != {golden}}


def umap_bars(rng: np.random.Generator) -> None:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    count, dim, clusters = 600, 30, 6
    labels = np.arange(count) % clusters
    means = rng.normal(0, 6, size=(clusters, dim))
    shapes = rng.normal(0, 1, size=(clusters, dim, dim)) * np.linspace(1.5, 0.1, dim)  # each cluster its own long axes
    noise = rng.normal(0, 1, size=(count, dim))
    high = (means[labels] + np.einsum('nd,nde->ne', noise, shapes[labels]) / np.sqrt(dim)).astype(np.float32)
    pca2d = PCA(n_components=2, svd_solver='full').fit_transform(high)
    tsne2d = TSNE(n_components=2, perplexity=30, random_state=0, init='pca', learning_rate='auto').fit_transform(high)
    bars = {
        'about': 'bars of test/unit/umap.test.ts on clusters600.high.npy (labels: clusters600.labels.npy); trustworthiness k = 10 by sklearn',
        'count': count, 'dim': dim, 'clusters': clusters, 'k': 10,
        'pca2d': float(trustworthiness(high, pca2d, n_neighbors=10)),
        'tsne': float(trustworthiness(high, tsne2d, n_neighbors=10)),
    }
    np.save(os.path.join(OUT, 'clusters600.high.npy'), high)
    np.save(os.path.join(OUT, 'clusters600.labels.npy'), labels.astype(np.int32))
    with open(os.path.join(OUT, 'umap-bars.json'), 'w') as f:
        json.dump(bars, f, indent=1)
        f.write('\n')
    print(f"clusters600 PCA-2D {bars['pca2d']:.6f}, TSNE {bars['tsne']:.6f}")


def main() -> None:
    rng = np.random.default_rng(20261305)
    cases: list[tuple[str, np.ndarray, np.ndarray, list[int], bool]] = []

    high = blobs(rng, 60, 8, 3, 1.0)
    cases.append(('blobs60', high, noisy_map(rng, high, 0.3), [5], False))

    high = blobs(rng, 400, 50, 6, 2.0)
    cases.append(('blobs400-pca', high, pca2(high), [1, 10, 30], False))

    high = rng.normal(0, 1, size=(300, 20)).astype(np.float32)
    cases.append(('gauss300-random', high, rng.normal(0, 1, size=(300, 2)).astype(np.float32), [10], False))

    # Exact duplicates: every point twice, the same in both spaces, so twins tie everywhere; with k odd the map's
    # k nearest are the twin and whole pairs, and the answer cannot depend on the order inside a tie.
    base = blobs(rng, 60, 10, 3, 1.5)
    base_low = noisy_map(rng, base, 0.3)
    cases.append(('duplicates120', np.concatenate([base, base]), np.concatenate([base_low, base_low]), [5], True))

    # Dense exact ties in the input space: points of the grid {0, 1, 2}^3, each several times over.
    high = rng.integers(0, 3, size=(150, 3)).astype(np.float32)
    cases.append(('ties150-grid', high, noisy_map(rng, high + rng.normal(0, 0.05, size=high.shape), 0.2), [7], True))

    # Ties in both spaces: a 2-D integer embedding of 5-D integer points.
    high = rng.integers(0, 4, size=(120, 5)).astype(np.float32)
    low = np.round(noisy_map(rng, high, 0.1) / 2).astype(np.float32)
    cases.append(('ties120-both', high, low, [5], True))

    os.makedirs(OUT, exist_ok=True)
    listed = []
    for name, high, low, ks, ties in cases:
        np.save(os.path.join(OUT, f'{name}.high.npy'), high)
        np.save(os.path.join(OUT, f'{name}.low.npy'), low)
        for k in ks:
            sk = float(trustworthiness(high, low, n_neighbors=k, metric='euclidean'))
            case = {'name': name, 'count': int(high.shape[0]), 'highDim': int(high.shape[1]), 'lowDim': 2, 'k': k}
            if ties:
                tie = tie_case(rng, high, low, k)
                if not tie['tieOrderMatters'] and abs(tie['trustworthiness'] - sk) > 1e-12:
                    raise SystemExit(f'{name} k={k}: scikit-learn {sk} but the definition gives {tie["trustworthiness"]}')
                case.update(tie, sklearn=sk)
            else:
                case.update(trustworthiness=sk, tieOrderMatters=False, sklearn=sk)
            listed.append(case)
            print(f'{name:18s} k={k:2d} trustworthiness {case["trustworthiness"]:.9f} sklearn {sk:.9f} tie order matters: {case["tieOrderMatters"]}')

    about = (
        'trustworthiness of the float32 arrays beside this file: sklearn.manifold.trustworthiness (euclidean); for '
        'tie cases the definition with ties by lower index (equal to scikit-learn where tieOrderMatters is false); made by '
        f'scripts/reference/trustworthiness_reference.py with scikit-learn {sklearn.__version__}, numpy {np.__version__}'
    )
    with open(os.path.join(OUT, 'cases.json'), 'w') as f:
        json.dump({'about': about, 'cases': listed}, f, indent=1)
        f.write('\n')
    umap_bars(np.random.default_rng(13))


if __name__ == '__main__':
    main()
