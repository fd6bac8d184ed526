/**
 * The recipe of the committed demo networks: data, architecture and training settings in one place, so
 * `npm run train:demo` with no options reproduces resources/demo-models. docs/training.md says why.
 */
import type { Augmentation } from './dataset'
import { DEFAULT_SPEC, type DemoNetKind } from './architectures'

export const DEMO_RECIPE = {
  /** The generated dataset (src/main/engine/demo). */
  data: { seed: 0, imageSize: 128, trainPerClass: 800, valPerClass: 100 },
  seed: 0,
  spec: DEFAULT_SPEC,
  batchSize: 32,
  /** Peak learning rate per network: lower where the lower trunk starts trained. */
  learningRate: { gap: 3e-3, gmp: 2e-3, fc: 2e-3 } satisfies Record<DemoNetKind, number>,
  /**
   * gmp and fc start from the trained gap network's layers below conv_last (conv_last and the head are
   * new), as the paper's GAP and GMP networks start from one trained network; gap starts from scratch.
   */
  initFrom: { gap: null, gmp: 'gap', fc: 'gap' } satisfies Record<DemoNetKind, DemoNetKind | null>,
  warmupEpochs: 0.5,
  augmentation: { flip: true, shift: 4 } satisfies Augmentation,
  epochs: { gap: 12, gmp: 3, fc: 2 } satisfies Record<DemoNetKind, number>,
}
