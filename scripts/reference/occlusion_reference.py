"""
Independent reference values for convscope's occlusion maps (issue 12, Zeiler & Fergus 2014).

For two TF.js layers networks, loaded into PyTorch by tfjs_torch.py (written from Keras semantics, no tfjs code),
and a fixed input each, computes occlusion maps of the same semantics as engine/occlusion/ and writes them to
test/golden/occlusion-reference.json; test/unit/occlusion.test.ts compares convscope's maps with them (1e-4
relative), so the test needs no Python.

Semantics, written here again from the description (engine/occlusion/*.ts), not from its code:
- positions: the square of `size` input pixels with its top-left corner at (r * stride, c * stride) for
  r < floor((H - size) / stride) + 1 (columns alike); no partial last position;
- fills (the network's preprocessed values): grey = pixel 128 through the sidecar's range / mean / std;
  mean = the input's mean per channel; blur = torchvision's gaussian_blur of the input (reflect padding) with
  sigma = size / 2 and kernel size 2r + 1, r = min(ceil(3 sigma), min(H, W) - 1);
- the value of each copy: a class's logit (the layer before the softmax) or its probability (that layer's
  softmax); a unit's max over space of that copy, its value at a position, or its spatial mean; a direction:
  the mean over space of the channels' dot product with the vector.

Networks: test/golden/gradcam-net (16x16, a skip connection, fused ReLUs; gradcam_reference.py makes it) with
a seeded uniform input, and the demo gap network (64x64) with an 8-bit image: a checkered square on grey noise
(pixels), which the network calls class 5 with p 0.78 and class 2 with p 0.22, so probabilities are not saturated.

Run with Debian's Python (it has torch):  /usr/bin/python3 scripts/reference/occlusion_reference.py
"""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import torch
import torchvision.transforms.functional as TF

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tfjs_torch import load_tfjs_layers_model  # noqa: E402

GOLDEN = os.path.join(ROOT, 'test', 'golden', 'occlusion-reference.json')
SEED = 20261205

# (target, fill, size, stride); targets as the contract's Target objects.
GRADCAM_NET_CASES = [
    ({'kind': 'class', 'class': 2, 'score': 'logit'}, 'grey', 4, 2),
    ({'kind': 'class', 'class': 2, 'score': 'probability'}, 'mean', 5, 3),
    ({'kind': 'class', 'class': 0, 'score': 'logit'}, 'blur', 5, 3),
    ({'kind': 'unit', 'layer': 'conv2', 'channel': 3, 'at': 'max'}, 'blur', 4, 2),
    ({'kind': 'unit', 'layer': 'conv2', 'channel': 3, 'at': {'y': 2, 'x': 3}}, 'grey', 3, 3),
    ({'kind': 'unit', 'layer': 'relu3', 'channel': 1, 'at': 'mean'}, 'blur', 16, 1),
    ({'kind': 'unit', 'layer': 'fc', 'channel': 4, 'at': 'max'}, 'grey', 4, 2),
    ({'kind': 'direction', 'layer': 'relu3', 'vector': [0.5, -1.0, 0.25, 2.0, 0.0, -0.75, 1.5, 1.0]}, 'mean', 4, 4),
]
GAP_CASES = [
    ({'kind': 'class', 'class': 5, 'score': 'probability'}, 'grey', 8, 8),
    ({'kind': 'unit', 'layer': 'conv_last', 'channel': 7, 'at': 'max'}, 'blur', 8, 8),
]


def sidecar(model_dir: str) -> dict:
    with open(os.path.join(model_dir, 'convscope.json'), encoding='utf8') as f:
        s = json.load(f)
    return {'range': s.get('range', [0, 1]), 'mean': s.get('mean', [0, 0, 0]), 'std': s.get('std', [1, 1, 1]), 'order': s.get('channelOrder', 'RGB')}


def logits_layer(model) -> str:
    """The layer before the final softmax (both networks end in a Softmax layer)."""
    last = model.layer_names[-1]
    assert model.layer_classes[last] == 'Softmax', last
    (inbound,) = model._inputs[last]
    return inbound


def fill_image(x: torch.Tensor, fill: str, size: int, pre: dict) -> torch.Tensor:
    """x: [H, W, 3] float64 preprocessed. The image the square takes its pixels from."""
    h, w, _ = x.shape
    if fill == 'grey':
        lo, hi = pre['range']
        grey = torch.tensor([(lo + 128 / 255 * (hi - lo) - pre['mean'][c]) / pre['std'][c] for c in range(3)], dtype=torch.float64)
        return grey.expand(h, w, 3).clone()
    if fill == 'mean':
        return x.mean(dim=(0, 1)).expand(h, w, 3).clone()
    sigma = size / 2
    r = min(math.ceil(3 * sigma), min(h, w) - 1)
    return TF.gaussian_blur(x.permute(2, 0, 1)[None], [2 * r + 1, 2 * r + 1], [sigma, sigma])[0].permute(1, 2, 0)


def target_values(model, logits: str, target: dict, batch: torch.Tensor) -> torch.Tensor:
    """The target's value per image of an NHWC batch."""
    if target['kind'] == 'class':
        z = model.forward(batch, [logits])[logits].double()
        s = torch.softmax(z, dim=1) if target['score'] == 'probability' else z
        return s[:, target['class']]
    a = model.forward(batch, [target['layer']])[target['layer']].double()
    if target['kind'] == 'direction':
        dot = (a * torch.tensor(target['vector'], dtype=torch.float64)).sum(-1)
        return dot.mean(dim=(1, 2)) if dot.dim() == 3 else dot
    ch = a[..., target['channel']]
    if ch.dim() == 1:
        return ch
    at = target['at']
    if isinstance(at, dict):
        return ch[:, at['y'], at['x']]
    return ch.mean(dim=(1, 2)) if at == 'mean' else ch.amax(dim=(1, 2))


def occlusion(model, logits: str, x: torch.Tensor, target: dict, fill: str, size: int, stride: int, pre: dict) -> dict:
    h, w, _ = x.shape
    rows, cols = (h - size) // stride + 1, (w - size) // stride + 1
    f = fill_image(x, fill, size, pre)
    copies = []
    for r in range(rows):
        for c in range(cols):
            y0, x0 = r * stride, c * stride
            copy = x.clone()
            copy[y0:y0 + size, x0:x0 + size] = f[y0:y0 + size, x0:x0 + size]
            copies.append(copy)
    values = target_values(model, logits, target, torch.stack(copies).float())
    clean = target_values(model, logits, target, x[None].float())
    return {'target': target, 'fill': fill, 'size': size, 'stride': stride, 'rows': rows, 'cols': cols,
            'value': float(clean[0]), 'values': [float(v) for v in values]}


def network(model_dir: str, name: str, x: np.ndarray, cases: list, input_record: dict) -> dict:
    model = load_tfjs_layers_model(model_dir)
    pre = sidecar(model_dir)
    logits = logits_layer(model)
    xt = torch.tensor(x, dtype=torch.float64)
    maps = [occlusion(model, logits, xt, t, fill, size, stride, pre) for t, fill, size, stride in cases]
    for m in maps:
        print(name, json.dumps(m['target']), m['fill'], m['size'], m['stride'], f"{m['rows']}x{m['cols']}",
              'value', round(m['value'], 5), 'min', round(min(m['values']), 5), 'max', round(max(m['values']), 5))
    return {'model': name, 'input': input_record, 'maps': maps}


def checkered_image() -> np.ndarray:
    """64x64 RGB bytes: grey (128) with Gaussian noise (sd 16), a 24x24 red / yellow checkerboard of 3-pixel cells at (20, 16)."""
    rng = np.random.default_rng(1)
    pix = 128 + 16 * rng.standard_normal((64, 64, 3))
    yy, xx = np.mgrid[0:24, 0:24]
    checks = ((yy // 3 + xx // 3) % 2)[..., None]
    pix[20:44, 16:40] = np.where(checks, [230, 60, 40], [250, 240, 80])
    return np.clip(pix, 0, 255).round().astype(np.uint8)


def main() -> None:
    rng = np.random.default_rng(SEED)
    small = rng.uniform(0, 1, (16, 16, 3)).astype(np.float32)
    pixels = checkered_image()
    gap_pre = sidecar(os.path.join(ROOT, 'resources', 'demo-models', 'gap'))
    assert gap_pre == {'range': [0, 1], 'mean': [0, 0, 0], 'std': [1, 1, 1], 'order': 'RGB'}, gap_pre
    gap_x = (pixels.astype(np.float64) / 255).astype(np.float32)  # the gap sidecar: range [0, 1], no mean / std
    golden = {
        'about': 'Made by scripts/reference/occlusion_reference.py (PyTorch via tfjs_torch.py); values are row-major rows x cols',
        'networks': [
            network(os.path.join(ROOT, 'test', 'golden', 'gradcam-net'), 'gradcam-net', small, GRADCAM_NET_CASES,
                    {'kind': 'values', 'shape': [16, 16, 3], 'values': small.flatten().tolist()}),
            network(os.path.join(ROOT, 'resources', 'demo-models', 'gap'), 'gap', gap_x, GAP_CASES,
                    {'kind': 'pixels', 'shape': [64, 64, 3], 'pixels': pixels.flatten().tolist()}),
        ],
    }
    with open(GOLDEN, 'w') as f:
        json.dump(golden, f)


if __name__ == '__main__':
    main()
