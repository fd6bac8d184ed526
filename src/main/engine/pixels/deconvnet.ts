/** Deconvnet (Zeiler & Fergus 2014): at every ReLU only the positive part of the gradient from above passes, (R>0)·R. */
import { ruleMethod } from './ruleMethod'

export const deconvnet = ruleMethod({
  name: 'deconvnet',
  label: 'Deconvnet',
  rule: 'deconvnet',
  ruleText: '(R>0)·R',
  otherActivations: 'ReLU6 and leaky ReLU: (R>0)·R (the forward input is ignored)',
})
