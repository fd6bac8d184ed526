import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import type { FolderFaithfulness, LocalizationReport, MapMethodName, MapMethodsInfo } from '@shared/api'
import { basename } from '../lib/format'
import { useJobs, type Job } from './jobs'
import { useSelection } from './selection'

/** The two evaluations over a folder the Classes view starts; both are jobs (api.ts lane 'jobs'). */
type FolderJob = 'startLocalization' | 'startFaithfulness'

/**
 * The Classes view's state (issue 5), kept across tab switches: the map method, Grad-CAM layer, box
 * threshold and selected class; what the model supports; the class each folder holds; and the two
 * evaluations over the open folder — localization, and mean deletion / insertion curves. Those are jobs:
 * they keep running while other views are shown, the Jobs view lists, cancels and reruns them, and their
 * state here is read from the jobs store's history (the newest of the current model's), so a run started
 * anywhere shows here.
 */
export const useClassMaps = defineStore('classMaps', () => {
  const selection = useSelection()
  const jobs = useJobs()

  const info = shallowRef<MapMethodsInfo | null>(null)
  const method = ref<MapMethodName>('cam')
  /** null: the method's default layer. */
  const layer = ref<string | null>(null)
  const threshold = ref(0.2)
  /** The class score the maps explain (issue 12's class target): the logit, or the probability where the method allows it. */
  const score = ref<'logit' | 'probability'>('logit')
  /** The class whose map the "across images" strip shows (the linked selection's); null: the selected image's top-1. */
  const classIndex = computed(() => selection.classIndex)
  /** The model class each class folder of the open image folder holds (null: none the model has). */
  const folderClasses = shallowRef<Map<string, number | null>>(new Map())

  /** The map registry's methods as getMapMethods describes them on the model, by name. */
  const methods = computed(() => new Map((info.value?.methods ?? []).map((m) => [m.name, m])))
  const supported = computed(() => info.value?.methods.filter((m) => m.unsupported === null).map((m) => m.name) ?? [])
  /** The methods ticked by default for a comparison over the folder: those that run and the registry marks for it. */
  const comparedByDefault = computed(() => supported.value.filter((name) => methods.value.get(name)?.comparedByDefault))
  /** A method's label on this model (its name until the model's methods are read). */
  const methodLabel = (name: MapMethodName): string => methods.value.get(name)?.label ?? name
  /** Whether the chosen method reads its maps at the chosen layer. */
  const needsLayer = computed(() => methods.value.get(method.value)?.needs.layer ?? false)
  /** The scores the chosen method can explain (CAM and Grad-CAM++: the logit only). */
  const methodScores = computed(() => methods.value.get(method.value)?.scores ?? ['logit'])
  /** The score the maps are asked for: the chosen one where the method explains it, else the logit. */
  const scoreParam = computed(() => (methodScores.value.includes(score.value) ? score.value : 'logit'))

  /** The newest job of `method` for the current model: running, and the newest finished one. */
  const ofModel = (j: Job, m: FolderJob) => j.method === m && (j.params as { modelId?: string }).modelId === selection.modelId
  const newest = (m: FolderJob, state?: Job['state']) => computed(() => [...jobs.history].reverse().find((j) => ofModel(j, m) && (!state || j.state === state)) ?? null)
  const running = newest('startLocalization', 'running')
  const lastLocalization = newest('startLocalization', 'done')
  const report = computed(() => (lastLocalization.value?.result as LocalizationReport | undefined) ?? null)
  const faithRunning = newest('startFaithfulness', 'running')
  const lastFaithfulness = newest('startFaithfulness', 'done')
  const faithReport = computed(() => (lastFaithfulness.value?.result as FolderFaithfulness | undefined) ?? null)

  async function refreshInfo(): Promise<void> {
    const modelId = selection.modelId
    info.value = null
    layer.value = null
    if (!modelId) return
    try {
      const got = await jobs.call('getMapMethods', { modelId }, { label: 'Reading the class-map methods of the model' })
      if (selection.modelId !== modelId) return
      info.value = got
    } catch {
      return // toasted
    }
    // CAM needs a global-pooling head: fall back to the first method this model supports.
    if (!supported.value.includes(method.value)) method.value = supported.value[0] ?? method.value
  }

  async function refreshFolderClasses(): Promise<void> {
    const modelId = selection.modelId
    const folder = selection.imageFolder
    folderClasses.value = new Map()
    if (!modelId || !folder || folder.classes.length === 0) return
    try {
      const got = await jobs.call('getClassFolders', { modelId, dataDir: folder.root, folders: folder.classes }, { label: 'Matching class folders to the model’s classes', quiet: true })
      if (selection.modelId === modelId && selection.imageFolder === folder) folderClasses.value = new Map(got.map((f) => [f.folder, f.classIndex]))
    } catch {
      // quiet: a model without class scores has no classes to match; the strip then offers the whole folder
    }
  }

  /** A class folder as the views name classes: the model's label of the class it holds, else the folder's own name. */
  const folderClassName = (folder: string): string => {
    const index = folderClasses.value.get(folder)
    return (index != null && selection.model?.labels?.[index]) || folder
  }

  const selectClass = (index: number | null): void => selection.selectClass(index)

  /** Evaluate localization over the open image folder for `methods` (the report shows when it is done). */
  async function localize(methods: MapMethodName[], options: { threshold: number; limit?: number }): Promise<void> {
    const modelId = selection.modelId
    const dataDir = selection.imageFolder?.root
    if (!modelId || !dataDir || running.value || methods.length === 0) return
    await jobs
      .call('startLocalization', { modelId, dataDir, methods, threshold: options.threshold, limit: options.limit }, { label: `Localization over ${basename(dataDir)}` })
      .catch(() => null) // cancelled, or toasted
  }

  /** Mean deletion / insertion curves of `methods` (and a random order) over the open folder. */
  async function averageFaithfulness(methods: MapMethodName[], limit: number | undefined): Promise<void> {
    const modelId = selection.modelId
    const dataDir = selection.imageFolder?.root
    if (!modelId || !dataDir || faithRunning.value || methods.length === 0) return
    await jobs.call('startFaithfulness', { modelId, dataDir, methods, limit, points: 26 }, { label: `Deletion / insertion over ${basename(dataDir)}` }).catch(() => null)
  }

  const cancel = () => running.value && jobs.cancel(running.value.id)
  const cancelFaithfulness = () => faithRunning.value && jobs.cancel(faithRunning.value.id)

  watch(
    () => selection.modelId,
    () => void refreshInfo(),
    { immediate: true },
  )
  watch(
    () => [selection.modelId, selection.imageFolder] as const,
    () => void refreshFolderClasses(),
    { immediate: true },
  )
  // The Activations view selecting a unit of the output layer selects that class here.
  watch(
    () => [selection.layer, selection.unit] as const,
    ([l, u]) => {
      const model = selection.model
      if (u !== null && model && l === model.layers[model.layers.length - 1]?.name) selection.classIndex = u
    },
  )

  return {
    info,
    method,
    layer,
    threshold,
    score,
    methodScores,
    scoreParam,
    classIndex,
    supported,
    comparedByDefault,
    methodLabel,
    needsLayer,
    folderClasses,
    folderClassName,
    running,
    report,
    faithRunning,
    faithReport,
    refreshInfo,
    selectClass,
    localize,
    cancel,
    averageFaithfulness,
    cancelFaithfulness,
  }
})
