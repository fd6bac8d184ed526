"""
A TF.js layers model (model.json + weight shards) as a PyTorch module, for independent references.

convscope's numbers come from TensorFlow.js; this module recomputes them with PyTorch from the same files,
written from the Keras layer definitions, not from tfjs code. Benchmarks (bench/reference/scan_reference.py)
and reference tests (test/unit/torchReference.test.ts) use it.

    from tfjs_torch import load_tfjs_layers_model
    model = load_tfjs_layers_model('resources/demo-models/gap')
    outs = model.forward(x_nhwc, ['conv_last', 'probs'])   # {'conv_last': [N, 8, 8, 192], 'probs': [N, 14]}

Tensors flow in NCHW inside (what torch's conv kernels want); `forward` takes and returns TF's layouts
(NHWC maps, [N, units] vectors); `forward_nchw` skips both transposes. Only the layers a requested output
depends on are computed.

Supported (Keras semantics, inference mode): InputLayer, Conv2D (padding 'same' with TF's asymmetric split
when the total is odd, 'valid'; strides, dilation, groups, activation), DepthwiseConv2D, BatchNormalization,
ReLU (max_value, negative_slope, threshold), Activation, Dense (also on maps: the last axis), Flatten (in NHWC
order, as TF flattens), Dropout / SpatialDropout2D / GaussianNoise / GaussianDropout (identity),
AveragePooling2D (padded cells excluded from the mean, as in TF), MaxPooling2D, GlobalAveragePooling2D,
GlobalMaxPooling2D, ZeroPadding2D, Add, Concatenate, Softmax. Weights: float32 / int32, and the converter's
uint8 / uint16 (affine) and float16 quantisations. Anything else raises UnsupportedLayerError naming the layer.

Command line (writes one float32 .npy per layer, in TF layout):

    /usr/bin/python3 scripts/reference/tfjs_torch.py MODEL_DIR --input x.npy --layers a,b --out DIR
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ['load_tfjs_layers_model', 'TfjsTorchModel', 'UnsupportedLayerError']


class UnsupportedLayerError(ValueError):
    """A layer class or option this converter does not implement."""


# ------------------------------------------------------------------------------------------------------
# Weights
# ------------------------------------------------------------------------------------------------------

_DTYPES = {'float32': np.float32, 'int32': np.int32, 'bool': np.bool_}
_QUANT = {'uint8': np.uint8, 'uint16': np.uint16, 'float16': np.float16}


def read_weights(model_dir: str, manifest: list) -> dict[str, np.ndarray]:
    """Every weight of a weightsManifest, by name: shards of a group are concatenated, then sliced in order."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        buf = b''.join(open(os.path.join(model_dir, p), 'rb').read() for p in group['paths'])
        offset = 0
        for w in group['weights']:
            shape = [int(d) for d in w['shape']]
            count = int(np.prod(shape)) if shape else 1
            q = w.get('quantization')
            if q:
                qdtype = _QUANT.get(q['dtype'])
                if qdtype is None:
                    raise UnsupportedLayerError(f"weight {w['name']}: quantization dtype {q['dtype']} is not supported")
                raw = np.frombuffer(buf, dtype=qdtype, count=count, offset=offset)
                offset += raw.nbytes
                if q['dtype'] == 'float16':
                    values = raw.astype(np.float32)
                else:
                    values = raw.astype(np.float32) * np.float32(q['scale']) + np.float32(q['min'])
            else:
                dtype = _DTYPES.get(w['dtype'])
                if dtype is None:
                    raise UnsupportedLayerError(f"weight {w['name']}: dtype {w['dtype']} is not supported")
                values = np.frombuffer(buf, dtype=dtype, count=count, offset=offset)
                offset += values.nbytes
            weights[w['name']] = values.reshape(shape).copy()
    return weights


def _layer_weights(all_weights: dict[str, np.ndarray], layer: str) -> dict[str, np.ndarray]:
    """The weights of one layer by short name ('kernel', 'bias', 'gamma', ...): names 'layer/x' or '.../layer/x'."""
    found: dict[str, np.ndarray] = {}
    for name, value in all_weights.items():
        parts = name.split('/')
        if len(parts) >= 2 and parts[-2] == layer:
            short = parts[-1]
            # tfjs may suffix duplicates ('kernel_1'); Keras checkpoints add ':0'.
            short = short.split(':')[0]
            found[short] = value
    return found


# ------------------------------------------------------------------------------------------------------
# Layer functions (NCHW inside)
# ------------------------------------------------------------------------------------------------------

def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return int(v[0]), int(v[1])
    raise UnsupportedLayerError(f'{name}: expected an int or a pair, got {v!r}')


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TF 'same': output ceil(size / stride); the odd pixel of the total padding goes after (bottom / right)."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _padding_for(x: torch.Tensor, padding: str, kernel, strides, dilation, layer: str) -> tuple[int, int, int, int] | None:
    """F.pad's (left, right, top, bottom) for TF's padding mode, or None for 'valid'."""
    if padding == 'valid':
        return None
    if padding != 'same':
        raise UnsupportedLayerError(f"layer {layer}: padding '{padding}' is not supported (only 'same' and 'valid')")
    top, bottom = _same_pads(x.shape[2], kernel[0], strides[0], dilation[0])
    left, right = _same_pads(x.shape[3], kernel[1], strides[1], dilation[1])
    return left, right, top, bottom


_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    'linear': lambda x: x,
    'relu': F.relu,
    'relu6': lambda x: torch.clamp(x, 0.0, 6.0),
    'sigmoid': torch.sigmoid,
    'tanh': torch.tanh,
    'elu': F.elu,
    'selu': F.selu,
    'softplus': F.softplus,
    'softsign': F.softsign,
    'swish': lambda x: x * torch.sigmoid(x),
    'hard_sigmoid': lambda x: torch.clamp(0.2 * x + 0.5, 0.0, 1.0),
}


def _activation(name: str | None, layer: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name is None:
        return _ACTIVATIONS['linear']
    if name == 'softmax':
        return lambda x: torch.softmax(x, dim=1)  # the channel axis of NCHW maps and [N, units] vectors
    fn = _ACTIVATIONS.get(name)
    if fn is None:
        raise UnsupportedLayerError(f"layer {layer}: activation '{name}' is not supported")
    return fn


def _last_axis_to_internal(axis: int, rank_tf: int, layer: str) -> int:
    """Map a TF axis (NHWC or [N, units]) to the internal axis (NCHW or [N, units])."""
    a = axis if axis >= 0 else axis + rank_tf
    if rank_tf == 4:
        return {0: 0, 1: 2, 2: 3, 3: 1}[a]
    if rank_tf == 2:
        return a
    raise UnsupportedLayerError(f'layer {layer}: axis {axis} on a rank-{rank_tf} tensor is not supported')


def _build_layer(class_name: str, cfg: dict, name: str, w: dict[str, np.ndarray]) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """A function from the layer's (internal-layout) inputs to its output."""
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    fmt = cfg.get('data_format', 'channels_last')
    if fmt not in (None, 'channels_last'):
        raise UnsupportedLayerError(f"layer {name}: data_format '{fmt}' is not supported (only channels_last)")

    if class_name == 'InputLayer':
        return lambda xs: xs[0]

    if class_name in ('Conv2D', 'DepthwiseConv2D'):
        depthwise = class_name == 'DepthwiseConv2D'
        kernel = _pair(cfg['kernel_size'], name)
        strides = _pair(cfg.get('strides', 1), name)
        dilation = _pair(cfg.get('dilation_rate', 1), name)
        padding = cfg.get('padding', 'valid')
        act = _activation(cfg.get('activation'), name)
        k = w.get('depthwise_kernel' if depthwise else 'kernel')
        if k is None:
            raise UnsupportedLayerError(f'layer {name}: no kernel among its weights ({", ".join(w) or "none"})')
        if depthwise:
            kh, kw, cin, mult = k.shape
            # [kh, kw, c, m] -> [c * m, 1, kh, kw]; TF's output channel c * m + mult index is torch's grouping.
            weight = t(k.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None, :, :])
            groups = cin
        else:
            groups = int(cfg.get('groups', 1) or 1)
            weight = t(k.transpose(3, 2, 0, 1))  # [kh, kw, in/groups, out] -> [out, in/groups, kh, kw]
        bias = t(w['bias']) if cfg.get('use_bias', True) and 'bias' in w else None

        def conv(xs):
            x = xs[0]
            pads = _padding_for(x, padding, kernel, strides, dilation, name)
            if pads is not None and any(pads):
                if pads[0] == pads[1] and pads[2] == pads[3]:
                    y = F.conv2d(x, weight, bias, strides, (pads[2], pads[0]), dilation, groups)
                    return act(y)
                x = F.pad(x, pads)
            return act(F.conv2d(x, weight, bias, strides, 0, dilation, groups))
        return conv

    if class_name == 'BatchNormalization':
        axis = cfg.get('axis', -1)
        if isinstance(axis, list):
            axis = axis[0] if len(axis) == 1 else None
        if axis not in (-1, 3):
            raise UnsupportedLayerError(f'layer {name}: BatchNormalization over axis {axis} is not supported (only the last axis)')
        eps = float(cfg.get('epsilon', 1e-3))
        mean, var = w['moving_mean'], w['moving_variance']
        gamma = w['gamma'] if cfg.get('scale', True) else np.ones_like(mean)
        beta = w['beta'] if cfg.get('center', True) else np.zeros_like(mean)
        inv = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
        scale = t(inv)
        shift = t(beta - mean.astype(np.float64) * inv)

        def bn(xs):
            x = xs[0]
            shape = (1, -1, 1, 1) if x.dim() == 4 else (1, -1)
            return x * scale.view(shape) + shift.view(shape)
        return bn

    if class_name == 'ReLU':
        max_value = cfg.get('max_value')
        slope = float(cfg.get('negative_slope', 0.0) or 0.0)
        threshold = float(cfg.get('threshold', 0.0) or 0.0)

        def relu(xs):
            x = xs[0]
            y = torch.where(x >= threshold, x, slope * (x - threshold)) if (slope or threshold) else F.relu(x)
            return torch.clamp(y, max=float(max_value)) if max_value is not None else y
        return relu

    if class_name == 'Activation':
        act = _activation(cfg.get('activation'), name)
        return lambda xs: act(xs[0])

    if class_name == 'Softmax':
        axis = cfg.get('axis', -1)
        if isinstance(axis, list):
            if len(axis) != 1:
                raise UnsupportedLayerError(f'layer {name}: Softmax over several axes is not supported')
            axis = axis[0]

        def softmax(xs):
            x = xs[0]
            return torch.softmax(x, dim=_last_axis_to_internal(axis, x.dim(), name))
        return softmax

    if class_name == 'Dense':
        kernel = t(w['kernel'])
        bias = t(w['bias']) if cfg.get('use_bias', True) and 'bias' in w else None
        act = _activation(cfg.get('activation'), name)

        def dense(xs):
            x = xs[0]
            # On a map: the last (channel) axis of NHWC, then back to NCHW (act's softmax runs over axis 1).
            y = x.permute(0, 2, 3, 1) @ kernel if x.dim() == 4 else x @ kernel
            if bias is not None:
                y = y + bias
            return act(y.permute(0, 3, 1, 2) if y.dim() == 4 else y)
        return dense

    if class_name == 'Flatten':
        # TF flattens NHWC: channels fastest.
        return lambda xs: (xs[0].permute(0, 2, 3, 1) if xs[0].dim() == 4 else xs[0]).reshape(xs[0].shape[0], -1)

    if class_name in ('Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout'):
        return lambda xs: xs[0]

    if class_name in ('AveragePooling2D', 'MaxPooling2D'):
        pool = _pair(cfg.get('pool_size', 2), name)
        strides = _pair(cfg.get('strides') or pool, name)
        padding = cfg.get('padding', 'valid')
        is_max = class_name == 'MaxPooling2D'

        def pooling(xs):
            x = xs[0]
            pads = _padding_for(x, padding, pool, strides, (1, 1), name)
            if is_max:
                if pads is not None and any(pads):
                    x = F.pad(x, pads, value=-math.inf)
                return F.max_pool2d(x, pool, strides)
            if pads is None or not any(pads):
                return F.avg_pool2d(x, pool, strides)
            # TF averages over the cells inside the image only.
            total = F.avg_pool2d(F.pad(x, pads), pool, strides, divisor_override=1)
            ones = torch.ones((1, 1, x.shape[2], x.shape[3]), dtype=x.dtype)
            count = F.avg_pool2d(F.pad(ones, pads), pool, strides, divisor_override=1)
            return total / count
        return pooling

    if class_name in ('GlobalAveragePooling2D', 'GlobalMaxPooling2D'):
        keep = bool(cfg.get('keepdims', False))
        is_max = class_name == 'GlobalMaxPooling2D'

        def global_pool(xs):
            x = xs[0]
            y = x.amax(dim=(2, 3), keepdim=keep) if is_max else x.mean(dim=(2, 3), keepdim=keep)
            return y
        return global_pool

    if class_name == 'ZeroPadding2D':
        p = cfg.get('padding', 1)
        if isinstance(p, int):
            top = bottom = left = right = p
        elif isinstance(p[0], int):
            top = bottom = int(p[0])
            left = right = int(p[1])
        else:
            (top, bottom), (left, right) = p
        return lambda xs: F.pad(xs[0], (left, right, top, bottom))

    if class_name == 'Add':
        def add(xs):
            y = xs[0]
            for x in xs[1:]:
                y = y + x
            return y
        return add

    if class_name == 'Concatenate':
        axis = cfg.get('axis', -1)
        return lambda xs: torch.cat(xs, dim=_last_axis_to_internal(axis, xs[0].dim(), name))

    raise UnsupportedLayerError(
        f"layer {name}: {class_name} is not supported by tfjs_torch (supported: {', '.join(sorted(SUPPORTED))})"
    )


SUPPORTED = {
    'InputLayer', 'Conv2D', 'DepthwiseConv2D', 'BatchNormalization', 'ReLU', 'Activation', 'Softmax', 'Dense',
    'Flatten', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'AveragePooling2D',
    'MaxPooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'ZeroPadding2D', 'Add', 'Concatenate',
}


# ------------------------------------------------------------------------------------------------------
# Topology
# ------------------------------------------------------------------------------------------------------

def _inbound_names(layer: dict) -> list[str]:
    """Names of a functional layer's input layers (Keras 2 / tfjs format: [[[name, node, tensor, kwargs], ...]])."""
    nodes = layer.get('inbound_nodes') or []
    if len(nodes) > 1:
        raise UnsupportedLayerError(f"layer {layer['config'].get('name')}: shared layers (called {len(nodes)} times) are not supported")
    if not nodes:
        return []
    node = nodes[0]
    if isinstance(node, dict):
        raise UnsupportedLayerError(f"layer {layer['config'].get('name')}: Keras 3 inbound_nodes are not supported (save with tfjs or Keras 2)")
    names = []
    for entry in node:
        if entry[1] != 0 or entry[2] != 0:
            raise UnsupportedLayerError(f"layer {layer['config'].get('name')}: inputs from node {entry[1]}, tensor {entry[2]} are not supported")
        names.append(entry[0])
    return names


def _topology(model_json: dict) -> tuple[list[tuple[str, str, dict, list[str]]], str]:
    """[(name, class_name, config, input names)] in a valid order, and the input layer's name."""
    topo = model_json.get('modelTopology')
    if topo is None:
        raise UnsupportedLayerError('model.json has no modelTopology')
    if 'model_config' in topo:  # Keras HDF5-style wrapper
        topo = topo['model_config']
    cls = topo.get('class_name')
    cfg = topo.get('config')
    if cls == 'Sequential':
        layers = cfg['layers'] if isinstance(cfg, dict) else cfg
        out: list[tuple[str, str, dict, list[str]]] = []
        first = layers[0]['config']
        shape = first.get('batch_input_shape') or first.get('batch_shape')
        if layers[0]['class_name'] != 'InputLayer':
            if shape is None:
                raise UnsupportedLayerError('the first layer of the Sequential model has no batch_input_shape')
            # tfjs and Keras name a Sequential model's implicit input layer after its first layer.
            out.append((f"{first['name']}_input", 'InputLayer', {'batch_input_shape': shape}, []))
        prev = out[0][0] if out else None
        for layer in layers:
            name = layer['config']['name']
            out.append((name, layer['class_name'], layer['config'], [prev] if prev else []))
            prev = name
        return out, out[0][0]
    if cls in ('Model', 'Functional'):
        inputs = cfg['input_layers']
        if len(inputs) != 1:
            raise UnsupportedLayerError(f'models with {len(inputs)} inputs are not supported')
        out = [(layer['config'].get('name', layer.get('name')), layer['class_name'], layer['config'], _inbound_names(layer)) for layer in cfg['layers']]
        return out, inputs[0][0]
    raise UnsupportedLayerError(f'model class {cls} is not supported (a layers model: Sequential or functional Model)')


class TfjsTorchModel(torch.nn.Module):
    """A TF.js layers model in torch, inference mode; see the module doc comment."""

    def __init__(self, layers: list[tuple[str, str, dict, list[str]]], input_name: str, weights: dict[str, np.ndarray]):
        super().__init__()
        self.input_name = input_name
        self.layer_names: list[str] = [name for name, *_ in layers]
        self.layer_classes: dict[str, str] = {name: cls for name, cls, *_ in layers}
        self._inputs: dict[str, list[str]] = {name: inputs for name, _, _, inputs in layers}
        self._fns: dict[str, Callable[[list[torch.Tensor]], torch.Tensor]] = {}
        for name, cls, cfg, _ in layers:
            if cls in ('Model', 'Sequential', 'Functional'):
                raise UnsupportedLayerError(f'layer {name}: nested models are not supported')
            self._fns[name] = _build_layer(cls, cfg, name, _layer_weights(weights, name))
        self.eval()

    def _needed(self, outputs: list[str]) -> list[str]:
        """The layers the outputs depend on, in topological order."""
        for o in outputs:
            if o not in self._fns:
                raise KeyError(f'the model has no layer "{o}" (layers: {", ".join(self.layer_names)})')
        needed: set[str] = set()
        stack = list(outputs)
        while stack:
            n = stack.pop()
            if n in needed:
                continue
            needed.add(n)
            stack.extend(self._inputs[n])
        return [n for n in self.layer_names if n in needed]

    @torch.no_grad()
    def forward_nchw(self, x_nchw: torch.Tensor, outputs: list[str]) -> dict[str, torch.Tensor]:
        """Like forward, but in and out in torch's layout (NCHW maps, [N, units] vectors)."""
        values: dict[str, torch.Tensor] = {}
        consumers: dict[str, int] = {}
        order = self._needed(outputs)
        for n in order:
            for i in self._inputs[n]:
                consumers[i] = consumers.get(i, 0) + 1
        keep = set(outputs)
        for n in order:
            if n == self.input_name or not self._inputs[n]:
                values[n] = x_nchw
            else:
                values[n] = self._fns[n]([values[i] for i in self._inputs[n]])
                for i in self._inputs[n]:  # free intermediates as soon as their last consumer ran
                    consumers[i] -= 1
                    if consumers[i] == 0 and i not in keep:
                        del values[i]
        return {o: values[o] for o in outputs}

    def forward(self, x_nhwc: torch.Tensor, outputs: list[str]) -> dict[str, torch.Tensor]:
        """Outputs of the named layers for a batch [N, H, W, C]: maps as NHWC, vectors as [N, units]."""
        x = torch.as_tensor(x_nhwc, dtype=torch.float32).permute(0, 3, 1, 2).contiguous()
        out = self.forward_nchw(x, outputs)
        return {k: (v.permute(0, 2, 3, 1).contiguous() if v.dim() == 4 else v) for k, v in out.items()}


def load_tfjs_layers_model(model_dir: str) -> TfjsTorchModel:
    """Read model.json and its weight shards from `model_dir` into a TfjsTorchModel."""
    with open(os.path.join(model_dir, 'model.json'), encoding='utf8') as f:
        model_json = json.load(f)
    fmt = model_json.get('format')
    if fmt not in (None, 'layers-model'):
        raise UnsupportedLayerError(f"{model_dir}/model.json is a {fmt}, not a layers model")
    layers, input_name = _topology(model_json)
    weights = read_weights(model_dir, model_json.get('weightsManifest', []))
    return TfjsTorchModel(layers, input_name, weights)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description='Outputs of a TF.js layers model computed with PyTorch, as .npy files.')
    parser.add_argument('model_dir')
    parser.add_argument('--input', required=True, help='float32 .npy batch [N, H, W, C]')
    parser.add_argument('--layers', required=True, help='comma-separated layer names')
    parser.add_argument('--out', required=True, help='folder for <layer>.npy (float32, NHWC or [N, units])')
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    model = load_tfjs_layers_model(args.model_dir)
    x = torch.from_numpy(np.load(args.input).astype(np.float32))
    names = [s for s in args.layers.split(',') if s]
    outs = model.forward(x, names)
    os.makedirs(args.out, exist_ok=True)
    for name, value in outs.items():
        np.save(os.path.join(args.out, name.replace('/', '__') + '.npy'), value.numpy().astype(np.float32))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
