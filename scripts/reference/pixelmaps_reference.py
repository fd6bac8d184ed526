"""
Independent reference maps for convscope's pixel maps (issue 12): vanilla gradient (backprop), deconvnet,
guided backprop and guided Grad-CAM, from PyTorch autograd with the lecture's ReLU backward rules.

Two networks, each computed by hand in PyTorch (float64, no tfjs code, no converter) from the same weights as
the TF.js layers model convscope opens, and exported with torch.onnx (opset 13) so the same numbers check the
ONNX path (separate Relu / Clip / LeakyRelu nodes there; mobile-net's ReLU6 layer exports as Relu then Clip(0, 6)
(F.relu6), its depthwise relu6 as one Clip(0, 6)), and written as TF.js graph models the way the converter
writes a Keras model (_FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul with BiasAdd + Relu or Relu6,
batch norm folded into the conv, a standalone LeakyRelu) so they check the graph executor's fused ops:

  gradcam-net (test/golden/gradcam-net, written by gradcam_reference.py; read here, not rewritten): a skip
      connection around conv2, Keras convs and a dense layer with FUSED relu, a standalone ReLU layer, max pool.
  mobile-net (test/golden/pixelmaps-mobile-net, written here), MobileNet-like, every other ReLU-family point:
      input 16×16×3 → conv1 3×3 (no bias, linear) → bn1 → relu6 (ReLU layer, max_value 6) ─┬→ dw 3×3 depthwise
      (fused relu6) → pw 1×1 linear ─→ add ←┘ → leaky (LeakyReLU α 0.2) → pool max 2 → conv3 3×3 (fused relu)
      → gap → logits 6 linear → probs softmax

The rules, one torch.autograd.Function swapped in at every ReLU-family point (f = the forward input, R = the
gradient arriving from above), exactly common.md's / the lecture's:

                relu                 relu6 (Keras relu6, ReLU max 6, ONNX Clip 0..6)    leaky ReLU(α)
  backprop      (f>0)·R              (0<f<6)·R                                          (f>0 ? 1 : α)·R
  deconvnet     (R>0)·R              (R>0)·R                                            (R>0)·R
  guided        (f>0)·(R>0)·R        (0<f<6)·(R>0)·R                                    (f>0 ? 1 : α)·(R>0)·R

guided-gradcam = guided map × Grad-CAM of the same target at a layer, Grad-CAM = relu(Σ_k α_k A_k) with
α_k = spatial mean of the plain gradient d target / d A_k, upsampled with F.interpolate(bilinear,
align_corners=False) to the input size and multiplied into each colour channel.

Targets: a class logit, a class probability, a unit at a position of an inner conv layer, a unit at its max
(first in row-major order), a unit's spatial mean, a unit of a dense layer, and guided Grad-CAM of classes at
two layers. The script checks, before writing, that its backprop rule equals plain autograd, that the three
rules give maps far apart, that the ReLU6 cap and the leaky slope change the maps (so a test that passes
cannot have used relu's rule there), and that no ReLU input or max-position is near a float32 tie.

Writes test/golden/pixelmaps-<net>.json (the input, and per case the target, method, layer, the target's value,
the located position and the h×w×3 NHWC map; the other formats' layer names), test/golden/pixelmaps-mobile-net/
(the TF.js layers model), test/golden/pixelmaps-<net>-onnx/ and test/golden/pixelmaps-<net>-graph/;
test/unit/pixelMapGoldens.test.ts compares convscope's maps to these, needing no Python.

Run with Debian's Python (it has torch and onnx):  /usr/bin/python3 scripts/reference/pixelmaps_reference.py
"""
from __future__ import annotations

import base64
import json
import os
import sys
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tfjs_torch import read_weights  # noqa: E402  (only the weight-file reader: the networks are written below)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
GOLDEN = os.path.join(ROOT, 'test', 'golden')
SIZE = 16
METHODS = ['backprop', 'deconvnet', 'guided']


# ------------------------------------------------------------------------------------------------------
# The ReLU backward rules
# ------------------------------------------------------------------------------------------------------

class Rules:
    """Which backward rule every ReLU-family point uses. rule None: torch's own ops (plain autograd, ONNX export).
    relu6_cap / leaky_slope False: deliberately wrong variants (relu's gate) used only to check the goldens'
    sensitivity."""

    def __init__(self, rule: str | None, relu6_cap: bool = True, leaky_slope: bool = True):
        self.rule, self.relu6_cap, self.leaky_slope = rule, relu6_cap, leaky_slope

    def relu(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x) if self.rule is None else ReluRule.apply(x, self, 'relu', 0.0)

    def relu6(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x) if self.rule is None else ReluRule.apply(x, self, 'relu6', 0.0)

    def clip6(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU6 again, exported as one Clip(0, 6) node (F.relu6 exports as Relu then Clip)."""
        return x.clamp(0, 6) if self.rule is None else ReluRule.apply(x, self, 'relu6', 0.0)

    def leaky(self, x: torch.Tensor, alpha: float) -> torch.Tensor:
        return F.leaky_relu(x, alpha) if self.rule is None else ReluRule.apply(x, self, 'leaky', alpha)


class ReluRule(torch.autograd.Function):
    """A ReLU-family activation whose backward is the chosen rule instead of its derivative."""

    @staticmethod
    def forward(ctx, f: torch.Tensor, rules: Rules, kind: str, alpha: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(f)
        ctx.rules, ctx.kind, ctx.alpha = rules, kind, alpha
        if kind == 'relu':
            return f.clamp(min=0)
        if kind == 'relu6':
            return f.clamp(0, 6)
        return torch.where(f > 0, f, alpha * f)

    @staticmethod
    def backward(ctx, r: torch.Tensor):  # type: ignore[override]
        (f,) = ctx.saved_tensors
        rules: Rules = ctx.rules
        if rules.rule == 'deconvnet':
            return (r > 0) * r, None, None, None
        positive = (f > 0).to(r.dtype)
        if ctx.kind == 'relu6' and rules.relu6_cap:
            gate = positive * (f < 6).to(r.dtype)
        elif ctx.kind == 'leaky' and rules.leaky_slope:
            gate = torch.where(f > 0, torch.ones_like(f), torch.full_like(f, ctx.alpha))
        else:
            gate = positive
        g = gate * r
        if rules.rule == 'guided':
            g = g * (r > 0)
        return g, None, None, None


class Recorder:
    """Wraps Rules to record every ReLU-family input of a plain forward (for the near-tie check)."""

    def __init__(self, inner: Rules):
        self.inner, self.inputs = inner, []

    def relu(self, x):
        self.inputs.append(('relu', x.detach()))
        return self.inner.relu(x)

    def relu6(self, x):
        self.inputs.append(('relu6', x.detach()))
        return self.inner.relu6(x)

    def clip6(self, x):
        self.inputs.append(('relu6', x.detach()))
        return self.inner.clip6(x)

    def leaky(self, x, alpha):
        self.inputs.append(('leaky', x.detach()))
        return self.inner.leaky(x, alpha)


# ------------------------------------------------------------------------------------------------------
# The networks (NCHW inside; outputs by Keras layer name)
# ------------------------------------------------------------------------------------------------------

def conv_weight(kernel: np.ndarray) -> np.ndarray:
    return kernel.transpose(3, 2, 0, 1)  # [kh, kw, in, out] -> [out, in, kh, kw]


class GradcamNet(torch.nn.Module):
    """test/golden/gradcam-net (see gradcam_reference.py): 3×3 'same' convs, stride 1, symmetric padding."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        p = lambda a: torch.nn.Parameter(torch.tensor(np.ascontiguousarray(a)), requires_grad=False)  # noqa: E731
        self.k = torch.nn.ParameterDict({n.replace('/', '_'): p(conv_weight(w[n]) if w[n].ndim == 4 else w[n]) for n in w})

    def conv(self, x, name, pad):
        return F.conv2d(x, self.k[f'{name}_kernel'], self.k[f'{name}_bias'], padding=pad)

    def layers(self, x: torch.Tensor, act) -> dict[str, torch.Tensor]:
        o: dict[str, torch.Tensor] = {}
        o['conv1'] = act.relu(self.conv(x, 'conv1', 1))
        o['pool1'] = F.max_pool2d(o['conv1'], 2)
        o['conv2'] = act.relu(self.conv(o['pool1'], 'conv2', 1))
        o['conv3'] = self.conv(o['conv2'], 'conv3', 1)
        o['skip'] = self.conv(o['pool1'], 'skip', 0)
        o['add'] = o['conv3'] + o['skip']
        o['relu3'] = act.relu(o['add'])
        o['pool3'] = F.avg_pool2d(o['relu3'], 2)
        o['flatten'] = torch.flatten(o['pool3'].permute(0, 2, 3, 1), 1)  # TF flattens NHWC
        o['fc'] = act.relu(o['flatten'] @ self.k['fc_kernel'] + self.k['fc_bias'])
        o['logits'] = o['fc'] @ self.k['logits_kernel'] + self.k['logits_bias']
        o['probs'] = torch.softmax(o['logits'], dim=1)
        return o


MOBILE_CLASSES = 6
LEAKY_ALPHA = 0.2


class MobileNet(torch.nn.Module):
    """pixelmaps-mobile-net: see the module doc comment."""

    def __init__(self, w: dict[str, np.ndarray]):
        super().__init__()
        p = lambda a: torch.nn.Parameter(torch.tensor(np.ascontiguousarray(a)), requires_grad=False)  # noqa: E731
        self.conv1 = p(conv_weight(w['conv1/kernel']))
        inv = w['bn1/gamma'].astype(np.float64) / np.sqrt(w['bn1/moving_variance'].astype(np.float64) + 1e-3)
        self.bn_scale, self.bn_shift = p(inv.reshape(1, -1, 1, 1)), p((w['bn1/beta'] - w['bn1/moving_mean'] * inv).reshape(1, -1, 1, 1))
        dw = w['dw/depthwise_kernel']  # [kh, kw, c, 1] -> [c, 1, kh, kw]
        self.dw, self.dw_bias = p(dw.transpose(2, 3, 0, 1)), p(w['dw/bias'])
        self.pw, self.pw_bias = p(conv_weight(w['pw/kernel'])), p(w['pw/bias'])
        self.conv3, self.conv3_bias = p(conv_weight(w['conv3/kernel'])), p(w['conv3/bias'])
        self.logits, self.logits_bias = p(w['logits/kernel']), p(w['logits/bias'])

    def layers(self, x: torch.Tensor, act) -> dict[str, torch.Tensor]:
        o: dict[str, torch.Tensor] = {}
        o['conv1'] = F.conv2d(x, self.conv1, None, padding=1)
        o['bn1'] = o['conv1'] * self.bn_scale + self.bn_shift
        o['relu6'] = act.relu6(o['bn1'])
        o['dw'] = act.clip6(F.conv2d(o['relu6'], self.dw, self.dw_bias, padding=1, groups=self.dw.shape[0]))
        o['pw'] = F.conv2d(o['dw'], self.pw, self.pw_bias)
        o['add'] = o['pw'] + o['relu6']
        o['leaky'] = act.leaky(o['add'], LEAKY_ALPHA)
        o['pool'] = F.max_pool2d(o['leaky'], 2)
        o['conv3'] = act.relu(F.conv2d(o['pool'], self.conv3, self.conv3_bias, padding=1))
        o['gap'] = o['conv3'].mean(dim=(2, 3))
        o['logits'] = o['gap'] @ self.logits + self.logits_bias
        o['probs'] = torch.softmax(o['logits'], dim=1)
        return o


class Exported(torch.nn.Module):
    """The plain network from NCHW input to probabilities, for torch.onnx.export."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.layers(x, Rules(None))['probs']


# ------------------------------------------------------------------------------------------------------
# Writing the mobile-net as a TF.js layers model
# ------------------------------------------------------------------------------------------------------

def mobile_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Seeded weights, scaled so that every ReLU6 sees inputs below 0, inside (0, 6) and above 6."""
    def he(shape, fan_in, gain=1.0):
        return (rng.standard_normal(shape) * gain * np.sqrt(2.0 / fan_in)).astype(np.float32)
    w = {
        'conv1/kernel': he((3, 3, 3, 8), 27),
        'bn1/gamma': rng.uniform(2.0, 5.0, 8).astype(np.float32),
        'bn1/beta': rng.uniform(0.0, 2.0, 8).astype(np.float32),
        'bn1/moving_mean': rng.uniform(-0.2, 0.2, 8).astype(np.float32),
        'bn1/moving_variance': rng.uniform(0.3, 1.5, 8).astype(np.float32),
        'dw/depthwise_kernel': he((3, 3, 8, 1), 9, 1.2),
        'dw/bias': rng.uniform(-0.5, 0.5, 8).astype(np.float32),
        'pw/kernel': he((1, 1, 8, 8), 8),
        'pw/bias': rng.uniform(-0.5, 0.5, 8).astype(np.float32),
        'conv3/kernel': he((3, 3, 8, 12), 72),
        'conv3/bias': rng.uniform(-0.1, 0.1, 12).astype(np.float32),
        'logits/kernel': he((12, MOBILE_CLASSES), 12),
        'logits/bias': rng.uniform(-0.1, 0.1, MOBILE_CLASSES).astype(np.float32),
    }
    return w


def layer(name: str, class_name: str, config: dict, inbound: list[str]) -> dict:
    return {'name': name, 'class_name': class_name, 'config': {'name': name, 'trainable': True, **config},
            'inbound_nodes': [[[i, 0, 0, {}] for i in inbound]] if inbound else []}


def mobile_topology() -> dict:
    conv = {'strides': [1, 1], 'padding': 'same', 'data_format': 'channels_last', 'dilation_rate': [1, 1]}
    layers = [
        layer('input', 'InputLayer', {'batch_input_shape': [None, SIZE, SIZE, 3], 'dtype': 'float32', 'sparse': False}, []),
        layer('conv1', 'Conv2D', {**conv, 'filters': 8, 'kernel_size': [3, 3], 'activation': 'linear', 'use_bias': False}, ['input']),
        layer('bn1', 'BatchNormalization', {'axis': -1, 'momentum': 0.99, 'epsilon': 1e-3, 'center': True, 'scale': True}, ['conv1']),
        layer('relu6', 'ReLU', {'max_value': 6}, ['bn1']),
        layer('dw', 'DepthwiseConv2D', {**conv, 'kernel_size': [3, 3], 'depth_multiplier': 1, 'activation': 'relu6', 'use_bias': True}, ['relu6']),
        layer('pw', 'Conv2D', {**conv, 'filters': 8, 'kernel_size': [1, 1], 'activation': 'linear', 'use_bias': True}, ['dw']),
        layer('add', 'Add', {}, ['pw', 'relu6']),
        layer('leaky', 'LeakyReLU', {'alpha': LEAKY_ALPHA}, ['add']),
        layer('pool', 'MaxPooling2D', {'pool_size': [2, 2], 'strides': [2, 2], 'padding': 'valid', 'data_format': 'channels_last'}, ['leaky']),
        layer('conv3', 'Conv2D', {**conv, 'filters': 12, 'kernel_size': [3, 3], 'activation': 'relu', 'use_bias': True}, ['pool']),
        layer('gap', 'GlobalAveragePooling2D', {'data_format': 'channels_last'}, ['conv3']),
        layer('logits', 'Dense', {'units': MOBILE_CLASSES, 'activation': 'linear', 'use_bias': True}, ['gap']),
        layer('probs', 'Softmax', {'axis': -1}, ['logits']),
    ]
    return {'class_name': 'Model',
            'config': {'name': 'pixelmaps_mobile_net', 'layers': layers, 'input_layers': [['input', 0, 0]], 'output_layers': [['probs', 0, 0]]},
            'keras_version': 'tfjs-layers 4.22.0', 'backend': 'tensor_flow.js'}


# The ONNX exports' layers as convscope names them (after the node: '/Relu_1' -> 'relu_1'), by Keras layer name;
# the test checks each pair gives the same output before using it.
ONNX_LAYERS = {
    'gradcam-net': {'conv1': 'relu', 'pool1': 'maxpool', 'conv2': 'relu_1', 'conv3': 'conv_2', 'skip': 'conv_3', 'add': 'add',
                    'relu3': 'relu_2', 'fc': 'relu_3', 'logits': 'add_2'},
    'mobile-net': {'conv1': 'conv', 'bn1': 'add', 'relu6': 'clip', 'dw': 'clip_1', 'pw': 'conv_2', 'add': 'add_1', 'leaky': 'leakyrelu',
                   'pool': 'maxpool', 'conv3': 'relu_1', 'gap': 'reducemean', 'logits': 'add_2'},
}

# The graph models' layers (nodes named after the Keras layers; mobile-net's conv1 and bn1 are folded into relu6).
GRAPH_LAYERS = {
    'gradcam-net': {n: n for n in ['conv1', 'pool1', 'conv2', 'conv3', 'skip', 'add', 'relu3', 'fc', 'logits']},
    'mobile-net': {n: n for n in ['relu6', 'dw', 'pw', 'add', 'leaky', 'pool', 'conv3', 'gap', 'logits']},
}

SIDECAR = {'inputSize': [SIZE, SIZE], 'range': [0, 1], 'resize': 'stretch'}


def write_layers_model(model_dir: str, topology: dict, w: dict[str, np.ndarray]) -> None:
    os.makedirs(model_dir, exist_ok=True)
    names = list(w)
    manifest = [{'paths': ['group1-shard1of1.bin'], 'weights': [{'name': n, 'shape': list(w[n].shape), 'dtype': 'float32'} for n in names]}]
    model = {'format': 'layers-model', 'generatedBy': 'scripts/reference/pixelmaps_reference.py', 'convertedBy': None,
             'modelTopology': topology, 'weightsManifest': manifest}
    with open(os.path.join(model_dir, 'model.json'), 'w') as f:
        json.dump(model, f, indent=1)
    with open(os.path.join(model_dir, 'group1-shard1of1.bin'), 'wb') as f:
        for n in names:
            f.write(w[n].astype('<f4').tobytes())
    with open(os.path.join(model_dir, 'convscope.json'), 'w') as f:
        json.dump(SIDECAR, f, indent=2)


def export_onnx(net: torch.nn.Module, onnx_dir: str) -> None:
    """The plain float32 network, NCHW input 'input' with a free batch, opset 13; constant folding keeps the ops."""
    os.makedirs(onnx_dir, exist_ok=True)
    model = Exported(net).float().eval()
    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), os.path.join(onnx_dir, 'model.onnx'), opset_version=13,
                      input_names=['input'], output_names=['probs'], dynamic_axes={'input': {0: 'batch'}, 'probs': {0: 'batch'}},
                      do_constant_folding=True)
    with open(os.path.join(onnx_dir, 'convscope.json'), 'w') as f:
        json.dump(SIDECAR, f, indent=2)


# ------------------------------------------------------------------------------------------------------
# Writing TF.js graph models, as the converter writes a Keras model (fused ops, batch norm folded)
# ------------------------------------------------------------------------------------------------------

F32 = {'type': 'DT_FLOAT'}
I32 = {'type': 'DT_INT32'}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def ints(*v: int) -> dict:
    return {'list': {'i': [str(i) for i in v]}}


def fused(*ops: str) -> dict:
    return {'fused_ops': {'list': {'s': [b64(o) for o in ops]}}, 'num_args': {'i': '1'}, 'epsilon': {'f': 0}}


CONV = {'T': F32, 'strides': ints(1, 1, 1, 1), 'padding': {'s': b64('SAME')}, 'dilations': ints(1, 1, 1, 1), 'data_format': {'s': b64('NHWC')}}
MATMUL = {'T': F32, 'transpose_a': {'b': False}, 'transpose_b': {'b': False}}
POOL = {'T': F32, 'ksize': ints(1, 2, 2, 1), 'strides': ints(1, 2, 2, 1), 'padding': {'s': b64('VALID')}, 'data_format': {'s': b64('NHWC')}}


def node(name: str, op: str, inputs: list[str], attr: dict | None = None) -> dict:
    return {'name': name, 'op': op, 'input': inputs, 'attr': {'T': F32, **(attr or {})}}


def gradcam_graph(w: dict[str, np.ndarray]) -> tuple[list[dict], dict[str, np.ndarray]]:
    """gradcam-net as GraphDef nodes named after the Keras layers: _FusedConv2D [BiasAdd, Relu] / [BiasAdd], Relu,
    AvgPool, Reshape, _FusedMatMul [BiasAdd, Relu] / [BiasAdd]."""
    consts = dict(w)
    consts['flatten/shape'] = np.array([-1, 4 * 4 * 8], dtype=np.int32)
    conv = lambda name, x, *ops: node(name, '_FusedConv2D', [x, f'{name}/kernel', f'{name}/bias'], {**CONV, **fused(*ops)})  # noqa: E731
    dense = lambda name, x, *ops: node(name, '_FusedMatMul', [x, f'{name}/kernel', f'{name}/bias'], {**MATMUL, **fused(*ops)})  # noqa: E731
    nodes = [
        conv('conv1', 'input', 'BiasAdd', 'Relu'),
        node('pool1', 'MaxPool', ['conv1'], POOL),
        conv('conv2', 'pool1', 'BiasAdd', 'Relu'),
        conv('conv3', 'conv2', 'BiasAdd'),
        conv('skip', 'pool1', 'BiasAdd'),
        node('add', 'AddV2', ['conv3', 'skip']),
        node('relu3', 'Relu', ['add']),
        node('pool3', 'AvgPool', ['relu3'], POOL),
        node('flatten', 'Reshape', ['pool3', 'flatten/shape'], {'Tshape': I32}),
        dense('fc', 'flatten', 'BiasAdd', 'Relu'),
        dense('logits', 'fc', 'BiasAdd'),
        node('probs', 'Softmax', ['logits']),
    ]
    return nodes, consts


def mobile_graph(w: dict[str, np.ndarray]) -> tuple[list[dict], dict[str, np.ndarray]]:
    """mobile-net as the converter writes it: conv1 + bn1 + relu6 folded into one _FusedConv2D [BiasAdd, Relu6] named
    relu6, FusedDepthwiseConv2dNative [BiasAdd, Relu6], a standalone LeakyRelu, Mean, _FusedMatMul."""
    scale = w['bn1/gamma'].astype(np.float64) / np.sqrt(w['bn1/moving_variance'].astype(np.float64) + 1e-3)
    consts = {
        'relu6/kernel': (w['conv1/kernel'] * scale).astype(np.float32),
        'relu6/bias': (w['bn1/beta'] - w['bn1/moving_mean'] * scale).astype(np.float32),
        **{k: v for k, v in w.items() if not k.startswith(('conv1/', 'bn1/'))},
        'gap/axes': np.array([1, 2], dtype=np.int32),
    }
    conv = lambda name, op, x, kernel, *ops: node(name, op, [x, kernel, f'{name}/bias'], {**CONV, **fused(*ops)})  # noqa: E731
    nodes = [
        conv('relu6', '_FusedConv2D', 'input', 'relu6/kernel', 'BiasAdd', 'Relu6'),
        conv('dw', 'FusedDepthwiseConv2dNative', 'relu6', 'dw/depthwise_kernel', 'BiasAdd', 'Relu6'),
        conv('pw', '_FusedConv2D', 'dw', 'pw/kernel', 'BiasAdd'),
        node('add', 'AddV2', ['pw', 'relu6']),
        node('leaky', 'LeakyRelu', ['add'], {'alpha': {'f': LEAKY_ALPHA}}),
        node('pool', 'MaxPool', ['leaky'], POOL),
        conv('conv3', '_FusedConv2D', 'pool', 'conv3/kernel', 'BiasAdd', 'Relu'),
        node('gap', 'Mean', ['conv3', 'gap/axes'], {'Tidx': I32, 'keep_dims': {'b': False}}),
        node('logits', '_FusedMatMul', ['gap', 'logits/kernel', 'logits/bias'], {**MATMUL, **fused('BiasAdd')}),
        node('probs', 'Softmax', ['logits']),
    ]
    return nodes, consts


def write_graph_model(model_dir: str, nodes: list[dict], consts: dict[str, np.ndarray]) -> None:
    """model.json (a Placeholder, every weight a Const node, then `nodes`, then Identity) and one shard."""
    os.makedirs(model_dir, exist_ok=True)
    dtype = lambda a: 'DT_INT32' if a.dtype == np.int32 else 'DT_FLOAT'  # noqa: E731
    shape = lambda dims: {'dim': [{'size': str(d)} for d in dims]}  # noqa: E731
    const_nodes = [{'name': n, 'op': 'Const', 'attr': {'value': {'tensor': {'dtype': dtype(a), 'tensorShape': shape(a.shape)}}, 'dtype': {'type': dtype(a)}}}
                   for n, a in consts.items()]
    placeholder = {'name': 'input', 'op': 'Placeholder', 'attr': {'dtype': F32, 'shape': {'shape': shape([-1, SIZE, SIZE, 3])}}}
    graph = [placeholder, *const_nodes, *nodes, node('Identity', 'Identity', [nodes[-1]['name']])]
    manifest = [{'paths': ['group1-shard1of1.bin'],
                 'weights': [{'name': n, 'shape': list(a.shape), 'dtype': 'int32' if a.dtype == np.int32 else 'float32'} for n, a in consts.items()]}]
    model = {'format': 'graph-model', 'generatedBy': 'scripts/reference/pixelmaps_reference.py', 'convertedBy': None,
             'modelTopology': {'node': graph, 'library': {}, 'versions': {'producer': 1482}}, 'weightsManifest': manifest}
    with open(os.path.join(model_dir, 'model.json'), 'w') as f:
        json.dump(model, f, indent=1)
    with open(os.path.join(model_dir, 'group1-shard1of1.bin'), 'wb') as f:
        for a in consts.values():
            f.write(a.astype('<i4' if a.dtype == np.int32 else '<f4').tobytes())
    with open(os.path.join(model_dir, 'convscope.json'), 'w') as f:
        json.dump(SIDECAR, f, indent=2)


# ------------------------------------------------------------------------------------------------------
# Targets and maps
# ------------------------------------------------------------------------------------------------------

def forward(net, x_nhwc: torch.Tensor, act) -> dict[str, torch.Tensor]:
    return net.layers(x_nhwc.permute(0, 3, 1, 2), act)


def locate(outs: dict[str, torch.Tensor], target: dict) -> tuple[dict | None, float]:
    """The target's position (a unit at its max: first max in row-major order, as convscope's) and value."""
    if target['kind'] == 'class':
        logits = outs['logits'][0]
        scores = torch.softmax(logits, 0) if target['score'] == 'probability' else logits
        return None, float(scores[target['class']])
    out = outs[target['layer']][0, target['channel']].detach()
    if out.dim() == 0:
        return None, float(out)
    at = target['at']
    if at == 'mean':
        return None, float(out.mean())
    if at == 'max':
        flat = out.flatten().numpy()
        best = int(np.argmax(flat))  # numpy: the first maximum
        runner_up = np.sort(flat)[-2]
        assert flat[best] - runner_up > 1e-4, f'{target}: max {flat[best]} and runner-up {runner_up} are too close for float32'
        at = {'y': best // out.shape[1], 'x': best % out.shape[1]}
    return at, float(out[at['y'], at['x']])


def score(outs: dict[str, torch.Tensor], target: dict, position: dict | None) -> torch.Tensor:
    """The target's value as a differentiable scalar, the unit's position held fixed."""
    if target['kind'] == 'class':
        logits = outs['logits'][0]
        return (torch.softmax(logits, 0) if target['score'] == 'probability' else logits)[target['class']]
    out = outs[target['layer']][0, target['channel']]
    if out.dim() == 0:
        return out
    return out.mean() if position is None else out[position['y'], position['x']]


def pixel_map(net, x: np.ndarray, target: dict, rules: Rules) -> tuple[np.ndarray, dict | None, float]:
    """d target / d input under `rules`: [1, h, w, 3] NHWC, the position and the value."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    outs = forward(net, xt, rules)
    position, value = locate(outs, target)
    (g,) = torch.autograd.grad(score(outs, target, position), xt)
    return g.detach().numpy(), position, value


def gradcam(net, x: np.ndarray, target: dict, layer: str) -> np.ndarray:
    """Grad-CAM of `target` at `layer` (plain gradients), bilinearly upsampled to the input: [h, w]."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)  # so that the graph through `layer` is recorded
    outs = forward(net, xt, Rules(None))
    position, _ = locate(outs, target)
    a = outs[layer]
    (g,) = torch.autograd.grad(score(outs, target, position), a)
    weights = g[0].mean(dim=(1, 2))
    cam = F.relu((weights[:, None, None] * a[0]).sum(dim=0))
    up = F.interpolate(cam[None, None], size=(x.shape[1], x.shape[2]), mode='bilinear', align_corners=False)
    return up[0, 0].detach().numpy()


def rel(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| over max |b|, as test/fixtures/numeric.ts relativeDiff."""
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def check_margins(net, x: np.ndarray, name: str) -> float:
    """The smallest |f| at any ReLU-family input (and |f - 6| at ReLU6s): float32 must not flip a gate."""
    rec = Recorder(Rules(None))
    with torch.no_grad():
        forward(net, torch.tensor(x, dtype=torch.float64), rec)
    margin = np.inf
    for kind, f in rec.inputs:
        f = f.numpy()
        margin = min(margin, np.abs(f).min())
        if kind == 'relu6':
            margin = min(margin, np.abs(f - 6).min())
            below, inside, above = (f <= 0).mean(), ((f > 0) & (f < 6)).mean(), (f >= 6).mean()
            print(f'  {name} relu6 input: {below:.0%} ≤ 0, {inside:.0%} in (0, 6), {above:.0%} ≥ 6')
            assert min(below, inside, above) > 0.05, 'every part of the ReLU6 rule must be exercised'
        if kind == 'leaky':
            print(f'  {name} leaky input: {(f <= 0).mean():.0%} ≤ 0')
            assert (f <= 0).mean() > 0.1
    print(f'  {name}: smallest distance of a ReLU-family input from a kink: {margin:.2e}')
    assert margin > 1e-5, 'a ReLU input this close to a kink could flip in float32'
    return float(margin)


def golden_for(name: str, net, x: np.ndarray, targets: list[dict], gradcams: list[tuple[dict, str]], variants: bool, first_layer: str) -> dict:
    cases = []
    least_apart, guided_deconvnet = np.inf, 0.0
    for target in targets:
        maps = {}
        for method in METHODS:
            m, position, value = pixel_map(net, x, target, Rules(method))
            maps[method] = m
            cases.append({'target': target, 'method': method, 'value': value, 'position': position, 'values': m.flatten()})
        plain, _, _ = pixel_map(net, x, target, Rules(None))
        assert rel(maps['backprop'], plain) < 1e-12, f'{name} {target}: the backprop rule must be plain autograd'
        assert np.abs(maps['backprop']).max() > 0, f'{name} {target}: an all-zero map checks nothing'
        # guided and deconvnet coincide where every ReLU below the target is open (f > 0): the last pair is checked over all targets.
        apart = min(rel(maps['deconvnet'], maps['backprop']), rel(maps['guided'], maps['backprop']))
        guided_deconvnet = max(guided_deconvnet, rel(maps['guided'], maps['deconvnet']))
        if target.get('at') == 'max' and target.get('layer') == first_layer:
            # A first-layer unit: one ReLU, its own, with R = 1 > 0 and f > 0 at its max: the rules coincide.
            assert apart < 1e-12, f'{name} {target}: the rules must coincide on a first-layer unit'
        else:
            least_apart = min(least_apart, apart)
        line = f'  {name} {json.dumps(target)}: value {value:.4f} at {position}, max |map| {np.abs(maps["backprop"]).max():.3e}, others ≥ {apart:.3f} from backprop, guided {rel(maps["guided"], maps["deconvnet"]):.3f} from deconvnet'
        if variants:
            wrong6 = max(rel(pixel_map(net, x, target, Rules(r, relu6_cap=False))[0], maps[r]) for r in ('backprop', 'guided'))
            wrong_leaky = max(rel(pixel_map(net, x, target, Rules(r, leaky_slope=False))[0], maps[r]) for r in ('backprop', 'guided'))
            line += f', relu6 as relu {wrong6:.3f}, leaky as relu {wrong_leaky:.3f}'
            cases[-1]['sensitivity'] = {'relu6AsRelu': wrong6, 'leakyAsRelu': wrong_leaky}
        print(line)
    assert least_apart > 1e-2, f'{name}: deconvnet or guided within {least_apart} of backprop'
    assert guided_deconvnet > 1e-2, f'{name}: guided and deconvnet coincide on every target'
    for target, layer in gradcams:
        guided, position, value = pixel_map(net, x, target, Rules('guided'))
        cam = gradcam(net, x, target, layer)
        m = guided * cam[None, :, :, None]
        assert np.abs(m).max() > 0
        print(f'  {name} guided-gradcam {json.dumps(target)} at {layer}: cam max {cam.max():.4f}, max |map| {np.abs(m).max():.3e}')
        cases.append({'target': target, 'method': 'guided-gradcam', 'layer': layer, 'value': value, 'position': position, 'values': m.flatten()})
    if variants:
        sens = [c['sensitivity'] for c in cases if 'sensitivity' in c]
        assert max(s['relu6AsRelu'] for s in sens) > 1e-2 and max(s['leakyAsRelu'] for s in sens) > 1e-2, 'the ReLU6 / leaky rules must matter'
    for c in cases:
        c.pop('sensitivity', None)
        c['values'] = [float(f'{v:.7g}') for v in c['values']]
    return {'cases': cases, 'leastApart': least_apart}


def unit(layer: str, channel: int, at) -> dict:
    return {'kind': 'unit', 'layer': layer, 'channel': channel, 'at': at}


def klass(c: int, score: str) -> dict:
    return {'kind': 'class', 'class': c, 'score': score}


def write_golden(name: str, model_dir: str, x: np.ndarray, result: dict, margin: float) -> None:
    onnx_dir, graph_dir = f'pixelmaps-{name}-onnx', f'pixelmaps-{name}-graph'
    golden = {
        'about': f'Made by scripts/reference/pixelmaps_reference.py (PyTorch autograd with the ReLU rules, float64) from '
                 f'test/golden/{model_dir}; maps are h × w × 3 NHWC row-major, d target / d input; the same network as '
                 f'torch.onnx export in test/golden/{onnx_dir}, as a TF.js graph model in test/golden/{graph_dir}. '
                 f'Smallest distance of a ReLU-family input from a kink: {margin:.2e}.',
        'model': model_dir,
        'onnx': onnx_dir,
        'onnxLayers': ONNX_LAYERS[name],
        'graph': graph_dir,
        'graphLayers': GRAPH_LAYERS[name],
        'input': {'shape': list(x.shape), 'values': [float(v) for v in x.flatten()]},
        'cases': result['cases'],
    }
    path = os.path.join(GOLDEN, f'pixelmaps-{name}.json')
    with open(path, 'w') as f:
        json.dump(golden, f, separators=(',', ':'))
    print(f'  wrote {os.path.relpath(path, ROOT)} ({len(result["cases"])} maps, rules ≥ {result["leastApart"]:.3f} apart)')


def main() -> None:
    # gradcam-net: the committed model's weights.
    gdir = os.path.join(GOLDEN, 'gradcam-net')
    with open(os.path.join(gdir, 'model.json')) as f:
        w = read_weights(gdir, json.load(f)['weightsManifest'])
    gnet = GradcamNet({k: v.astype(np.float64) for k, v in w.items()})
    x = np.random.default_rng(20261205).uniform(0, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    print('gradcam-net')
    margin = check_margins(gnet, x, 'gradcam-net')
    targets = [klass(2, 'logit'), klass(4, 'probability'), unit('conv2', 3, {'y': 2, 'x': 3}), unit('relu3', 5, 'max'),
               unit('conv2', 1, 'mean'), unit('conv1', 4, 'max'), unit('fc', 7, 'max')]
    result = golden_for('gradcam-net', gnet, x, targets, [(klass(2, 'logit'), 'relu3'), (klass(0, 'logit'), 'conv2')], variants=False, first_layer='conv1')
    export_onnx(GradcamNet({k: v.astype(np.float32) for k, v in w.items()}), os.path.join(GOLDEN, 'pixelmaps-gradcam-net-onnx'))
    write_graph_model(os.path.join(GOLDEN, 'pixelmaps-gradcam-net-graph'), *gradcam_graph(w))
    write_golden('gradcam-net', 'gradcam-net', x, result, margin)

    # mobile-net: written here.
    rng = np.random.default_rng(20261206)
    w = mobile_weights(rng)
    write_layers_model(os.path.join(GOLDEN, 'pixelmaps-mobile-net'), mobile_topology(), w)
    mnet = MobileNet({k: v.astype(np.float64) for k, v in w.items()})
    x = rng.uniform(0, 1, (1, SIZE, SIZE, 3)).astype(np.float32)
    print('mobile-net')
    margin = check_margins(mnet, x, 'mobile-net')
    targets = [klass(1, 'logit'), klass(3, 'probability'), unit('dw', 4, {'y': 4, 'x': 8}), unit('leaky', 4, 'max'),
               unit('conv3', 7, 'mean'), unit('pw', 2, 'max'), unit('logits', 0, 'max')]
    result = golden_for('mobile-net', mnet, x, targets, [(klass(1, 'logit'), 'conv3'), (klass(3, 'logit'), 'leaky')], variants=True, first_layer='conv1')
    export_onnx(MobileNet({k: v.astype(np.float32) for k, v in w.items()}), os.path.join(GOLDEN, 'pixelmaps-mobile-net-onnx'))
    write_graph_model(os.path.join(GOLDEN, 'pixelmaps-mobile-net-graph'), *mobile_graph(w))
    write_golden('mobile-net', 'pixelmaps-mobile-net', x, result, margin)


if __name__ == '__main__':
    main()
