/** A model's resize policy in a few words, for the CLI's `info` and the Workspace view's model facts. */
import type { Preprocessing } from './api'

/** "stretch", "center-crop, bicubic", "shorter side → 256, center crop" (bilinear, the default, left unsaid). */
export function describeResize(pre: Pick<Preprocessing, 'resize' | 'resizeSize' | 'interpolation' | 'inputSize'>): string {
  const interpolation = pre.interpolation && pre.interpolation !== 'bilinear' ? `, ${pre.interpolation}` : ''
  if (pre.resize !== 'shorter-side') return `${pre.resize}${interpolation}`
  return `shorter side → ${pre.resizeSize ?? Math.min(...pre.inputSize)}, center crop${interpolation}`
}
