"""
Goldens of convscope's t-SNE (test/unit/tsne.test.ts) from scikit-learn 1.2.1, independent of convscope's code:

    /usr/bin/python3 scripts/reference/tsne_reference.py [--out test/golden/tsne]

Data: 500 points, 5 Gaussian clusters of 100 in 20-D (numpy default_rng(0): centres N(0, 4²), points centre + N(0, 1)),
saved as clusters.npy (float32 [500, 20]). Written beside it:
- affinities.npy: float32 [20, 500], the first 20 rows of sklearn's joint P (_joint_probabilities_nn on sklearn's
  exact kNN, k = 91 = 3·30 + 1, squared Euclidean distances, perplexity 30) — checks affinities.ts.
- gradientY.npy / gradient.npy: float32 [500, 2], a layout (the data's PCA-2, scaled to std 1 on the first axis: far
  from converged, so the gradient is large beside float32 rounding) and sklearn's gradient of KL(P‖Q) there
  (_kl_divergence_bh with angle 0: every cell opened, the exact sum) — checks the gradient.
- tsne.json: trustworthiness (k = 10, sklearn.manifold.trustworthiness) of sklearn's TSNE (1.2 defaults, perplexity
  30, random_state 0..2), and of the PCA-2 layout for scale.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness
from sklearn.manifold._t_sne import _joint_probabilities_nn, _kl_divergence_bh
from sklearn.neighbors import NearestNeighbors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', default='test/golden/tsne')
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, size=(5, 20))
    x = np.concatenate([c + rng.normal(0, 1, size=(100, 20)) for c in centres]).astype(np.float32)
    np.save(f'{out}/clusters.npy', x)

    k = 91
    nn = NearestNeighbors(n_neighbors=k, metric='euclidean').fit(x)
    graph = nn.kneighbors_graph(mode='distance')
    graph.data **= 2
    p = _joint_probabilities_nn(graph, 30.0, 0)
    np.save(f'{out}/affinities.npy', np.asarray(p[:20].todense(), dtype=np.float32))

    runs = []
    for seed in range(3):
        y = TSNE(n_components=2, perplexity=30.0, random_state=seed, method='barnes_hut', angle=0.5, init='pca', learning_rate='auto').fit_transform(x)
        runs.append(float(trustworthiness(x, y, n_neighbors=10)))
    pca2 = PCA(n_components=2).fit_transform(x)
    layout = np.ascontiguousarray(pca2 / np.std(pca2[:, 0]), dtype=np.float32)
    _, grad = _kl_divergence_bh(layout.ravel().copy(), csr_matrix(p), 1.0, 500, 2, angle=0.0, compute_error=True)
    np.save(f'{out}/gradientY.npy', layout)
    np.save(f'{out}/gradient.npy', np.ascontiguousarray(grad.reshape(500, 2), dtype=np.float32))

    with open(f'{out}/tsne.json', 'w') as f:
        json.dump({'points': 500, 'dim': 20, 'perplexity': 30, 'neighbours': k, 'sklearnTrustworthiness': runs,
                   'pcaTrustworthiness': float(trustworthiness(x, pca2, n_neighbors=10))}, f, indent=2)
        f.write('\n')


if __name__ == '__main__':
    main()
