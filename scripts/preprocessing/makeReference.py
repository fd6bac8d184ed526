"""
torchvision's preprocessing of a few fixture images: the reference convscope's model input is checked against
(test/unit/torchvisionPreprocessing.test.ts).

    /usr/bin/python3 scripts/preprocessing/makeReference.py --out DIR [--fixtures]

--fixtures first (re)writes the committed images in test/fixtures/preprocessing/ (deterministic: a seeded
photo-like pattern, 1/f noise plus hard-edged shapes, so the resampler's filter shape matters as it does on
photographs). Then, for every fixture image and every case below, DIR gets <image>.<case>.npy (float32,
[3, h, w], the tensor torchvision returns) and DIR/manifest.json, one entry per file with the convscope.json
sidecar that asks convscope for the same preprocessing. DIR/resample.json holds PIL's Image.resize of small
random images (sizes from 1 px, shrinking and enlarging, each axis alone) for bilinear, bicubic and nearest.

Images are read as torchvision's ImageFolder reads them (PIL open, convert('RGB')), except that EXIF orientation
is applied first (ImageOps.exif_transpose): convscope shows and feeds the image upright, as viewers do, while
torchvision's loader ignores the tag. Needs Debian's python3-torchvision 0.14 and python3-pil (no downloads:
weights.transforms() is only the preprocessing recipe).
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps
from torchvision import models, transforms
from torchvision.transforms import InterpolationMode

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'preprocessing')
IMAGENET = {'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225]}


def photo_like(width: int, height: int, seed: int) -> np.ndarray:
    """Colour 1/f noise (the power spectrum of natural images) with a few hard-edged shapes: uint8 [h, w, 3]."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    amplitude = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / max(width, height))
    channels = []
    for _ in range(3):
        spectrum = amplitude * np.exp(2j * np.pi * rng.random(amplitude.shape))
        field = np.fft.irfft2(spectrum, s=(height, width))
        channels.append((field - field.mean()) / field.std())
    pixels = np.clip(128 + 40 * np.stack(channels, axis=-1), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.integers(0, width - 20), rng.integers(0, height - 20)
        x1, y1 = x0 + rng.integers(10, width // 3), y0 + rng.integers(10, height // 3)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)([x0, y0, x1, y1], fill=colour)
    for i in range(0, width, 7):  # a band of fine stripes: where kernels differ most
        if (i // 7) % 2 == 0:
            draw.line([(i, height - 40), (i + 3, height - 10)], fill=(250, 250, 250), width=2)
    return np.asarray(image)


def write_fixtures() -> None:
    os.makedirs(FIXTURES, exist_ok=True)
    for name, (w, h), seed in [('wide-451x300.jpg', (451, 300), 1), ('tall-300x451.jpg', (300, 451), 2), ('photo-500x375.jpg', (500, 375), 3)]:
        Image.fromarray(photo_like(w, h, seed)).save(os.path.join(FIXTURES, name), quality=90)
    gray = Image.fromarray(photo_like(333, 257, 4)).convert('L')
    gray.save(os.path.join(FIXTURES, 'gray-333x257.png'), optimize=True)
    # Stored 375 wide × 250 high with EXIF orientation 6 (rotate 90° clockwise to view): upright 250 × 375.
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo_like(375, 250, 5)).save(os.path.join(FIXTURES, 'exif6-250x375.jpg'), quality=90, exif=exif)


def shorter_side(size: int, interpolation: InterpolationMode, crop: int = 224) -> transforms.Compose:
    return transforms.Compose([transforms.Resize(size, interpolation=interpolation), transforms.CenterCrop(crop), transforms.ToTensor()])


def sidecar(resize: str, **fields) -> dict:
    return {'resize': resize, **fields}


# (case name, torchvision transform, convscope.json sidecar asking for the same)
CASES = [
    # The weights' own recipes (ImageClassification: resize shorter side, center crop, to float, normalize).
    ('resnet18', models.ResNet18_Weights.IMAGENET1K_V1.transforms(),
     sidecar('shorter-side', resizeSize=256, cropSize=224, interpolation='bilinear', **IMAGENET)),
    ('resnet50-v2', models.ResNet50_Weights.IMAGENET1K_V2.transforms(),
     sidecar('shorter-side', resizeSize=232, cropSize=224, interpolation='bilinear', **IMAGENET)),
    ('convnext-tiny', models.ConvNeXt_Tiny_Weights.IMAGENET1K_V1.transforms(),
     sidecar('shorter-side', resizeSize=236, cropSize=224, interpolation='bilinear', **IMAGENET)),
    ('efficientnet-b0', models.EfficientNet_B0_Weights.IMAGENET1K_V1.transforms(),
     sidecar('shorter-side', resizeSize=256, cropSize=224, interpolation='bicubic', **IMAGENET)),
    # Compositions without Normalize: values are pixels / 255.
    ('nearest-256', shorter_side(256, InterpolationMode.NEAREST), sidecar('shorter-side', resizeSize=256, cropSize=224, interpolation='nearest')),
    ('upscale-bicubic-480', shorter_side(480, InterpolationMode.BICUBIC, 299), sidecar('shorter-side', resizeSize=480, cropSize=299, interpolation='bicubic')),
    # Crop larger than the resized image on one side: CenterCrop pads with 0 there.
    ('pad-200-crop-224x300', shorter_side(200, InterpolationMode.BILINEAR, (224, 300)), sidecar('shorter-side', resizeSize=200, cropSize=[224, 300])),
]


def existing_mode(mode: str, image: Image.Image, h: int, w: int) -> Image.Image:
    """convscope's older modes (src/main/engine/images/preprocess.ts planResize) with PIL's bilinear."""
    iw, ih = image.size
    if mode == 'stretch':
        return image.resize((w, h), Image.BILINEAR)
    if mode == 'center-crop':
        s = max(w / iw, h / ih)
        rw, rh = max(w, round(iw * s)), max(h, round(ih * s))
        left, top = (rw - w) // 2, (rh - h) // 2
        return image.resize((rw, rh), Image.BILINEAR).crop((left, top, left + w, top + h))
    s = min(w / iw, h / ih)
    rw, rh = min(w, max(1, round(iw * s))), min(h, max(1, round(ih * s)))
    canvas = Image.new('RGB', (w, h))
    canvas.paste(image.resize((rw, rh), Image.BILINEAR), ((w - rw) // 2, (h - rh) // 2))
    return canvas


def load(path: str) -> Image.Image:
    with Image.open(path) as f:
        return ImageOps.exif_transpose(f).convert('RGB')


def resample_cases() -> list:
    """PIL's Image.resize of small random RGB images, uint8 values flattened HWC."""
    rng = np.random.default_rng(7)
    cases = []
    for i in range(24):
        w, h = int(rng.integers(1, 48)), int(rng.integers(1, 48))
        ow = w if i % 6 == 0 else int(rng.integers(1, 64))
        oh = h if i % 6 == 3 else int(rng.integers(1, 64))
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        for name, resample in (('bilinear', Image.BILINEAR), ('bicubic', Image.BICUBIC), ('nearest', Image.NEAREST)):
            out = np.asarray(Image.fromarray(pixels).resize((ow, oh), resample))
            cases.append({'width': w, 'height': h, 'outWidth': ow, 'outHeight': oh, 'interpolation': name,
                          'source': pixels.ravel().tolist(), 'expected': out.ravel().tolist()})
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', required=True)
    parser.add_argument('--fixtures', action='store_true', help='rewrite the committed fixture images first')
    args = parser.parse_args()
    if args.fixtures:
        write_fixtures()
    os.makedirs(args.out, exist_ok=True)
    to_tensor = transforms.ToTensor()
    manifest = []
    for name in sorted(os.listdir(FIXTURES)):
        image = load(os.path.join(FIXTURES, name))
        outputs = [(case, transform(image), side, case in ('resnet18', 'resnet50-v2', 'convnext-tiny', 'efficientnet-b0')) for case, transform, side in CASES]
        for mode in ('stretch', 'center-crop', 'pad'):
            outputs.append((mode, to_tensor(existing_mode(mode, image, 224, 224)), {'resize': mode, 'inputSize': [224, 224]}, False))
        for case, tensor, side, normalized in outputs:
            file = f'{name}.{case}.npy'
            np.save(os.path.join(args.out, file), tensor.numpy().astype(np.float32))
            manifest.append({'image': name, 'case': case, 'file': file, 'sidecar': side, 'normalized': normalized, 'shape': list(tensor.shape)})
    with open(os.path.join(args.out, 'manifest.json'), 'w', encoding='utf8') as f:
        json.dump({'torch': torch.__version__, 'pil': Image.__version__, 'cases': manifest}, f, indent=1)
    with open(os.path.join(args.out, 'resample.json'), 'w', encoding='utf8') as f:
        json.dump(resample_cases(), f)
    print(json.dumps({'out': args.out, 'files': len(manifest)}))


if __name__ == '__main__':
    main()
