#!/usr/bin/env python3
"""Exports a torchvision ImageNet classifier to ONNX with a convscope.json sidecar and ImageNet labels.

    python3 scripts/torchvision/importTorchvision.py NAME --out DIR [--weights DEFAULT|none|<enum member>] [--force]

Normally run by `convscope import-torchvision`, which reads the last stdout line (JSON).  Writes DIR/NAME/:
  model.onnx      opset 13, input "input" NCHW float32 (dynamic batch; dynamic height / width except for the
                  architectures whose export needs a fixed size, fixed at the weights' crop size), output "logits"
  convscope.json  the weights' own preprocessing, read from weights.transforms(): resize the shorter side to
                  resizeSize, center-crop cropSize, bilinear / bicubic, ImageNet mean / std on [0, 1] pixels
  labels.json     the 1 000 classes as {"0": ["n01440764", "tench"], ...} (WordNet id, torchvision's name)
  export.json     how it was made: architecture, weights, versions, opset, whether height / width are dynamic
--weights DEFAULT downloads the pretrained weights into torch's cache (internet needed once); `none` builds the
architecture with seeded random weights (torch.manual_seed(0)) and downloads nothing: the preprocessing and labels
are still those of the architecture's DEFAULT weights (torchvision knows them offline).

Exit codes: 0 written; 2 bad arguments (unknown NAME: the message lists the valid names); 3 a module is missing
(python3-torch / python3-torchvision); 4 the export or the download failed.  The last stdout line is JSON:
{"ok": true, "dir", "files", "notes", ...} or {"ok": false, "code", "message", ...}; stderr carries only what
torch prints (the download's progress).
"""
import argparse
import json
import os
import sys
import time
import warnings

OPSET = 13
HERE = os.path.dirname(os.path.abspath(__file__))
CLASS_INDEX = os.path.join(HERE, '..', '..', 'resources', 'imagenet', 'imagenet_class_index.json')
# Architectures whose ONNX export needs a fixed height / width: adaptive pooling to a size other than 1×1
# (torchvision 0.14's exporter refuses it with dynamic axes), or positional embeddings / windows of one size.
FIXED_SIZE = ('alexnet', 'vgg', 'vit_', 'swin_', 'maxvit_')
# Auxiliary classifiers only run in training; off, so the export has one output.
NO_AUX = ('googlenet', 'inception_v3')


def finish(result, code=0):
    print(json.dumps(result))
    sys.exit(code)


def fail(code, exit_code, message, **extra):
    finish({'ok': False, 'code': code, 'message': message, **extra}, exit_code)


def import_torch():
    try:
        import torch
        import torchvision
        from torchvision.models import get_model_weights, list_models  # added in torchvision 0.14
    except ImportError as e:
        fail('missing-module', 3, f'{sys.executable}: {e}', python=sys.executable, module=getattr(e, 'name', None))
    return torch, torchvision


def choose_weights(torchvision, name, weights_arg):
    """(weights to load or None, the weights enum member whose preprocessing and categories describe the model)."""
    enum = torchvision.models.get_model_weights(name)
    default = enum.DEFAULT
    if weights_arg.lower() == 'none':
        return None, default
    if weights_arg == 'DEFAULT':
        return default, default
    members = [m.name for m in enum]
    if weights_arg not in members:
        fail('bad-weights', 2, f'{name} has no weights "{weights_arg}": use DEFAULT, none or one of {", ".join(members)}')
    return enum[weights_arg], enum[weights_arg]


def preprocessing(weights):
    """The sidecar fields of weights.transforms() (torchvision's ImageClassification preset)."""
    t = weights.transforms()
    crop, resize = int(t.crop_size[0]), int(t.resize_size[0])
    interpolation = t.interpolation.value
    if interpolation not in ('bilinear', 'bicubic'):
        fail('unsupported-preprocessing', 4, f'{weights} resizes with {interpolation} interpolation, which convscope does not offer')
    return crop, {
        'inputSize': [crop, crop],
        'resize': 'shorter-side',
        'resizeSize': resize,
        'cropSize': crop,
        'interpolation': interpolation,
        'range': [0, 1],
        'mean': [float(v) for v in t.mean],
        'std': [float(v) for v in t.std],
        'labels': 'labels.json',
    }


def labels(categories):
    """{"i": [wnid, name]} with the committed WordNet ids and the weights' own category names."""
    with open(CLASS_INDEX, encoding='utf8') as f:
        index = json.load(f)
    if len(categories) != len(index):
        fail('unsupported-categories', 4, f'the weights have {len(categories)} categories, not the 1000 ImageNet classes of {CLASS_INDEX}')
    return {str(i): [index[str(i)][0], name] for i, name in enumerate(categories)}


def build(torch, torchvision, name, weights):
    kwargs = {'aux_logits': False} if name in NO_AUX else {}
    if name in NO_AUX and weights is None:
        kwargs['init_weights'] = True  # what torchvision will default to; says so instead of warning
    torch.manual_seed(0)
    try:
        model = torchvision.models.get_model_builder(name)(weights=weights, **kwargs)
    except Exception as e:  # a download that failed (no internet, a proxy) or a corrupt cache file
        cached = os.path.join(torch.hub.get_dir(), 'checkpoints', os.path.basename(weights.url))
        fail('weights-failed', 4, f'could not load the {weights} weights of {name}: {e}. Without internet here, download '
             f'{weights.url} elsewhere and copy it to {cached}; or use --weights none (random weights)')
    return model.eval()


def export(torch, model, crop, dynamic, path):
    warnings.simplefilter('ignore')  # the tracer's warnings are about code paths the export does not take
    axes = {'input': {0: 'batch', 2: 'height', 3: 'width'} if dynamic else {0: 'batch'}, 'logits': {0: 'batch'}}
    x = torch.zeros(1, 3, crop, crop)
    # Under no_grad, nn.MultiheadAttention (vit_*) takes its fused inference path, an op ONNX has no export for.
    attention = any(isinstance(m, torch.nn.MultiheadAttention) for m in model.modules())
    with torch.set_grad_enabled(attention):
        torch.onnx.export(model, x, path, opset_version=OPSET, input_names=['input'], output_names=['logits'],
                          dynamic_axes=axes, do_constant_folding=True)


def write_json(path, value):
    with open(path, 'w', encoding='utf8') as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write('\n')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('name')
    parser.add_argument('--out', required=True)
    parser.add_argument('--weights', default='DEFAULT')
    parser.add_argument('--force', action='store_true', help='replace an earlier import in OUT/NAME')
    args = parser.parse_args()
    torch, torchvision = import_torch()

    names = torchvision.models.list_models(module=torchvision.models)  # the ImageNet classifiers only
    if args.name not in names:
        fail('unknown-name', 2, f'torchvision {torchvision.__version__} has no ImageNet classifier "{args.name}"; valid names: {", ".join(names)}', names=names)
    target = os.path.join(os.path.abspath(args.out), args.name)
    if os.path.exists(os.path.join(target, 'model.onnx')) and not args.force:
        fail('exists', 2, f'{target} already holds an import: pass --force to replace it')
    load, described = choose_weights(torchvision, args.name, args.weights)
    crop, sidecar = preprocessing(described)
    label_map = labels(described.meta['categories'])
    model = build(torch, torchvision, args.name, load)

    os.makedirs(target, exist_ok=True)
    onnx_path = os.path.join(target, 'model.onnx')
    dynamic = not args.name.startswith(FIXED_SIZE)
    notes = [] if dynamic else [f'{args.name} is exported at a fixed {crop}×{crop} input (its export needs one size)']
    started = time.time()
    try:
        export(torch, model, crop, dynamic, onnx_path)
    except Exception as e:
        if not dynamic:
            fail('export-failed', 4, f'torch.onnx.export of {args.name} failed: {e}')
        notes.append(f'the export with dynamic height / width failed ({str(e).splitlines()[0]}), so the input is fixed at {crop}×{crop}')
        dynamic = False
        try:
            export(torch, model, crop, dynamic, onnx_path)
        except Exception as e2:
            fail('export-failed', 4, f'torch.onnx.export of {args.name} failed: {e2}')
    seconds = time.time() - started

    write_json(os.path.join(target, 'convscope.json'), sidecar)
    write_json(os.path.join(target, 'labels.json'), label_map)
    write_json(os.path.join(target, 'export.json'), {
        'architecture': args.name,
        'weights': str(load) if load is not None else 'none (seeded random: torch.manual_seed(0))',
        'preprocessingFrom': str(described),
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'opset': OPSET,
        'dynamicHeightWidth': dynamic,
        'exportSeconds': round(seconds, 2),
    })
    files = ['model.onnx', 'convscope.json', 'labels.json', 'export.json']
    finish({
        'ok': True,
        'dir': target,
        'files': files,
        'bytes': os.path.getsize(onnx_path),
        'weights': str(load) if load is not None else 'none',
        'dynamic': dynamic,
        'inputSize': [crop, crop],
        'python': sys.executable,
        'torchvision': torchvision.__version__,
        'notes': notes,
    })


if __name__ == '__main__':
    main()
