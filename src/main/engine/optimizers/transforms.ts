/**
 * The random transforms of each activation-maximization step (Olah et al. 2017's "transformation robustness"):
 * a jitter of up to ± `jitter` pixels, a scale drawn from `scales` and a rotation of up to ± `rotate` degrees,
 * composed into one affine map per image and applied as one bilinear resample onto the network's input grid.
 * The resample is a gather of the four neighbours with fixed weights; its gradient is written here as the
 * scatter-add of the weighted output gradient (scatterND sums duplicates): tfjs's own gather gradient goes
 * through UnsortedSegmentSum, which wasm lacks and wasmGradients.ts builds densely (2.7 s per 64² image and step
 * instead of ~4 ms, measured under load).
 * Outside the image it samples mid-grey, as Lucid's padding does.
 */
import * as tf from '@tensorflow/tfjs'
import type { Rng } from '../rng'

export interface TransformSettings {
  /** Largest shift, in pixels of the optimised image. */
  jitter: number
  /** Scales to draw from (1: the optimised image fills the network input). */
  scales: readonly number[]
  /** Largest rotation, in degrees. */
  rotate: number
}

/** One image's map from the output grid to the source image: source = centre + (rotation · output offset) / scale + shift. */
export interface Affine {
  scale: number
  /** Radians. */
  angle: number
  /** In source pixels. */
  dx: number
  dy: number
}

export const IDENTITY: Affine = { scale: 1, angle: 0, dx: 0, dy: 0 }

/** One affine per image, drawn from `rng` in a fixed order (shift x, shift y, scale, angle). */
export function randomAffines(rng: Rng, n: number, s: TransformSettings): Affine[] {
  return Array.from({ length: n }, () => {
    const dx = s.jitter > 0 ? rng.intIn(-s.jitter, s.jitter) : 0
    const dy = s.jitter > 0 ? rng.intIn(-s.jitter, s.jitter) : 0
    const scale = s.scales.length ? rng.pick(s.scales) : 1
    const angle = s.rotate > 0 ? (rng.uniform(-s.rotate, s.rotate) * Math.PI) / 180 : 0
    return { dx, dy, scale, angle }
  })
}

/** Gather indices (four neighbours per output pixel; `fill` outside the image) and their bilinear weights. */
function samplingPlan(affines: readonly Affine[], inH: number, inW: number, outH: number, outW: number, fill: number) {
  const perImage = outH * outW
  const count = affines.length * perImage
  const index = new Int32Array(4 * count)
  const weight = new Float32Array(4 * count)
  affines.forEach((a, n) => {
    const cos = Math.cos(a.angle)
    const sin = Math.sin(a.angle)
    // Pixel centres in units of the source image, measured from its centre; the output grid spans the source at scale 1.
    const sx = inW / outW
    const sy = inH / outH
    for (let v = 0; v < outH; v++) {
      for (let u = 0; u < outW; u++) {
        const ox = (u + 0.5) * sx - inW / 2
        const oy = (v + 0.5) * sy - inH / 2
        const x = (cos * ox - sin * oy) / a.scale + inW / 2 - 0.5 + a.dx
        const y = (sin * ox + cos * oy) / a.scale + inH / 2 - 0.5 + a.dy
        const x0 = Math.floor(x)
        const y0 = Math.floor(y)
        const fx = x - x0
        const fy = y - y0
        const k = n * perImage + v * outW + u
        const corners: [number, number, number][] = [
          [y0, x0, (1 - fy) * (1 - fx)],
          [y0, x0 + 1, (1 - fy) * fx],
          [y0 + 1, x0, fy * (1 - fx)],
          [y0 + 1, x0 + 1, fy * fx],
        ]
        corners.forEach(([cy, cx, w], c) => {
          const inside = cy >= 0 && cy < inH && cx >= 0 && cx < inW
          index[c * count + k] = inside ? (n * inH + cy) * inW + cx : fill
          weight[c * count + k] = w
        })
      }
    }
  })
  return { index, weight, count }
}

/**
 * `images` [n, h, w, 3] seen through `affines` (one per image) on an outH × outW grid, differentiable with respect to
 * `images`; `fillValue` outside. The identity at equal sizes returns the images unchanged.
 */
export function transformImages(images: tf.Tensor4D, affines: readonly Affine[], outH: number, outW: number, fillValue = 0.5): tf.Tensor4D {
  const [n, inH, inW, channels] = images.shape
  if (affines.length !== n) throw new Error(`transformImages: ${affines.length} transforms for ${n} images`)
  const fill = n * inH * inW
  const plan = samplingPlan(affines, inH, inW, outH, outW, fill)
  const sample = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const source = args[0] as tf.Tensor4D
    const save = args[1] as tf.GradSaveFunc
    const index = tf.tensor1d(plan.index, 'int32')
    const weight = tf.tensor3d(plan.weight, [4, plan.count, 1])
    save([index, weight])
    const rows = tf.concat([source.reshape([fill, channels]), tf.fill([1, channels], fillValue)], 0)
    const mixed = tf.sum(tf.mul(tf.gather(rows, index).reshape([4, plan.count, channels]), weight), 0)
    return {
      value: mixed.reshape([n, outH, outW, channels]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedIndex, savedWeight] = saved
        const updates = tf.mul(dy.reshape([1, plan.count, channels]), savedWeight!).reshape([4 * plan.count, channels])
        const summed = tf.scatterND(savedIndex!.reshape([4 * plan.count, 1]), updates, [fill + 1, channels])
        return summed.slice([0, 0], [fill, channels]).reshape(source.shape)
      },
    }
  })
  return sample(images) as tf.Tensor4D
}
