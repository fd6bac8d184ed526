/**
 * The Fourier-space image of Olah et al. 2017 ("Feature Visualization", Lucid's fft_image + to_valid_rgb):
 * the variables are the real and imaginary parts of each colour channel's 2-D real spectrum, scaled by 1 / frequency
 * (so every frequency starts equally likely to change: the steps are "whitened"), inverse-transformed, divided by 4,
 * the three channels mixed by the square root of ImageNet's colour correlation (decorrelated colour), then a
 * sigmoid into [0, 1]. The inverse real 2-D FFT is written as four small real matrix products (tfjs has no FFT
 * gradients, matMul has them everywhere); it computes what tf.signal.irfft2d computes, normalisation included.
 */
import * as tf from '@tensorflow/tfjs'
import type { Rng } from '../rng'
import { variableOf, type ImageParameterization, type ParameterizedImage } from './types'

/** Lucid's colour_correlation_svd_sqrt, and its columns' largest norm (the mix is normalised by it). */
const COLOR_SVD_SQRT = [
  [0.26, 0.09, 0.02],
  [0.27, 0.0, -0.05],
  [0.27, -0.09, 0.03],
]
const MAX_NORM = Math.max(...[0, 1, 2].map((c) => Math.hypot(...COLOR_SVD_SQRT.map((row) => row[c]!))))
/** Lucid's initial spread of the spectrum. */
const INIT_SD = 0.01

/** |frequency| of each (ky, kx) of a size×size real spectrum, numpy's fftfreq convention. */
export function spectrumFrequencies(size: number): Float32Array {
  const columns = Math.floor(size / 2) + 1
  const out = new Float32Array(size * columns)
  for (let ky = 0; ky < size; ky++) {
    const fy = (ky < Math.ceil(size / 2) ? ky : ky - size) / size
    for (let kx = 0; kx < columns; kx++) out[ky * columns + kx] = Math.hypot(fy, kx / size)
  }
  return out
}

/** The inverse real 2-D DFT's factors: x = Cy·(a·Cx − b·Sx) − Sy·(a·Sx + b·Cx) for spectrum a + ib. */
function inverseBasis(size: number) {
  const columns = Math.floor(size / 2) + 1
  const cx = new Float32Array(columns * size)
  const sx = new Float32Array(columns * size)
  for (let kx = 0; kx < columns; kx++) {
    // Columns other than DC and (even sizes) Nyquist stand for their mirror image too: counted twice.
    const weight = (kx === 0 || 2 * kx === size ? 1 : 2) / (size * size)
    for (let x = 0; x < size; x++) {
      cx[kx * size + x] = weight * Math.cos((2 * Math.PI * kx * x) / size)
      sx[kx * size + x] = weight * Math.sin((2 * Math.PI * kx * x) / size)
    }
  }
  const cy = new Float32Array(size * size)
  const sy = new Float32Array(size * size)
  for (let y = 0; y < size; y++) {
    for (let ky = 0; ky < size; ky++) {
      cy[y * size + ky] = Math.cos((2 * Math.PI * ky * y) / size)
      sy[y * size + ky] = Math.sin((2 * Math.PI * ky * y) / size)
    }
  }
  return {
    cx: tf.tensor2d(cx, [columns, size]),
    sx: tf.tensor2d(sx, [columns, size]),
    cy: tf.tensor2d(cy, [size, size]),
    sy: tf.tensor2d(sy, [size, size]),
  }
}

/** tf.signal.irfft2d of (re + i·im) [m, size, size/2 + 1] → [m, size, size] (exported for its test). */
export function inverseRealFft2d(re: tf.Tensor3D, im: tf.Tensor3D, size: number): tf.Tensor3D {
  return tf.tidy(() => {
    const basis = inverseBasis(size)
    return inverseWith(basis, re, im, size)
  })
}

function inverseWith(basis: ReturnType<typeof inverseBasis>, re: tf.Tensor3D, im: tf.Tensor3D, size: number): tf.Tensor3D {
  const m = re.shape[0]
  const columns = re.shape[2]
  const a = re.reshape([m * size, columns])
  const b = im.reshape([m * size, columns])
  // Along x: [m·ky, x].
  const p = tf.sub(tf.matMul(a, basis.cx), tf.matMul(b, basis.sx))
  const q = tf.add(tf.matMul(a, basis.sx), tf.matMul(b, basis.cx))
  // Along y: bring ky first, contract, put m back in front.
  const byKy = (t: tf.Tensor) => t.reshape([m, size, size]).transpose([1, 0, 2]).reshape([size, m * size])
  const x = tf.sub(tf.matMul(basis.cy, byKy(p)), tf.matMul(basis.sy, byKy(q)))
  return x.reshape([size, m, size]).transpose([1, 0, 2]) as tf.Tensor3D
}

export const fourier: ImageParameterization = {
  name: 'fourier',
  label: 'Fourier, decorrelated colour',
  description: 'a spectrum scaled by 1/frequency per decorrelated colour channel, then a sigmoid (Olah et al. 2017)',
  create(n: number, size: number, rng: Rng): ParameterizedImage {
    const columns = Math.floor(size / 2) + 1
    const count = n * 3 * size * columns
    const draw = () => Float32Array.from({ length: count }, () => INIT_SD * rng.normal())
    const re = variableOf(tf.tensor3d(draw(), [n * 3, size, columns]))
    const im = variableOf(tf.tensor3d(draw(), [n * 3, size, columns]))
    const freqs = spectrumFrequencies(size)
    const scale = tf.tensor3d(
      freqs.map((f) => Math.sqrt(size * size) / Math.max(f, 1 / size)),
      [1, size, columns],
    )
    const basis = inverseBasis(size)
    const mix = tf.tidy(() => tf.tensor2d(COLOR_SVD_SQRT.map((row) => row.map((v) => v / MAX_NORM)), [3, 3]).transpose())
    return {
      variables: [re, im],
      pixels: null,
      rgb: () =>
        tf.tidy(() => {
          const planes = inverseWith(basis, tf.mul(re, scale) as tf.Tensor3D, tf.mul(im, scale) as tf.Tensor3D, size) // [n·3, y, x]
          const image = planes.reshape([n, 3, size, size]).transpose([0, 2, 3, 1]).div(4)
          const mixed = tf.matMul(image.reshape([-1, 3]), mix).reshape([n, size, size, 3])
          return tf.sigmoid(mixed) as tf.Tensor4D
        }),
      project: () => {},
      dispose: () => tf.dispose([re, im, scale, mix, ...Object.values(basis)]),
    }
  },
}
