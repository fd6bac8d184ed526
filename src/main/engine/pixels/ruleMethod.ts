/** The three pixel methods that differ only in their ReLU rule (backprop, deconvnet, guided): one maker. */
import type { ReluRule } from '../graph/ops/reluRule'
import { locateTarget } from '../targets'
import { checkOneImage, readPixelMap, ruleGradient } from './ruleGradient'
import type { PixelMethod } from './types'

export interface RuleMethodDescription {
  name: string
  label: string
  rule: ReluRule
  /** The rule in the lecture's notation. */
  ruleText: string
  otherActivations: string
}

export function ruleMethod(d: RuleMethodDescription): PixelMethod {
  return {
    name: d.name,
    label: d.label,
    rule: d.ruleText,
    otherActivations: d.otherActivations,
    cost: 'one forward pass to locate the target, one forward and one backward pass to the input',
    unsupported: () => null,
    async compute(model, input, plan) {
      checkOneImage(input)
      const located = await locateTarget(model, input, plan)
      return readPixelMap(ruleGradient(model, input, plan, d.rule, located.position), located)
    },
  }
}
