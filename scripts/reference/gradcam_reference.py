"""
Independent reference values for convscope's Grad-CAM, Grad-CAM++ and gradient saliency (issue 5).

Writes a small TF.js layers model (topology and seeded weights) to test/golden/gradcam-net/ and, computing
the same network by hand in PyTorch (no tfjs code, no converter), the class maps of a fixed input to
test/golden/gradcam-reference.json. test/unit/classMaps.test.ts loads the model with convscope and compares
its maps to these numbers, so the test needs no Python.

The network has a skip connection around the first map layer (conv2), so running from an inner layer must
still read the real input on the other path, and a nonlinear head (conv, pool, flatten, two dense layers):

    input 16×16×3 → conv1 3×3 relu (6) → pool1 max 2 → conv2 3×3 relu (8) → conv3 3×3 linear (8) ─┐
                                            └──────────→ skip 1×1 linear (8) ───────────────────── add → relu3
    relu3 → pool3 avg 2 → flatten → fc 16 relu → logits 5 linear → probs softmax

Run with Debian's Python (it has torch):  /usr/bin/python3 scripts/reference/gradcam_reference.py
"""
from __future__ import annotations

import json
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
MODEL_DIR = os.path.join(ROOT, 'test', 'golden', 'gradcam-net')
GOLDEN = os.path.join(ROOT, 'test', 'golden', 'gradcam-reference.json')
SIZE, CLASSES, SEED = 16, 5, 20261126
MAP_LAYERS = ['conv2', 'relu3']


def make_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-scaled normal kernels ([kh, kw, in, out] / [in, out], TF layout) and small random biases."""
    shapes = {
        'conv1': (3, 3, 3, 6),
        'conv2': (3, 3, 6, 8),
        'conv3': (3, 3, 8, 8),
        'skip': (1, 1, 6, 8),
        'fc': (4 * 4 * 8, 16),
        'logits': (16, CLASSES),
    }
    w: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        fan_in = int(np.prod(shape[:-1]))
        w[f'{name}/kernel'] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        w[f'{name}/bias'] = (rng.uniform(-0.1, 0.1, shape[-1])).astype(np.float32)
    return w


def layer(name: str, class_name: str, config: dict, inbound: list[str]) -> dict:
    return {
        'name': name,
        'class_name': class_name,
        'config': {'name': name, 'trainable': True, **config},
        'inbound_nodes': [[[i, 0, 0, {}] for i in inbound]] if inbound else [],
    }


def conv(name: str, filters: int, k: int, activation: str, inbound: str) -> dict:
    return layer(name, 'Conv2D', {
        'filters': filters, 'kernel_size': [k, k], 'strides': [1, 1], 'padding': 'same', 'data_format': 'channels_last',
        'dilation_rate': [1, 1], 'activation': activation, 'use_bias': True,
    }, [inbound])


def topology() -> dict:
    layers = [
        layer('input', 'InputLayer', {'batch_input_shape': [None, SIZE, SIZE, 3], 'dtype': 'float32', 'sparse': False}, []),
        conv('conv1', 6, 3, 'relu', 'input'),
        layer('pool1', 'MaxPooling2D', {'pool_size': [2, 2], 'strides': [2, 2], 'padding': 'valid', 'data_format': 'channels_last'}, ['conv1']),
        conv('conv2', 8, 3, 'relu', 'pool1'),
        conv('conv3', 8, 3, 'linear', 'conv2'),
        conv('skip', 8, 1, 'linear', 'pool1'),
        layer('add', 'Add', {}, ['conv3', 'skip']),
        layer('relu3', 'ReLU', {'max_value': None}, ['add']),
        layer('pool3', 'AveragePooling2D', {'pool_size': [2, 2], 'strides': [2, 2], 'padding': 'valid', 'data_format': 'channels_last'}, ['relu3']),
        layer('flatten', 'Flatten', {'data_format': 'channels_last'}, ['pool3']),
        layer('fc', 'Dense', {'units': 16, 'activation': 'relu', 'use_bias': True}, ['flatten']),
        layer('logits', 'Dense', {'units': CLASSES, 'activation': 'linear', 'use_bias': True}, ['fc']),
        layer('probs', 'Softmax', {'axis': -1}, ['logits']),
    ]
    return {
        'class_name': 'Model',
        'config': {'name': 'gradcam_net', 'layers': layers, 'input_layers': [['input', 0, 0]], 'output_layers': [['probs', 0, 0]]},
        'keras_version': 'tfjs-layers 4.22.0',
        'backend': 'tensor_flow.js',
    }


def write_model(w: dict[str, np.ndarray]) -> None:
    os.makedirs(MODEL_DIR, exist_ok=True)
    names = list(w)
    manifest = [{'paths': ['group1-shard1of1.bin'], 'weights': [{'name': n, 'shape': list(w[n].shape), 'dtype': 'float32'} for n in names]}]
    model = {'format': 'layers-model', 'generatedBy': 'scripts/reference/gradcam_reference.py', 'convertedBy': None,
             'modelTopology': topology(), 'weightsManifest': manifest}
    with open(os.path.join(MODEL_DIR, 'model.json'), 'w') as f:
        json.dump(model, f, indent=1)
    with open(os.path.join(MODEL_DIR, 'group1-shard1of1.bin'), 'wb') as f:
        for n in names:
            f.write(w[n].astype('<f4').tobytes())
    with open(os.path.join(MODEL_DIR, 'convscope.json'), 'w') as f:
        json.dump({'inputSize': [SIZE, SIZE], 'range': [0, 1], 'resize': 'stretch'}, f, indent=2)


class Net:
    """The network by hand in PyTorch (NCHW inside), returning the map layers' activations and the logits."""

    def __init__(self, w: dict[str, np.ndarray]):
        t = {k: torch.tensor(v, dtype=torch.float64) for k, v in w.items()}
        self.conv = {n: (t[f'{n}/kernel'].permute(3, 2, 0, 1), t[f'{n}/bias']) for n in ['conv1', 'conv2', 'conv3', 'skip']}
        self.dense = {n: (t[f'{n}/kernel'], t[f'{n}/bias']) for n in ['fc', 'logits']}

    def conv2d(self, x: torch.Tensor, name: str) -> torch.Tensor:
        kernel, bias = self.conv[name]
        return F.conv2d(x, kernel, bias, padding=kernel.shape[-1] // 2)

    def trunk(self, x_nhwc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Input to (pool1, conv2)."""
        x = x_nhwc.permute(0, 3, 1, 2)
        pool1 = F.max_pool2d(F.relu(self.conv2d(x, 'conv1')), 2)
        return pool1, F.relu(self.conv2d(pool1, 'conv2'))

    def middle(self, pool1: torch.Tensor, conv2: torch.Tensor) -> torch.Tensor:
        """(pool1, conv2) to relu3: the skip path reads pool1, not conv2."""
        return F.relu(self.conv2d(conv2, 'conv3') + self.conv2d(pool1, 'skip'))

    def head(self, relu3: torch.Tensor) -> torch.Tensor:
        """relu3 to the logits; flatten in NHWC order, as TF does."""
        flat = F.avg_pool2d(relu3, 2).permute(0, 2, 3, 1).reshape(relu3.shape[0], -1)
        fc = F.relu(flat @ self.dense['fc'][0] + self.dense['fc'][1])
        return fc @ self.dense['logits'][0] + self.dense['logits'][1]


def cam_from_gradients(a: torch.Tensor, g: torch.Tensor, method: str) -> torch.Tensor:
    """a, g: [C, h, w] activations and d logit / d a of one class. Returns the [h, w] map."""
    if method == 'gradcam':
        weights = g.mean(dim=(1, 2))
    else:  # Grad-CAM++, Chattopadhay et al. 2018 eq. 19 with S = exp(logit)
        g2, g3 = g ** 2, g ** 3
        denominator = 2 * g2 + a.sum(dim=(1, 2), keepdim=True) * g3
        alpha = torch.where(denominator != 0, g2 / torch.where(denominator != 0, denominator, torch.ones_like(denominator)), torch.zeros_like(g2))
        weights = (alpha * F.relu(g)).sum(dim=(1, 2))
    return F.relu((weights[:, None, None] * a).sum(dim=0))


def main() -> None:
    rng = np.random.default_rng(SEED)
    w = make_weights(rng)
    x = rng.uniform(0, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    write_model(w)
    net = Net(w)

    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    pool1, conv2 = net.trunk(xt)
    relu3 = net.middle(pool1, conv2)
    logits = net.head(relu3)[0]
    acts = {'conv2': conv2, 'relu3': relu3}
    maps: dict[str, dict[str, list]] = {'gradcam': {}, 'gradcampp': {}, 'backprop': {}}
    for name in MAP_LAYERS:
        per_class = {'gradcam': [], 'gradcampp': []}
        for c in range(CLASSES):
            (g,) = torch.autograd.grad(logits[c], acts[name], retain_graph=True)
            for method in per_class:
                per_class[method].append(cam_from_gradients(acts[name][0].detach(), g[0], method).flatten().tolist())
        for method, values in per_class.items():
            maps[method][name] = values
    saliency = []
    for c in range(CLASSES):
        (g,) = torch.autograd.grad(logits[c], xt, retain_graph=True)
        saliency.append(g[0].abs().amax(dim=-1).flatten().tolist())
    maps['backprop']['input'] = saliency

    golden = {
        'about': 'Made by scripts/reference/gradcam_reference.py (PyTorch, float64) from test/golden/gradcam-net; maps are row-major h × w, one per class 0..4',
        'model': 'gradcam-net',
        'input': {'shape': list(x.shape), 'values': x.flatten().tolist()},
        'logits': logits.tolist(),
        'grids': {'conv2': [8, 8], 'relu3': [8, 8], 'input': [SIZE, SIZE]},
        'maps': maps,
    }
    with open(GOLDEN, 'w') as f:
        json.dump(golden, f)
    for method, layers in maps.items():
        for name, per in layers.items():
            print(method, name, 'max per class', [round(max(m), 4) for m in per], 'nonzero', [sum(v > 0 for v in m) for m in per])
    print('logits', [round(v, 4) for v in logits.tolist()])


if __name__ == '__main__':
    main()
