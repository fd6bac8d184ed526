import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { ImageFolder, LayerInfo, ModelInfo } from '@shared/api'
import { basename } from '../lib/format'
import { useJobs } from './jobs'
import { useSystem } from './system'

/** Number of units (channels) a layer's output has: its last dimension. */
const unitCount = (layer: LayerInfo): number | null => layer.outputShape[layer.outputShape.length - 1] ?? null

/** The layer shown first after opening a model: the first one with filters, else the first spatial one. */
function defaultLayer(model: ModelInfo): string | null {
  return (model.layers.find((l) => l.hasFilters) ?? model.layers.find((l) => l.spatial && l.kind !== 'input') ?? model.layers[0])?.name ?? null
}

/**
 * The linked selection every view follows: model, layer, unit (channel of that layer), image, class (an
 * index of the model's output); plus the opened model's facts and the opened image folder.
 */
export const useSelection = defineStore('selection', () => {
  const model = shallowRef<ModelInfo | null>(null)
  const modelId = computed(() => model.value?.id ?? null)
  const layer = ref<string | null>(null)
  const unit = ref<number | null>(null)
  const image = ref<string | null>(null)
  /** The class in focus (Classes view, Activations' predictions); null: each view's default (the image's top-1). */
  const classIndex = ref<number | null>(null)
  const imageFolder = shallowRef<ImageFolder | null>(null)
  /** A position picked on the selected unit's map (pixel maps of the unit there); null: its maximum. */
  const unitPosition = ref<{ y: number; x: number } | null>(null)
  /** The unit card (one neuron's filter, top patches, guided backprop, actmax, classes) is shown; it follows the selection. */
  const unitCardOpen = ref(false)

  const layerInfo = computed(() => model.value?.layers.find((l) => l.name === layer.value) ?? null)
  const layerUnits = computed(() => (layerInfo.value ? unitCount(layerInfo.value) : null))

  async function openModel(path: string): Promise<ModelInfo | null> {
    let info: ModelInfo
    try {
      info = await useJobs().call('openModel', { path }, { label: `Opening model ${path}` })
    } catch {
      return null // toasted
    }
    model.value = info
    layer.value = defaultLayer(info)
    unit.value = null
    unitPosition.value = null
    classIndex.value = null
    void useSystem().refreshRecent()
    return info
  }

  async function openImageFolder(path: string): Promise<ImageFolder | null> {
    let folder: ImageFolder
    try {
      folder = await useJobs().call('openImageFolder', { path }, { label: `Opening image folder ${path}` })
    } catch {
      return null
    }
    imageFolder.value = folder
    if (!folder.images.some((e) => e.path === image.value)) image.value = folder.images[0]?.path ?? null
    return folder
  }

  /** The bundled demo: the engine generates its images into the workspace (with progress), then both open. */
  async function openDemo(): Promise<boolean> {
    let demo
    try {
      demo = await useJobs().call('prepareDemo', {}, { label: 'Preparing the demo (generating images on first use)' })
    } catch {
      return false
    }
    if (!(await openModel(demo.modelDir))) return false
    return (await openImageFolder(demo.imagesDir)) !== null
  }

  function selectLayer(name: string | null): void {
    if (name === layer.value) return
    layer.value = name
    unit.value = null // unit indices belong to one layer
    unitPosition.value = null
  }

  /** Select a unit of the current layer; out-of-range indices are clamped to its units. */
  function selectUnit(index: number | null): void {
    const n = layerUnits.value
    const next = index === null || n === null ? index : Math.max(0, Math.min(n - 1, index))
    if (next !== unit.value) unitPosition.value = null
    unit.value = next
  }

  /** Pick a position of the selected unit's map (null: back to its maximum). */
  function selectUnitPosition(at: { y: number; x: number } | null): void {
    unitPosition.value = at
  }

  /** Show the unit card of the selected unit (it then follows the selection until closed). */
  function openUnitCard(): void {
    unitCardOpen.value = true
  }

  function closeUnitCard(): void {
    unitCardOpen.value = false
  }

  function selectImage(path: string | null): void {
    image.value = path
  }

  /**
   * Show an image given by its path (typed in, or restored). It becomes the selection only once the engine
   * has read its header, so a file served mode refuses, or one that is no image, never stands in for the
   * selected image (issue 9); the engine's reason is toasted. Images of the open folder are selected at once.
   */
  async function showImage(path: string): Promise<boolean> {
    if (!imageFolder.value?.images.some((e) => e.path === path)) {
      try {
        await useJobs().call('getImageFacts', { image: path }, { label: `Showing ${basename(path)}` })
      } catch {
        return false // toasted
      }
    }
    image.value = path
    return true
  }

  /** Select a class; the output layer's units are the classes, so its unit follows when that layer is selected. */
  function selectClass(index: number | null): void {
    classIndex.value = index
    const last = model.value?.layers[model.value.layers.length - 1]?.name
    if (index !== null && last !== undefined && layer.value === last) selectUnit(index)
  }

  return {
    model,
    modelId,
    layer,
    unit,
    image,
    classIndex,
    imageFolder,
    unitPosition,
    unitCardOpen,
    layerInfo,
    layerUnits,
    openDemo,
    openModel,
    openImageFolder,
    selectLayer,
    selectUnit,
    selectUnitPosition,
    openUnitCard,
    closeUnitCard,
    selectImage,
    showImage,
    selectClass,
  }
})
