#!/usr/bin/python3
"""The bundled demo networks (resources/demo-models/gap and fc, TF.js layers models) ported to PyTorch and
exported as ONNX, so that tests can run every method on the same trained network in both formats.

    /usr/bin/python3 scripts/onnx/portDemoModels.py --out test/.cache/demo-onnx [--models gap,fc]

Writes OUT/<name>/model.onnx (opset 13, input "input" [batch, 3, height, width], output the softmax
probabilities), the TF.js folder's convscope.json and labels.txt beside it, and OUT/<name>/port.json with the
PyTorch probabilities of a fixed random input (seed 0, [2, 3, 64, 64] in [0, 1]) for the test to compare.

The port: Conv2D kernels [kh, kw, in, out] → [out, in, kh, kw]; Keras 'same' 3×3 stride 1 = padding 1;
BatchNormalization (epsilon 1e-3, folded into the conv by the export); Dense kernels [in, out] → [out, in];
fc6 reads a Flatten, which TF.js orders (h, w, c) and PyTorch (c, h, w): its rows are permuted here, in numpy,
independently of convscope. Module names follow the Keras layer names, so the ONNX layers are named alike.
Needs Debian's python3-torch and python3-onnx.
"""
import argparse
import json
import os
import shutil

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')


def read_weights(folder):
    """TF.js weights by name (float32 only, as the demo networks are)."""
    manifest = json.load(open(os.path.join(folder, 'model.json')))['weightsManifest']
    weights = {}
    for group in manifest:
        data = b''.join(open(os.path.join(folder, p), 'rb').read() for p in group['paths'])
        offset = 0
        for w in group['weights']:
            assert w['dtype'] == 'float32' and 'quantization' not in w, w
            n = int(np.prod(w['shape'])) if w['shape'] else 1
            weights[w['name']] = np.frombuffer(data, np.float32, n, offset).reshape(w['shape'])
            offset += 4 * n
    return weights


class Demo(nn.Module):
    """conv blocks (conv 3×3 same → BN → ReLU, 2×2 average pools) → conv_last (ReLU) → the head."""

    def __init__(self, head):
        super().__init__()
        self.head = head
        blocks = [('conv1_1', 3, 16), ('pool1',), ('conv2_1', 16, 32), ('pool2',), ('conv3_1', 32, 96), ('conv3_2', 96, 96), ('pool3',)]
        self.order = []
        for b in blocks:
            if len(b) == 1:
                setattr(self, b[0], nn.AvgPool2d(2))
                self.order.append(b[0])
                continue
            name, cin, cout = b
            setattr(self, name, nn.Conv2d(cin, cout, 3, padding=1, bias=False))
            setattr(self, name + '_bn', nn.BatchNorm2d(cout, eps=1e-3))
            setattr(self, name + '_relu', nn.ReLU())
            self.order += [name, name + '_bn', name + '_relu']
        self.conv_last = nn.Conv2d(96, 192, 3, padding=1)
        self.conv_last_relu = nn.ReLU()
        self.order += ['conv_last', 'conv_last_relu']
        if head == 'gap':
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.predictions = nn.Linear(192, 14)
        else:
            self.pool_last = nn.MaxPool2d(2)
            self.fc6 = nn.Linear(4 * 4 * 192, 256)
            self.fc6_relu = nn.ReLU()
            self.fc6_dropout = nn.Dropout(0.5)
            self.fc7 = nn.Linear(256, 256)
            self.fc7_relu = nn.ReLU()
            self.predictions = nn.Linear(256, 14)
        self.probs = nn.Softmax(dim=1)

    def forward(self, x):
        for name in self.order:
            x = getattr(self, name)(x)
        if self.head == 'gap':
            return self.probs(self.predictions(torch.flatten(self.gap(x), 1)))
        x = torch.flatten(self.pool_last(x), 1)
        x = self.fc6_dropout(self.fc6_relu(self.fc6(x)))
        return self.probs(self.predictions(self.fc7_relu(self.fc7(x))))


def load(net, w):
    t = lambda a: torch.tensor(np.ascontiguousarray(a))
    with torch.no_grad():
        for name in ['conv1_1', 'conv2_1', 'conv3_1', 'conv3_2']:
            getattr(net, name).weight.copy_(t(w[f'{name}/kernel'].transpose(3, 2, 0, 1)))
            bn = getattr(net, name + '_bn')
            bn.weight.copy_(t(w[f'{name}_bn/gamma']))
            bn.bias.copy_(t(w[f'{name}_bn/beta']))
            bn.running_mean.copy_(t(w[f'{name}_bn/moving_mean']))
            bn.running_var.copy_(t(w[f'{name}_bn/moving_variance']))
        net.conv_last.weight.copy_(t(w['conv_last/kernel'].transpose(3, 2, 0, 1)))
        net.conv_last.bias.copy_(t(w['conv_last/bias']))
        dense = ['predictions'] if net.head == 'gap' else ['fc6', 'fc7', 'predictions']
        for name in dense:
            kernel = w[f'{name}/kernel']
            if name == 'fc6':  # TF.js flattened (h, w, c), PyTorch flattens (c, h, w)
                kernel = kernel.reshape(4, 4, 192, -1).transpose(2, 0, 1, 3).reshape(4 * 4 * 192, -1)
            getattr(net, name).weight.copy_(t(kernel.T))
            getattr(net, name).bias.copy_(t(w[f'{name}/bias']))
    return net.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True)
    parser.add_argument('--models', default='gap,fc')
    args = parser.parse_args()
    torch.manual_seed(0)
    probe = torch.rand(2, 3, 64, 64)
    for name in args.models.split(','):
        src = os.path.join(ROOT, 'resources', 'demo-models', name)
        out = os.path.join(args.out, name)
        os.makedirs(out, exist_ok=True)
        net = load(Demo(name), read_weights(src))
        torch.onnx.export(net, torch.zeros(1, 3, 64, 64), os.path.join(out, 'model.onnx'), opset_version=13,
                          input_names=['input'], output_names=['probs'],
                          dynamic_axes={'input': {0: 'batch', 2: 'height', 3: 'width'}, 'probs': {0: 'batch'}})
        for f in ['convscope.json', 'labels.txt']:
            shutil.copy(os.path.join(src, f), os.path.join(out, f))
        with torch.no_grad():
            probs = net(probe)
        json.dump({'input': {'seed': 0, 'shape': list(probe.shape), 'values': probe.flatten().tolist()}, 'probs': probs.flatten().tolist()},
                  open(os.path.join(out, 'port.json'), 'w'))
        print(f'{name}: {out}/model.onnx')


if __name__ == '__main__':
    main()
