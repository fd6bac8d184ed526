import { defineStore } from 'pinia'
import { computed, markRaw, reactive, ref, shallowRef, watch } from 'vue'
import type { CodeDtype, CodesSummary, Metric, ProjectionInfo, ProjectionParams } from '@shared/api'
import { useEngineRun } from '../composables/useEngineRun'
import { defaultParams, describeParams, type ColourBy } from '../lib/embeddings'
import { basename } from '../lib/format'
import { useJobs, type Job } from './jobs'
import { useSelection } from './selection'

/**
 * The Embeddings view's state (issue 13), kept across tab switches: the codes folders of the current model
 * (the list, the one shown, the codes job running), the projection method and its settings, the map run
 * (startEmbedding, a job with progress and cancel that finishes into the cache when the view is left), what
 * colours the map, the kNN settings and the lasso selection. The codes job's state is read from the jobs
 * store's history, as stores/scans.ts does, so a job started or rerun from the Jobs view shows here.
 */
export const useEmbeddings = defineStore('embeddings', () => {
  const selection = useSelection()
  const jobs = useJobs()

  // --- codes folders ---------------------------------------------------------------------------------
  const list = ref<CodesSummary[]>([])
  const activeDir = ref<string | null>(null)
  const active = computed(() => list.value.find((c) => c.dir === activeDir.value && c.status === 'complete') ?? null)

  const ofModel = (j: Job) => j.method === 'startCodes' && (j.params as { modelId?: string }).modelId === selection.modelId
  const running = computed(() => [...jobs.history].reverse().find((j) => ofModel(j) && j.state === 'running') ?? null)
  const lastEnded = computed(() => [...jobs.history].reverse().find((j) => ofModel(j) && j.state !== 'running') ?? null)
  const stats = computed(() => {
    const p = running.value?.progress
    if (!p || p.total === null) return null
    return { done: p.done, total: p.total, fraction: p.total ? p.done / p.total : 0, eta: running.value!.etaSeconds, message: p.message ?? '' }
  })

  async function refresh(): Promise<void> {
    const modelId = selection.modelId
    if (!modelId) {
      list.value = []
      activeDir.value = null
      return
    }
    try {
      list.value = await jobs.call('listCodes', { modelId }, { label: 'Listing codes' })
    } catch {
      list.value = [] // toasted
      activeDir.value = null
      return
    }
    if (!active.value) {
      const folder = selection.imageFolder?.root
      const complete = list.value.filter((c) => c.status === 'complete')
      activeDir.value = (complete.find((c) => c.dataDir === folder) ?? complete[0])?.dir ?? null
    }
  }

  /** Codes of the opened image folder at `layer` (undefined: the classifier's input); an unfinished job with the same settings resumes. */
  async function start(layer: string | undefined, dtype: CodeDtype): Promise<CodesSummary | null> {
    const modelId = selection.modelId
    const dataDir = selection.imageFolder?.root
    if (!modelId || !dataDir || running.value) return null
    return jobs.call('startCodes', { modelId, dataDir, layer, dtype }, { label: `Codes of ${basename(dataDir)}${layer ? ` at ${layer}` : ''}` }).catch(() => null)
  }

  const cancel = () => running.value && jobs.cancel(running.value.id)

  /** Show a codes folder; its image folder opens too, so the window may load its images and every view follows. */
  async function show(dir: string): Promise<void> {
    activeDir.value = dir
    const codes = list.value.find((c) => c.dir === dir)
    if (codes && codes.dataDir !== selection.imageFolder?.root) await selection.openImageFolder(codes.dataDir)
  }

  watch(
    () => selection.modelId,
    () => void refresh(),
  )
  watch(
    () => (lastEnded.value ? `${lastEnded.value.id} ${lastEnded.value.state}` : null),
    () => {
      const job = lastEnded.value
      if (job?.state === 'done') activeDir.value = (job.result as CodesSummary).dir
      void refresh()
    },
  )

  // --- the map -------------------------------------------------------------------------------------
  const projections = shallowRef<ProjectionInfo[]>([])
  const method = ref('pca')
  /** The settings typed in, per method (a method's defaults until changed). */
  const settings = reactive<Record<string, ProjectionParams>>({})
  const projection = computed(() => projections.value.find((p) => p.name === method.value) ?? null)
  const params = computed<ProjectionParams>(() => ({ ...(projection.value ? defaultParams(projection.value) : {}), ...(settings[method.value] ?? {}) }))
  const mapName = computed(() => (projection.value ? describeParams(projection.value, params.value) : method.value))

  async function loadProjections(): Promise<void> {
    if (projections.value.length) return
    try {
      projections.value = await jobs.call('getProjections', {}, { label: 'Reading the projection methods' })
    } catch {
      return // toasted
    }
    if (!projections.value.some((p) => p.name === method.value)) method.value = projections.value[0]?.name ?? method.value
  }

  function setParam(name: string, value: number | string): void {
    settings[method.value] = { ...(settings[method.value] ?? {}), [name]: value }
  }

  // markRaw: the view reads its refs as refs (the store would unwrap them).
  const embedding = markRaw(useEngineRun(
    'startEmbedding',
    () => (active.value && projection.value ? { codesDir: active.value.dir, method: method.value, params: params.value, dims: 2 } : null),
    { label: (p) => `${mapName.value} map of ${basename(p.codesDir)}`, cancelOnLeave: false },
  ))

  const colourBy = ref<ColourBy>('class')

  // --- neighbours and the lasso --------------------------------------------------------------------
  const k = ref(10)
  const metric = ref<Metric>('cosine')
  /** Rows of the codes folder picked with the lasso or box on the map (empty: none). */
  const lasso = shallowRef<number[]>([])
  /** What the image grid is made of: every image of the map, or the lasso selection. */
  const gridSource = ref<'map' | 'lasso'>('map')
  watch(embedding.data, () => (lasso.value = []))
  watch(activeDir, () => (lasso.value = []))

  return {
    list,
    activeDir,
    active,
    running,
    stats,
    refresh,
    start,
    cancel,
    show,
    projections,
    method,
    projection,
    params,
    mapName,
    loadProjections,
    setParam,
    embedding,
    colourBy,
    k,
    metric,
    lasso,
    gridSource,
  }
})
