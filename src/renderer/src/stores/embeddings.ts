import { defineStore } from 'pinia'
import { computed, markRaw, reactive, ref, shallowRef, watch } from 'vue'
import type { CodeDtype, CodesSummary, Metric, ProjectionInfo, ProjectionParams } from '@shared/api'
import { useEngineRun } from '../composables/useEngineRun'
import { useJobFolders } from '../composables/useJobFolders'
import { defaultParams, describeParams, type ColourBy } from '../lib/embeddings'
import { basename } from '../lib/format'
import { useJobs } from './jobs'

/**
 * The Embeddings view's state (issue 13), kept across tab switches: the codes folders of the current model
 * (the list, the one shown, the codes job running), the projection method and its settings, the map run
 * (startEmbedding, a job with progress and cancel that finishes into the cache when the view is left), what
 * colours the map, the kNN settings and the lasso selection. The codes folders are a job's folders as scans
 * are (composables/useJobFolders.ts), so a codes job started or rerun from the Jobs view shows here.
 */
export const useEmbeddings = defineStore('embeddings', () => {
  const jobs = useJobs()

  // --- codes folders ---------------------------------------------------------------------------------
  const { startJob, ...codes } = useJobFolders<CodesSummary>({
    startMethod: 'startCodes',
    list: (modelId) => jobs.call('listCodes', { modelId }, { label: 'Listing codes' }),
  })
  const { active, activeDir } = codes

  /** Codes of the opened image folder at `layer` (undefined: the classifier's input); an unfinished job with the same settings resumes. */
  const start = (layer: string | undefined, dtype: CodeDtype): Promise<CodesSummary | null> =>
    startJob((modelId, dataDir) => jobs.call('startCodes', { modelId, dataDir, layer, dtype }, { label: `Codes of ${basename(dataDir)}${layer ? ` at ${layer}` : ''}` }))

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
    ...codes,
    start,
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
