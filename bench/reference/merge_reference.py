"""
Merge the folders of `scan_reference.py --shard i/n` runs into one result, with numpy only (no torch import):

    /usr/bin/python3 bench/reference/merge_reference.py SHARD_DIR... --out DIR

Per unit, the top-K of the union in convscope's order (value descending, then image index ascending); the
per-image maxima rows interleaved back into dataset order (shard i holds images i, i + n, …).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def merge(dirs: list[str], out: str) -> int:
    """Shard folders → one result: top-K by value desc then image index asc; maxima rows interleaved back."""
    started = time.perf_counter()
    metas = []
    for d in dirs:
        with open(os.path.join(d, 'shard.json'), encoding='utf8') as f:
            metas.append(json.load(f))
    total, layers, k = metas[0]['total'], metas[0]['layers'], metas[0]['k']
    os.makedirs(out, exist_ok=True)
    for name in layers:
        values = np.concatenate([np.load(os.path.join(d, f'{name}.topk.values.npy')) for d in dirs], axis=1)
        images = np.concatenate([np.load(os.path.join(d, f'{name}.topk.images.npy')) for d in dirs], axis=1)
        yx = np.concatenate([np.load(os.path.join(d, f'{name}.topk.yx.npy')) for d in dirs], axis=1)
        empty = images < 0
        key_img = np.where(empty, np.iinfo(np.int32).max, images)
        order = np.lexsort((key_img, -values.astype(np.float64)), axis=1)[:, :k]
        np.save(os.path.join(out, f'{name}.topk.values.npy'), np.take_along_axis(values, order, 1))
        np.save(os.path.join(out, f'{name}.topk.images.npy'), np.take_along_axis(images, order, 1))
        np.save(os.path.join(out, f'{name}.topk.yx.npy'), np.take_along_axis(yx, order[:, :, None], 1))
        parts = [np.load(os.path.join(d, f'{name}.maxima.npy'), mmap_mode='r') for d in dirs]
        merged = np.lib.format.open_memmap(os.path.join(out, f'{name}.maxima.npy'), mode='w+', dtype=np.float16, shape=(total, parts[0].shape[1]))
        for meta, part in zip(metas, parts):
            i, n = meta['shard']
            merged[i::n] = part
        merged.flush()
        del merged
    print(json.dumps({'merged': len(dirs), 'seconds': time.perf_counter() - started}))
    return 0


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description='Merge scan_reference.py shard folders.')
    parser.add_argument('dirs', nargs='+')
    parser.add_argument('--out', required=True)
    a = parser.parse_args()
    sys.exit(merge(a.dirs, a.out))
