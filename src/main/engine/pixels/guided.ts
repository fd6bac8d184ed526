/** Guided backpropagation (Springenberg et al. 2015): backprop and deconvnet together at every ReLU, (f>0)·(R>0)·R. */
import { ruleMethod } from './ruleMethod'

export const guided = ruleMethod({
  name: 'guided',
  label: 'Guided backprop',
  rule: 'guided',
  ruleText: '(f>0)·(R>0)·R',
  otherActivations: 'ReLU6: (0<f<6)·(R>0)·R; leaky ReLU(α): (f>0 ? 1 : α)·(R>0)·R',
})
