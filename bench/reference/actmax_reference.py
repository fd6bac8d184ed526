"""
Activation maximization's steps done independently with PyTorch: the baseline bench/actmax.ts compares its time
per step against, on the same model (scripts/reference/tfjs_torch.py reads the TF.js files).

    /usr/bin/python3 bench/reference/actmax_reference.py --model DIR (--class C | --unit LAYER:CHANNEL)
        [--steps 256] [--lr 0.15] [--size S] [--jitter 8] [--scales 1,0.975,1.025,0.95,1.05] [--rotate 5]
        [--seed 0] [--threads N]

Each step is the work of convscope's default settings (src/main/engine/optimizers/actmax.ts), written from the
papers rather than from that code: Lucid's Fourier image (torch.fft.irfft2 of a spectrum scaled by
1 / max(frequency, 1 / size) · size, divided by 4, colours mixed by Lucid's colour_correlation_svd_sqrt over its
largest column norm, sigmoid), a random jitter / scale / rotation per image (F.affine_grid + F.grid_sample,
bilinear, mid-grey outside), the model's preprocessing (range, channel order, mean, std from convscope.json),
the target (a class logit, or a unit's spatial max), its gradient and one Adam step. Not done here: convscope's
redirected ReLUs (a per-ReLU backward rule; the plain ReLU gradient is used). The random draws are torch's, so
the images differ from convscope's; the objective's course is printed for comparison, not equality.
Prints one JSON line: steps, seconds, ms per step (after 2 warm-up steps), objective at a few steps, threads.
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
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../scripts/reference'))
from tfjs_torch import TfjsTorchModel, load_tfjs_layers_model  # noqa: E402

COLOR_SVD_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOR_MIX = COLOR_SVD_SQRT / COLOR_SVD_SQRT.norm(dim=0).max()


def spectrum_scale(size: int) -> torch.Tensor:
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    freqs = np.sqrt(fx * fx + fy * fy)
    return torch.tensor(size / np.maximum(freqs, 1.0 / size), dtype=torch.float32)


def fourier_rgb(re: torch.Tensor, im: torch.Tensor, scale: torch.Tensor, size: int) -> torch.Tensor:
    """[n, 3, size, size/2+1] spectra → NCHW RGB in [0, 1]."""
    planes = torch.fft.irfft2(torch.complex(re * scale, im * scale), s=(size, size), norm='backward') / 4
    mixed = torch.einsum('nchw,dc->ndhw', planes, COLOR_MIX)
    return torch.sigmoid(mixed)


def random_view(rgb: torch.Tensor, out: tuple[int, int], jitter: int, scales: list[float], rotate: float, gen: torch.Generator) -> torch.Tensor:
    """Each image through its own jitter / scale / rotation, sampled bilinearly onto `out`, grey outside."""
    n, _, h, w = rgb.shape
    theta = torch.zeros(n, 2, 3)
    for i in range(n):
        dx = int(torch.randint(-jitter, jitter + 1, (1,), generator=gen)) if jitter else 0
        dy = int(torch.randint(-jitter, jitter + 1, (1,), generator=gen)) if jitter else 0
        s = scales[int(torch.randint(len(scales), (1,), generator=gen))]
        a = math.radians(float(torch.empty(1).uniform_(-rotate, rotate, generator=gen))) if rotate else 0.0
        c, si = math.cos(a) / s, math.sin(a) / s
        theta[i] = torch.tensor([[c, -si, 2 * dx / w], [si, c, 2 * dy / h]])
    grid = F.affine_grid(theta, [n, 3, out[0], out[1]], align_corners=False)
    return F.grid_sample(rgb - 0.5, grid, mode='bilinear', padding_mode='zeros', align_corners=False) + 0.5


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', required=True)
    p.add_argument('--class', dest='klass', type=int)
    p.add_argument('--unit')
    p.add_argument('--steps', type=int, default=256)
    p.add_argument('--lr', type=float, default=0.15)
    p.add_argument('--size', type=int)
    p.add_argument('--jitter', type=int, default=8)
    p.add_argument('--scales', default='1,0.975,1.025,0.95,1.05')
    p.add_argument('--rotate', type=float, default=5)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    model: TfjsTorchModel = load_tfjs_layers_model(a.model)
    with open(os.path.join(a.model, 'convscope.json'), encoding='utf8') as f:
        pre = json.load(f)
    height, width = pre['inputSize']
    lo, hi = pre.get('range', [0, 1])
    mean = torch.tensor(pre.get('mean', [0, 0, 0])).view(1, 3, 1, 1)
    std = torch.tensor(pre.get('std', [1, 1, 1])).view(1, 3, 1, 1)
    bgr = pre.get('channelOrder', 'RGB') == 'BGR'
    forward = TfjsTorchModel.forward_nchw.__wrapped__  # the same forward without its torch.no_grad

    if a.unit:
        layer, channel = a.unit.rsplit(':', 1)
        score = lambda x: forward(model, x, [layer])[layer][:, int(channel)].amax(dim=(1, 2))  # noqa: E731
    else:
        logits = [n for n in model.layer_names if model.layer_classes[n] == 'Dense'][-1]
        score = lambda x: forward(model, x, [logits])[logits][:, a.klass]  # noqa: E731

    size = a.size or max(height, width)
    re = (0.01 * torch.randn(1, 3, size, size // 2 + 1)).requires_grad_()
    im = (0.01 * torch.randn(1, 3, size, size // 2 + 1)).requires_grad_()
    scale = spectrum_scale(size)
    opt = torch.optim.Adam([re, im], lr=a.lr)
    scales = [float(s) for s in a.scales.split(',')]
    objective: list[float] = []
    started = None
    for step in range(a.steps):
        if step == 2:
            started = time.perf_counter()
        rgb = random_view(fourier_rgb(re, im, scale, size), (height, width), a.jitter, scales, a.rotate, gen)
        x = rgb.flip(1) if bgr else rgb
        x = ((lo + x * (hi - lo)) - mean) / std
        value = score(x).mean()
        opt.zero_grad()
        (-value).backward()
        opt.step()
        objective.append(float(value))
    seconds = time.perf_counter() - started
    timed = a.steps - 2
    print(json.dumps({
        'steps': a.steps,
        'seconds': seconds,
        'stepMilliseconds': 1000 * seconds / timed,
        'objective': {str(s): objective[s] for s in sorted({0, a.steps // 4, a.steps // 2, a.steps - 1})},
        'threads': a.threads,
        'torch': torch.__version__,
    }))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
