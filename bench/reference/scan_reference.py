"""
The work of `convscope scan`, done independently with PyTorch: the baseline bench/scan.ts compares against.

    /usr/bin/python3 bench/reference/scan_reference.py --model DIR --images LIST --layers a,b --out DIR
        [--k 16] [--batch 16] [--threads N] [--loader-workers N] [--channels-last] [--shard i/n]

For every image of LIST (absolute paths, one per line, in convscope's order): PIL decode to RGB, resize as
the model's convscope.json says (stretch / center-crop / pad, with the geometry of
src/main/engine/images/preprocess.ts), scale to `range`, (x - mean) / std; one forward pass per batch to the
chosen layers (the model converted by scripts/reference/tfjs_torch.py); per unit the spatial max and its
flat argmax (y * width + x, as convscope's NHWC argmax); per unit the top-K (value desc, then image index),
kept across batches; per image × unit maxima written as float16 to a memory-mapped .npy per layer.

Resampling: PIL's BILINEAR, a triangle filter whose support widens with the shrink factor (antialiased),
like libvips' 'linear' kernel that convscope asks sharp for. On the demo images the two agree within
2 levels of 255 per pixel (mean difference ≈ 0.2) for 128 → 64 and 256 → 224 (checked when this was written).

Decoding and resizing run in a torch DataLoader with --loader-workers processes (0: in the main process);
the forward pass uses torch.set_num_threads(--threads). Prints one JSON line with the timing; writes
<layer>.topk.images.npy (int32 [units, K]), <layer>.topk.values.npy (float32) and <layer>.maxima.npy.
With --shard i/n it scans images i, i + n, … (as convscope's shards); merge_reference.py joins n such folders, so that
n single-threaded processes (one per core, like convscope's --workers) can be compared too.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts', 'reference'))
from tfjs_torch import load_tfjs_layers_model  # noqa: E402

DEFAULT_PREPROCESSING = {
    'inputSize': [224, 224], 'channelOrder': 'RGB', 'range': [0, 1],
    'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225], 'resize': 'stretch',
}


def read_preprocessing(model_dir: str) -> dict:
    path = os.path.join(model_dir, 'convscope.json')
    pre = dict(DEFAULT_PREPROCESSING)
    if os.path.exists(path):
        with open(path, encoding='utf8') as f:
            pre.update(json.load(f))
    return pre


class ImageList(torch.utils.data.Dataset):
    """Decoded, resized, normalised images as float32 [3, H, W] (NCHW, the model's channel order)."""

    def __init__(self, paths: list[str], indices: list[int], pre: dict):
        self.paths = paths
        self.indices = indices
        self.H, self.W = pre['inputSize']
        self.policy = pre['resize']
        lo, hi = pre['range']
        order = [2, 1, 0] if pre.get('channelOrder', 'RGB') == 'BGR' else [0, 1, 2]
        # Same arithmetic as preprocess.ts' lookup tables: lo + v / 255 * (hi - lo), then (x - mean) / std.
        v = np.arange(256, dtype=np.float32)
        self.tables = [((np.float32(lo) + (v / np.float32(255)) * np.float32(hi - lo) - np.float32(pre['mean'][c])) / np.float32(pre['std'][c])).astype(np.float32) for c in range(3)]
        self.order = order

    def __len__(self) -> int:
        return len(self.indices)

    def _resize(self, im: Image.Image) -> Image.Image:
        W, H = self.W, self.H
        w, h = im.size
        if self.policy == 'stretch':
            return im if (w, h) == (W, H) else im.resize((W, H), Image.BILINEAR)
        if self.policy == 'center-crop':
            s = max(W / w, H / h)
            rw, rh = max(W, round(w * s)), max(H, round(h * s))
            left, top = (rw - W) // 2, (rh - H) // 2
            r = im if (rw, rh) == (w, h) else im.resize((rw, rh), Image.BILINEAR)
            return r.crop((left, top, left + W, top + H))
        if self.policy == 'pad':
            s = min(W / w, H / h)
            rw, rh = min(W, max(1, round(w * s))), min(H, max(1, round(h * s)))
            r = im if (rw, rh) == (w, h) else im.resize((rw, rh), Image.BILINEAR)
            canvas = Image.new('RGB', (W, H), (0, 0, 0))
            canvas.paste(r, ((W - rw) // 2, (H - rh) // 2))
            return canvas
        raise ValueError(f'unknown resize policy {self.policy}')

    def __getitem__(self, j: int):
        i = self.indices[j]
        try:
            with Image.open(self.paths[i]) as im:
                im = im.convert('RGB')
                rgb = np.asarray(self._resize(im))
        except Exception:  # a bad file: skipped, as convscope skips it
            return i, torch.zeros(0)
        x = np.stack([self.tables[c][rgb[:, :, self.order[c]]] for c in range(3)])
        return i, torch.from_numpy(x)


def collate(items):
    good = [(i, x) for i, x in items if x.numel()]
    if not good:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0)
    return torch.tensor([i for i, _ in good]), torch.stack([x for _, x in good])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('--model', required=True)
    p.add_argument('--images', required=True, help='text file: one absolute image path per line')
    p.add_argument('--layers', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--shard', default='0/1', help='i/n: only images whose index is i mod n (merge the n folders with merge_reference.py)')
    p.add_argument('--k', type=int, default=16)
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--threads', type=int, default=os.cpu_count() or 1)
    p.add_argument('--loader-workers', type=int, default=os.cpu_count() or 1)
    p.add_argument('--channels-last', action='store_true', help='feed the network NHWC-strided tensors (oneDNN may be faster)')
    args = p.parse_args()
    shard_index, shard_count = (int(v) for v in args.shard.split('/'))

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    model = load_tfjs_layers_model(args.model)
    pre = read_preprocessing(args.model)
    with open(args.images, encoding='utf8') as f:
        paths = [line.rstrip('\n') for line in f if line.strip()]
    layers = [s for s in args.layers.split(',') if s]
    local = list(range(shard_index, len(paths), shard_count))
    n, k = len(local), args.k
    row_of = {g: r for r, g in enumerate(local)}
    os.makedirs(args.out, exist_ok=True)

    loader = torch.utils.data.DataLoader(
        ImageList(paths, local, pre), batch_size=args.batch, shuffle=False, num_workers=args.loader_workers,
        collate_fn=collate, **({'prefetch_factor': 4} if args.loader_workers > 0 else {}))
    tops: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    maxima: dict[str, np.memmap] = {}
    written = np.zeros(n, dtype=bool)
    loaded = time.perf_counter()
    forward_s = reduce_s = 0.0
    done = 0
    for indices, x in loader:
        if indices.numel() == 0:
            continue
        rows = np.array([row_of[int(g)] for g in indices])
        t0 = time.perf_counter()
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        outs = model.forward_nchw(x, layers)
        t1 = time.perf_counter()
        for name in layers:
            o = outs[name]
            flat = o.flatten(2) if o.dim() == 4 else o.unsqueeze(2)   # [N, units, H*W]
            m, a = flat.max(dim=2)                                        # [N, units]
            width = o.shape[3] if o.dim() == 4 else 1
            if name not in tops:
                units = m.shape[1]
                tops[name] = (torch.full((units, k), -math.inf), torch.full((units, k), -1, dtype=torch.int32), torch.full((units, k, 2), -1, dtype=torch.int32))
                maxima[name] = np.lib.format.open_memmap(os.path.join(args.out, f'{name}.maxima.npy'), mode='w+', dtype=np.float16, shape=(n, units))
            values, images, yx = tops[name]
            # Candidates: the kept K (earlier, lower image indices) then this batch (ascending indices); a stable
            # descending sort gives value desc, then image index asc, as convscope's total order.
            cv = torch.cat([values, m.t()], dim=1)
            ci = torch.cat([images, indices.to(torch.int32).expand(m.shape[1], -1)], dim=1)
            pos = torch.stack([a // width, a % width], dim=2).to(torch.int32).transpose(0, 1)  # [units, N, 2]
            cyx = torch.cat([yx, pos], dim=1)
            order = torch.sort(cv, dim=1, descending=True, stable=True).indices[:, :k]
            tops[name] = (cv.gather(1, order), ci.gather(1, order), cyx.gather(1, order.unsqueeze(2).expand(-1, -1, 2)))
            maxima[name][rows] = m.numpy().astype(np.float16)
        reduce_s += time.perf_counter() - t1
        forward_s += t1 - t0
        written[rows] = True
        done += indices.numel()
    for name in layers:
        values, images, yx = tops[name]
        np.save(os.path.join(args.out, f'{name}.topk.values.npy'), values.numpy().astype(np.float32))
        np.save(os.path.join(args.out, f'{name}.topk.images.npy'), images.numpy())
        np.save(os.path.join(args.out, f'{name}.topk.yx.npy'), yx.numpy())
        maxima[name][~written] = np.float16('nan')  # skipped images, as convscope's NaN rows
        maxima[name].flush()
        del maxima[name]
    with open(os.path.join(args.out, 'shard.json'), 'w', encoding='utf8') as f:
        json.dump({'shard': [shard_index, shard_count], 'total': len(paths), 'layers': layers, 'k': k}, f)
    finished = time.perf_counter()
    print(json.dumps({
        'images': n, 'scanned': done, 'threads': args.threads, 'loaderWorkers': args.loader_workers, 'batch': args.batch,
        'torch': torch.__version__, 'channelsLast': args.channels_last, 'setupSeconds': loaded - started, 'scanSeconds': finished - loaded,
        'forwardSeconds': forward_s, 'reduceSeconds': reduce_s,
        'imagesPerSecond': done / (finished - loaded) if finished > loaded else 0.0,
    }))
    return 0


if __name__ == '__main__':
    sys.exit(main())
