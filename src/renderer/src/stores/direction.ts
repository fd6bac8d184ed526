import { defineStore } from 'pinia'
import { ref, shallowRef, watch } from 'vue'
import type { TargetInput } from '@shared/api'
import { useSelection } from './selection'

/** How a direction's vector is given (lib/directionTarget.ts). */
export type DirectionSource = 'weights' | 'difference' | 'class'

/**
 * The direction target being composed (TargetPicker's "direction" kind), shared by every picker as the linked
 * selection is: a direction typed in the pixel-map panel is the one occlusion and activation maximization get.
 * `built` is the last complete one with its words (the Classes view optimizes an image for it).
 */
export const useDirection = defineStore('direction', () => {
  const selection = useSelection()
  const source = ref<DirectionSource>('weights')
  /** The layer of typed weights and unit differences; null: the selected layer. */
  const layer = ref<string | null>(null)
  const weightsText = ref('')
  const unitA = ref<number | null>(null)
  const unitB = ref<number | null>(null)
  const built = shallowRef<{ target: Extract<TargetInput, { kind: 'direction' }>; description: string } | null>(null)

  // Another model: its channels are not these.
  watch(
    () => selection.modelId,
    () => {
      layer.value = null
      weightsText.value = ''
      unitA.value = unitB.value = null
      built.value = null
    },
  )
  return { source, layer, weightsText, unitA, unitB, built }
})
