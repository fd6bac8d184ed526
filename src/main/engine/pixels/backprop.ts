/** The vanilla gradient (Simonyan et al. 2014): d target / d input, the plain ReLU derivative (f>0)·R. */
import { ruleMethod } from './ruleMethod'

export const backprop = ruleMethod({
  name: 'backprop',
  label: 'Gradient (backprop)',
  rule: 'backprop',
  ruleText: '(f>0)·R',
  otherActivations: 'ReLU6: (0<f<6)·R; leaky ReLU(α): (f>0 ? 1 : α)·R (the plain derivative)',
})
