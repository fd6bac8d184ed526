import { computed, ref, watch, type Ref } from 'vue'
import type { MethodName, SkippedFile } from '@shared/api'
import { useJobs, type Job } from '../stores/jobs'
import { useSelection } from '../stores/selection'

/** What every folder made by a jobs-lane job of an image folder has (a scan, a codes folder). */
export interface JobFolder {
  dir: string
  status: 'complete' | 'incomplete'
  /** The image folder it is of (absolute). */
  dataDir: string
  images: number
  skipped: SkippedFile[]
  imagesPerSecond: number | null
}

/** Progress of a running job, with the rate and ETA the jobs store keeps for every job. */
export interface JobFolderStats {
  done: number
  total: number
  fraction: number
  rate: number | null
  eta: number | null
  message: string
}

export interface JobFolderKind<S extends JobFolder> {
  /** The jobs-lane method that makes a folder (its jobs are found in the jobs store's history by it). */
  startMethod: MethodName
  /** The current model's folders. */
  list: (modelId: string) => Promise<S[]>
}

/**
 * The folders a jobs-lane job makes of the opened image folder with the current model (stores/scans.ts,
 * stores/embeddings.ts' codes): the list in the workspace, the one shown, the job running with its progress,
 * start, cancel and show. The job's state is read from the jobs store's history (the newest of the current
 * model's), so one started anywhere, or rerun from the Jobs view, shows here. Call it in a store's setup.
 */
export function useJobFolders<S extends JobFolder>(kind: JobFolderKind<S>) {
  const selection = useSelection()
  const jobs = useJobs()
  const list = ref([]) as Ref<S[]>
  const activeDir = ref<string | null>(null)

  const active = computed(() => list.value.find((f) => f.dir === activeDir.value && f.status === 'complete') ?? null)
  /** The unfinished folder of the opened image folder (cancelled or killed): starting it again resumes it. */
  const unfinished = computed(() => list.value.find((f) => f.status === 'incomplete' && f.dataDir === selection.imageFolder?.root) ?? null)

  const ofModel = (j: Job) => j.method === kind.startMethod && (j.params as { modelId?: string }).modelId === selection.modelId
  /** The current model's running job, and its newest one that ended (done, cancelled or failed). */
  const running = computed(() => [...jobs.history].reverse().find((j) => ofModel(j) && j.state === 'running') ?? null)
  const lastEnded = computed(() => [...jobs.history].reverse().find((j) => ofModel(j) && j.state !== 'running') ?? null)

  const stats = computed((): JobFolderStats | null => {
    const job = running.value
    const p = job?.progress
    if (!job || !p || p.total === null) return null
    return { done: p.done, total: p.total, fraction: p.total ? p.done / p.total : 0, rate: job.rate, eta: job.etaSeconds, message: p.message ?? '' }
  })

  async function refresh(): Promise<void> {
    const modelId = selection.modelId
    if (!modelId) {
      list.value = []
      activeDir.value = null
      return
    }
    try {
      list.value = await kind.list(modelId)
    } catch {
      list.value = [] // toasted; the previous model's folders are not this one's
      activeDir.value = null
      return
    }
    if (!active.value) {
      const folder = selection.imageFolder?.root
      const complete = list.value.filter((f) => f.status === 'complete')
      activeDir.value = (complete.find((f) => f.dataDir === folder) ?? complete[0])?.dir ?? null
    }
  }

  /** Start the job on the opened image folder (an unfinished one with the same settings resumes); null: nothing to start, one running, cancelled or failed (toasted). */
  async function startJob(call: (modelId: string, dataDir: string) => Promise<S>): Promise<S | null> {
    const modelId = selection.modelId
    const dataDir = selection.imageFolder?.root
    if (!modelId || !dataDir || running.value) return null
    return call(modelId, dataDir).catch(() => null)
  }

  const cancel = () => running.value && jobs.cancel(running.value.id)

  /** Show a folder; its image folder opens too, so the window may load its images and every view follows. */
  async function show(dir: string): Promise<void> {
    activeDir.value = dir
    const folder = list.value.find((f) => f.dir === dir)
    if (folder && folder.dataDir !== selection.imageFolder?.root) await selection.openImageFolder(folder.dataDir)
  }

  watch(
    () => selection.modelId,
    () => void refresh(),
  )
  // A job of this model ended, started here or rerun from the Jobs view: list it (an incomplete one offers Resume), show a finished one.
  watch(
    () => (lastEnded.value ? `${lastEnded.value.id} ${lastEnded.value.state}` : null),
    () => {
      const job = lastEnded.value
      if (job?.state === 'done') activeDir.value = (job.result as S).dir
      void refresh()
    },
  )

  return { list, activeDir, active, unfinished, running, stats, refresh, startJob, cancel, show }
}

/** What a view's folder bar (components/JobFolderBar.vue) reads of a store made with useJobFolders. */
export interface JobFolderState<S extends JobFolder> {
  list: S[]
  activeDir: string | null
  active: S | null
  running: Job | null
  stats: JobFolderStats | null
  show: (dir: string) => Promise<void>
  cancel: () => unknown
}
