"""
The reference side of bench/tsne.ts: scikit-learn's TSNE (Barnes-Hut) on the same points convscope's t-SNE gets.

    /usr/bin/python3 bench/reference/tsne_reference.py prepare --count N --out FILE.npy
        Fashion-MNIST (Debian dataset-fashion-mnist: /usr/share/datasets/fashion-mnist, train then t10k) — the
        first N images as float64 pixels / 255, reduced to 50-D with sklearn's PCA (svd_solver 'full' for N ≤ 20 000,
        else 'randomized', random_state 0), saved as float32 [N, 50]; labels beside it as FILE.labels.npy (uint8).
        Both sides then read this file, so neither does the PCA-50 step in the timing.

    /usr/bin/python3 bench/reference/tsne_reference.py run --data FILE.npy [--ours OURS.npy] [--perplexity 30]
        [--iterations 1000] [--seed 0] [--threads N]
        sklearn.manifold.TSNE with 1.2's defaults (barnes_hut, angle 0.5, early_exaggeration 12, learning_rate 'auto',
        init 'pca'), timed from construction to fit_transform's return; then sklearn.manifold.trustworthiness
        (k = 10) of sklearn's embedding (time.process_time: CPU seconds of all its threads, beside the wall time) and, with --ours, of convscope's (a float32 [N, 2] .npy).
        Prints one JSON line.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import time

import numpy as np

FASHION = '/usr/share/datasets/fashion-mnist'


def read_idx(path: str) -> np.ndarray:
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def prepare(count: int, out: str) -> None:
    from sklearn.decomposition import PCA

    images = np.concatenate([read_idx(f'{FASHION}/train-images-idx3-ubyte.gz'), read_idx(f'{FASHION}/t10k-images-idx3-ubyte.gz')])
    labels = np.concatenate([read_idx(f'{FASHION}/train-labels-idx1-ubyte.gz'), read_idx(f'{FASHION}/t10k-labels-idx1-ubyte.gz')])
    x = images[:count].reshape(count, -1).astype(np.float64) / 255.0
    solver = 'full' if count <= 20000 else 'randomized'
    reduced = PCA(n_components=50, svd_solver=solver, random_state=0).fit_transform(x).astype(np.float32)
    np.save(out, np.ascontiguousarray(reduced))
    np.save(out.replace('.npy', '.labels.npy'), labels[:count])
    print(json.dumps({'out': out, 'count': count, 'dim': 50, 'pcaSolver': solver}))


def run(args: argparse.Namespace) -> None:
    if args.threads:
        os.environ['OMP_NUM_THREADS'] = str(args.threads)
    from sklearn.manifold import TSNE, trustworthiness

    x = np.load(args.data).astype(np.float32)
    t0 = time.perf_counter()
    c0 = time.process_time()
    tsne = TSNE(n_components=2, perplexity=args.perplexity, n_iter=args.iterations, random_state=args.seed,
                method='barnes_hut', angle=0.5, early_exaggeration=12.0, learning_rate='auto', init='pca')
    y = tsne.fit_transform(x)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    out = {'count': int(x.shape[0]), 'dim': int(x.shape[1]), 'sklearnSeconds': seconds, 'sklearnCpuSeconds': cpu_seconds, 'sklearnKl': float(tsne.kl_divergence_),
           'sklearnTrustworthiness': float(trustworthiness(x, y, n_neighbors=10)), 'load1': os.getloadavg()[0]}
    if args.save:
        np.save(args.save, np.ascontiguousarray(y, dtype=np.float32))
    if args.ours:
        ours = np.load(args.ours)
        out['oursTrustworthiness'] = float(trustworthiness(x, ours, n_neighbors=10))
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('prepare')
    p.add_argument('--count', type=int, required=True)
    p.add_argument('--out', required=True)
    r = sub.add_parser('run')
    r.add_argument('--data', required=True)
    r.add_argument('--ours')
    r.add_argument('--save', help='also save sklearn\'s embedding here')
    r.add_argument('--perplexity', type=float, default=30.0)
    r.add_argument('--iterations', type=int, default=1000)
    r.add_argument('--seed', type=int, default=0)
    r.add_argument('--threads', type=int, default=0)
    args = parser.parse_args()
    if args.command == 'prepare':
        prepare(args.count, args.out)
    else:
        run(args)


if __name__ == '__main__':
    main()
