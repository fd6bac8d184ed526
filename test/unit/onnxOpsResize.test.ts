/**
 * ONNX Resize / Upsample in tfjs (src/main/engine/graph/ops/resize.ts) against onnxruntime-node: nearest and
 * linear, every coordinate_transformation_mode and nearest_mode implemented, scales and sizes, up and down.
 */
import { test } from 'node:test'
import { checkOp, type Feed, type OpCase } from '../helpers/onnxOpHarness'

const x = (dims: number[]): Feed => ({ name: 'x', dims })
const scales = (values: number[]): Feed => ({ name: 'scales', dims: [4], values })
const sizes = (values: number[]): Feed => ({ name: 'sizes', dims: [4], dtype: 'int64', values })

async function each(cases: OpCase[]): Promise<void> {
  for (const c of cases) await checkOp(c)
}

const COORDINATE_MODES = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric']

test('Resize linear: coordinate modes × (scales up, scales down, sizes)', () =>
  each(
    COORDINATE_MODES.flatMap((mode): OpCase[] => [
      { name: `linear ${mode} ×2`, op: 'Resize', feeds: [x([1, 2, 4, 5]), scales([1, 1, 2, 2])], inputs: ['x', '', 'scales'], attributes: { mode: 'linear', coordinate_transformation_mode: mode } },
      { name: `linear ${mode} ×1.5 / ×0.6`, op: 'Resize', feeds: [x([2, 2, 6, 5]), scales([1, 1, 1.5, 0.6])], inputs: ['x', '', 'scales'], attributes: { mode: 'linear', coordinate_transformation_mode: mode } },
      { name: `linear ${mode} sizes [7, 3]`, op: 'Resize', feeds: [x([1, 3, 4, 6]), sizes([1, 3, 7, 3])], inputs: ['x', '', '', 'sizes'], attributes: { mode: 'linear', coordinate_transformation_mode: mode } },
    ]),
  ))

test('Resize nearest: nearest modes × coordinate modes, scales and sizes', () =>
  each(
    ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'].flatMap((nearest) =>
      [...COORDINATE_MODES, 'tf_half_pixel_for_nn'].flatMap((mode): OpCase[] => [
        { name: `nearest ${nearest} ${mode} ×2 / ×3`, op: 'Resize', feeds: [x([1, 2, 3, 4]), scales([1, 1, 2, 3])], inputs: ['x', '', 'scales'], attributes: { mode: 'nearest', nearest_mode: nearest, coordinate_transformation_mode: mode } },
        { name: `nearest ${nearest} ${mode} sizes [5, 2]`, op: 'Resize', feeds: [x([1, 2, 4, 6]), sizes([1, 2, 5, 2])], inputs: ['x', '', '', 'sizes'], attributes: { mode: 'nearest', nearest_mode: nearest, coordinate_transformation_mode: mode } },
      ]),
    ),
  ))

test('Resize opset 10, Upsample opset 9 (PyTorch F.interpolate exports)', () =>
  each([
    { name: 'resize-10 nearest ×2', op: 'Resize', opset: 10, feeds: [x([1, 2, 3, 4]), scales([1, 1, 2, 2])] },
    { name: 'resize-10 nearest ×1.5', op: 'Resize', opset: 10, feeds: [x([1, 2, 4, 4]), scales([1, 1, 1.5, 1.5])] },
    { name: 'resize-10 linear ×2', op: 'Resize', opset: 10, feeds: [x([1, 2, 3, 4]), scales([1, 1, 2, 2])], attributes: { mode: 'linear' } },
    { name: 'upsample-9 nearest ×2', op: 'Upsample', opset: 9, feeds: [x([1, 2, 3, 4]), scales([1, 1, 2, 2])] },
    { name: 'upsample-9 linear ×2', op: 'Upsample', opset: 9, feeds: [x([1, 2, 3, 4]), scales([1, 1, 2, 2])], attributes: { mode: 'linear' } },
    { name: 'resize-13 pytorch nearest (asymmetric, floor)', op: 'Resize', opset: 13, feeds: [x([1, 2, 3, 4]), scales([1, 1, 2, 2])], inputs: ['x', '', 'scales'], attributes: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } },
  ]))
