#!/usr/bin/python3
"""Exports torchvision 0.14 architectures with seeded random weights to ONNX, with PyTorch reference outputs.

    /usr/bin/python3 scripts/onnx/exportTorchvision.py --out DIR [--models resnet18,alexnet] [--batch 2]

Needs Debian's python3-torch, python3-torchvision (0.14) and python3-onnx; downloads nothing.  For each model it
writes DIR/<name>/:
  model.onnx        opset 13, input 'input' (NCHW, dynamic batch / height / width; alexnet and vgg16 fixed at 224x224,
                    which torchvision 0.14's exporter needs for their AdaptiveAvgPool), output 'logits'
  convscope.json    the sidecar: inputSize, ImageNet mean / std, range [0, 1], torchvision's resize-shorter-side + crop
  input.npy         a seeded random input, NCHW float32, batch --batch
  <layer>.npy       PyTorch's outputs (NCHW) for the logits and >= 3 inner layers, via forward hooks, computed in
                    float64 from the same float32 weights and input, stored as float32
  reference.json    the index: {input, layers: [{layer, module, node, tensor, shape, file}], gradcam?}
  stamp.json        sha256 of this script + torch version: a model is exported again only when either changes

`layer` is the convscope layer name per README's ONNX layer naming (PyTorch module path of the node's scope; a
node directly in a container scope gets "." + its op lower-cased, e.g. "layer1.1.relu_1", "inception3a.concat");
`node` is the ONNX node whose first output (`tensor`) is that layer.  Hooks sit only on modules whose output
survives the export: post-activation modules used once, Sequential blocks / stages, pooling, the head — never a
conv followed by a BatchNorm (BN is folded into the conv).  resnet18 also gets a PyTorch Grad-CAM reference
(layer4; image 0's top class, for image 1 a class with a two-signed map) and its fc bias (for CAM's identity).
Seeded: running it again writes the same numbers (same torch build).
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np
import torch
import torchvision
import onnx

OPSET = 13
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# torchvision's ImageNet weights' transforms (Resize(size, interpolation) + CenterCrop(inputSize)) where they are
# not Resize(256) bilinear, so an image opened with these models is preprocessed as the real weights expect.
TRANSFORMS = {'inception_v3': (342, 'bilinear'), 'efficientnet_b0': (256, 'bicubic')}

# name → (constructor kwargs, sidecar inputSize [h, w], reference input [h, w], dynamic h/w, hooks).
# hooks: (pytorch module path, convscope layer name, ONNX node name).  Reference inputs of dynamic models are
# partly non-square so that a height / width mix-up cannot pass.  The deepest maps of resnet50 (layer4) and
# inception_v3 (Mixed_6e … Mixed_7c) are left out: there float32 PyTorch itself strays 6e-5 … 1.1e-4 (relative)
# from the float64 values, and onnxruntime as much, so a 1e-4 check would test rounding; their logits (averaged
# over the map) are checked.  reference.json gives each layer's float32 error (float32Error).
MODELS = {
    'alexnet': ({}, [224, 224], [224, 224], False, [
        ('features.0', 'features.0', '/features/features.0/Conv'),  # a conv with no BN after it: its output exists
        ('features.2', 'features.2', '/features/features.2/MaxPool'),
        ('features.12', 'features.12', '/features/features.12/MaxPool'),
        ('avgpool', 'avgpool', '/avgpool/AveragePool'),
        ('classifier.5', 'classifier.5', '/classifier/classifier.5/Relu'),
    ]),
    'vgg16': ({}, [224, 224], [224, 224], False, [
        ('features.4', 'features.4', '/features/features.4/MaxPool'),
        ('features.15', 'features.15', '/features/features.15/Relu'),
        ('features.30', 'features.30', '/features/features.30/MaxPool'),
        ('classifier.1', 'classifier.1', '/classifier/classifier.1/Relu'),
    ]),
    'resnet18': ({}, [224, 224], [224, 224], True, [
        ('relu', 'relu', '/relu/Relu'),
        ('maxpool', 'maxpool', '/maxpool/MaxPool'),
        ('layer1', 'layer1.1.relu_1', '/layer1/layer1.1/relu_1/Relu'),
        ('layer2', 'layer2.1.relu_1', '/layer2/layer2.1/relu_1/Relu'),
        ('layer3', 'layer3.1.relu_1', '/layer3/layer3.1/relu_1/Relu'),
        ('layer4', 'layer4.1.relu_1', '/layer4/layer4.1/relu_1/Relu'),
        ('avgpool', 'avgpool', '/avgpool/GlobalAveragePool'),
    ]),
    'resnet50': ({}, [224, 224], [192, 160], True, [
        ('maxpool', 'maxpool', '/maxpool/MaxPool'),
        ('layer1', 'layer1.2.relu_2', '/layer1/layer1.2/relu_2/Relu'),
        ('layer2', 'layer2.3.relu_2', '/layer2/layer2.3/relu_2/Relu'),
        ('layer3', 'layer3.5.relu_2', '/layer3/layer3.5/relu_2/Relu'),
    ]),
    'googlenet': ({'aux_logits': False, 'init_weights': True}, [224, 224], [224, 224], True, [
        ('conv1', 'conv1.relu', '/conv1/Relu'),
        ('maxpool1', 'maxpool1', '/maxpool1/MaxPool'),
        ('inception3a', 'inception3a.concat', '/inception3a/Concat'),
        ('inception4e', 'inception4e.concat', '/inception4e/Concat'),
        ('inception5b', 'inception5b.concat', '/inception5b/Concat'),
    ]),
    'inception_v3': ({'aux_logits': False, 'init_weights': True}, [299, 299], [299, 299], True, [
        ('Conv2d_1a_3x3', 'Conv2d_1a_3x3.relu', '/Conv2d_1a_3x3/Relu'),
        ('maxpool1', 'maxpool1', '/maxpool1/MaxPool'),
        ('Mixed_5b', 'Mixed_5b.concat', '/Mixed_5b/Concat'),
        ('Mixed_6a', 'Mixed_6a.concat', '/Mixed_6a/Concat'),
    ]),
    'densenet121': ({}, [224, 224], [224, 224], True, [
        ('features.pool0', 'features.pool0', '/features/pool0/MaxPool'),
        ('features.denseblock1', 'features.denseblock1.concat', '/features/denseblock1/Concat'),
        ('features.transition2', 'features.transition2.pool', '/features/transition2/pool/AveragePool'),
        ('features.norm5', 'features.norm5', '/features/norm5/BatchNormalization'),  # BN after a concat stays BN
    ]),
    'squeezenet1_1': ({}, [224, 224], [224, 224], True, [
        ('features.2', 'features.2', '/features/features.2/MaxPool'),
        ('features.3', 'features.3.concat', '/features/features.3/Concat'),
        ('features.12', 'features.12.concat', '/features/features.12/Concat'),
        ('classifier.2', 'classifier.2', '/classifier/classifier.2/Relu'),
    ]),
    'mobilenet_v2': ({}, [224, 224], [160, 208], True, [
        ('features.0', 'features.0.2', '/features/features.0/features.0.2/Clip'),
        ('features.3', 'features.3.add', '/features/features.3/Add'),
        ('features.13.conv.0', 'features.13.conv.0.2', '/features/features.13/conv/conv.0/conv.0.2/Clip'),  # expansion 96 → 576
        ('features.18', 'features.18.2', '/features/features.18/features.18.2/Clip'),
    ]),
    'efficientnet_b0': ({}, [224, 224], [224, 224], True, [
        ('features.0', 'features.0.2', '/features/features.0/features.0.2/Mul'),
        ('features.2', 'features.2.1.add', '/features/features.2/features.2.1/Add'),
        ('features.8', 'features.8.2', '/features/features.8/features.8.2/Mul'),
        ('avgpool', 'avgpool', '/avgpool/GlobalAveragePool'),
    ]),
    'convnext_tiny': ({}, [224, 224], [224, 224], True, [
        ('features.0', 'features.0.1', '/features/features.0/features.0.1/Transpose_1'),
        ('features.1', 'features.1.2.add', '/features/features.1/features.1.2/Add'),
        ('features.7', 'features.7.2.add', '/features/features.7/features.7.2/Add'),
        ('avgpool', 'avgpool', '/avgpool/GlobalAveragePool'),
    ]),
}


def script_hash():
    with open(os.path.abspath(__file__), 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def build(name, size):
    kwargs = MODELS[name][0]
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, **kwargs)
    calibrate_batch_norm(model, size)
    return model.eval()


def calibrate_batch_norm(model, size):
    """Freshly built BNs have running mean 0 / variance 1, i.e. nearly identity: activations then drift to 1e-13
    (efficientnet) or 1e12 (inception_v3) and the logits of googlenet are its fc bias alone, which tests little.
    One seeded batch in training mode sets the running statistics to real ones (momentum None: a plain average),
    so every BN — folded into its conv by the export or kept as an op — does real work at a sane scale."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, *size, generator=torch.Generator().manual_seed(2)))


def file_name(layer):
    return layer.replace('/', '_') + '.npy'


def export_onnx(model, x, dynamic, path):
    axes = {'input': {0: 'batch', 2: 'height', 3: 'width'} if dynamic else {0: 'batch'}, 'logits': {0: 'batch'}}
    with torch.no_grad():
        torch.onnx.export(model, x, path, opset_version=OPSET, input_names=['input'], output_names=['logits'],
                          dynamic_axes=axes, do_constant_folding=True)


def reference_outputs(model, hooks, x):
    """PyTorch's outputs of the hooked modules (cloned at once: later in-place ReLUs would change them) and logits."""
    outputs = {}
    def keep(layer):
        def hook(_module, _inputs, out):
            outputs.setdefault(layer, out.detach().clone())  # first call only; returns None: output unchanged
        return hook

    handles = [model.get_submodule(module_path).register_forward_hook(keep(layer)) for module_path, layer, _n in hooks]
    with torch.no_grad():
        logits = model(x)
    for h in handles:
        h.remove()
    return outputs, logits


def gradcam_reference(model, x, module_path):
    """Grad-CAM (Selvaraju et al.) on a module's output: weights = spatial mean of d logit[c] / d A, map =
    ReLU(sum_k weights_k * A_k); the unrectified sum is saved too.  Classes: image 0's top class; for image 1
    the class whose map is nearest half positive (random weights give one-signed maps for the top and bottom
    classes; this one makes the ReLU matter).  resnet's head is GAP + fc, so d logit[c] / d A = fc.weight[c] / (h w)
    and the map signs of every class are known from one matmul; the map itself still comes from the backward."""
    store = {}

    def hook(_module, _inputs, out):
        out.retain_grad()
        store['a'] = out

    handle = model.get_submodule(module_path).register_forward_hook(hook)
    logits = model(x)
    handle.remove()
    with torch.no_grad():
        a1 = store['a'][1]
        positive = (torch.einsum('ck,khw->chw', model.fc.weight, a1) > 0).float().mean(dim=(1, 2))
    classes = torch.stack([logits[0].argmax(), (positive - 0.5).abs().argmin()])
    logits.gather(1, classes[:, None]).sum().backward()
    a, g = store['a'].detach(), store['a'].grad.detach()
    weights = g.mean(dim=(2, 3), keepdim=True)
    raw = (weights * a).sum(dim=1)
    return classes.tolist(), g, raw, torch.relu(raw)


def relative_error(actual, exact):
    """max|a - b| / max|b|: how far float32 PyTorch is from the float64 reference (the noise floor of a layer)."""
    return float((actual.double() - exact).abs().max() / exact.abs().max())


def save(out_dir, fname, tensor):
    np.save(os.path.join(out_dir, fname), tensor.detach().cpu().numpy().astype(np.float32))


def export_one(name, root, batch, stamp):
    final_dir = os.path.join(root, name)
    try:
        with open(os.path.join(final_dir, 'stamp.json')) as f:
            if json.load(f) == stamp:
                print(f'{name}: up to date', flush=True)
                return
    except (OSError, ValueError):
        pass
    # Written into a fresh folder, then renamed into place: another test process never reads half a model.
    out_dir = f'{final_dir}.tmp{os.getpid()}'
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    t0 = time.time()
    _kwargs, input_size, ref_size, dynamic, hooks = MODELS[name]
    model = build(name, ref_size)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, *ref_size, generator=gen)

    onnx_path = os.path.join(out_dir, 'model.onnx')
    export_onnx(model, x, dynamic, onnx_path)
    graph = onnx.load(onnx_path, load_external_data=False).graph
    node_output = {n.name: n.output[0] for n in graph.node}
    missing = [node for _m, _l, node in hooks if node not in node_output]
    if missing:
        sys.exit(f'{name}: ONNX nodes not found: {missing} (torch {torch.__version__} names them differently?)')

    # The references are computed in float64 (then stored as float32): float32 PyTorch itself strays up to ~1e-4
    # (relative) from the exact values in the deepest maps of resnet50 / inception_v3, as much as the tolerance.
    outputs32, logits32 = reference_outputs(model, hooks, x)
    model = model.double()
    outputs, logits = reference_outputs(model, hooks, x.double())
    outputs32['logits'], outputs['logits'] = logits32, logits
    save(out_dir, 'input.npy', x)
    layers = []
    for module_path, layer, node in hooks:
        save(out_dir, file_name(layer), outputs[layer])
        layers.append({'layer': layer, 'module': module_path, 'node': node, 'tensor': node_output[node],
                       'shape': list(outputs[layer].shape), 'file': file_name(layer),
                       'float32Error': relative_error(outputs32[layer], outputs[layer])})
    save(out_dir, 'logits.npy', logits)
    layers.append({'layer': 'logits', 'module': '', 'node': graph.output[0].name, 'tensor': 'logits',
                   'shape': list(logits.shape), 'file': 'logits.npy',
                   'float32Error': relative_error(outputs32['logits'], logits)})
    index = {'model': name, 'torch': torch.__version__, 'torchvision': torchvision.__version__, 'opset': OPSET,
             'input': {'file': 'input.npy', 'shape': list(x.shape), 'layout': 'NCHW'}, 'layers': layers}

    if name == 'resnet18':
        classes, grad, raw, cam = gradcam_reference(model, x.double(), 'layer4')
        save(out_dir, 'gradcam_grad.npy', grad)
        save(out_dir, 'gradcam_raw.npy', raw)
        save(out_dir, 'gradcam.npy', cam)
        save(out_dir, 'fc_bias.npy', model.fc.bias)  # CAM's identity: mean_xy CAM_c + b_c = logit_c
        index['gradcam'] = {'layer': 'layer4.1.relu_1', 'module': 'layer4', 'classes': classes,
                            'grad': 'gradcam_grad.npy', 'raw': 'gradcam_raw.npy', 'map': 'gradcam.npy',
                            'bias': 'fc_bias.npy'}

    with open(os.path.join(out_dir, 'convscope.json'), 'w') as f:
        resize_size, interpolation = TRANSFORMS.get(name, (256, 'bilinear'))
        json.dump({'inputSize': input_size, 'range': [0, 1], 'mean': IMAGENET_MEAN, 'std': IMAGENET_STD,
                   'resize': 'shorter-side', 'resizeSize': resize_size, 'interpolation': interpolation}, f, indent=2)
    with open(os.path.join(out_dir, 'reference.json'), 'w') as f:
        json.dump(index, f, indent=2)
    with open(os.path.join(out_dir, 'stamp.json'), 'w') as f:
        json.dump(stamp, f)
    size = os.path.getsize(onnx_path)
    shutil.rmtree(final_dir, ignore_errors=True)
    os.rename(out_dir, final_dir)
    print(f'{name}: exported in {time.time() - t0:.1f} s ({size / 1e6:.0f} MB)', flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='folder that receives one subfolder per model')
    parser.add_argument('--models', default=','.join(MODELS), help='comma-separated; default: all')
    parser.add_argument('--batch', type=int, default=2, help='reference input batch size')
    args = parser.parse_args()
    names = [n for n in args.models.split(',') if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f'unknown models {unknown}; known: {", ".join(MODELS)}')
    stamp = {'script': script_hash(), 'torch': torch.__version__, 'torchvision': torchvision.__version__,
             'batch': args.batch}
    for name in names:
        export_one(name, os.path.abspath(args.out), args.batch, stamp)


if __name__ == '__main__':
    main()
