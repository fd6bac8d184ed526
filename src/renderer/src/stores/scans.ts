import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import type { ScanSummary } from '@shared/api'
import { basename } from '../lib/format'
import { useJobs, type Job } from './jobs'
import { useSelection } from './selection'

/**
 * Dataset scans of the current model (issue 4): the list in the workspace, the one shown, and the one running.
 * A scan is a job (api.ts lane 'jobs'): it keeps running while other views are shown, the Jobs view lists,
 * cancels and reruns it, and its state here is read from the jobs store's history (the newest of the current
 * model's), so a scan started anywhere shows here, as stores/classMaps.ts does for its evaluations.
 */
export const useScans = defineStore('scans', () => {
  const selection = useSelection()
  const jobs = useJobs()
  const list = ref<ScanSummary[]>([])
  const activeDir = ref<string | null>(null)

  const active = computed(() => list.value.find((s) => s.dir === activeDir.value && s.status === 'complete') ?? null)

  const ofModel = (j: Job) => j.method === 'startScan' && (j.params as { modelId?: string }).modelId === selection.modelId
  /** The current model's running scan job, and its newest one that ended (done, cancelled or failed). */
  const running = computed(() => [...jobs.history].reverse().find((j) => ofModel(j) && j.state === 'running') ?? null)
  const lastEnded = computed(() => [...jobs.history].reverse().find((j) => ofModel(j) && j.state !== 'running') ?? null)

  /** Progress of the running scan, with the rate and ETA the jobs store keeps for every job. */
  const stats = computed(() => {
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
      list.value = await jobs.call('listScans', { modelId }, { label: 'Listing scans' })
    } catch {
      list.value = [] // toasted; the previous model's scans are not this one's
      activeDir.value = null
      return
    }
    if (!list.value.some((s) => s.dir === activeDir.value && s.status === 'complete')) {
      const folder = selection.imageFolder?.root
      activeDir.value = (list.value.find((s) => s.status === 'complete' && s.dataDir === folder) ?? list.value.find((s) => s.status === 'complete'))?.dir ?? null
    }
  }

  /** Scan the opened image folder (resuming an unfinished scan with the same settings); the list follows when it ends. */
  async function start(layers: string[] | undefined, k: number): Promise<ScanSummary | null> {
    const modelId = selection.modelId
    const dataDir = selection.imageFolder?.root
    if (!modelId || !dataDir || running.value) return null
    return jobs.call('startScan', { modelId, dataDir, layers, k }, { label: `Scanning ${basename(dataDir)}` }).catch(() => null) // cancelled, or toasted
  }

  const cancel = () => running.value && jobs.cancel(running.value.id)

  /** Show a scan; its image folder is opened so the window may load its images (and the other views follow). */
  async function show(dir: string): Promise<void> {
    activeDir.value = dir
    const scan = list.value.find((s) => s.dir === dir)
    if (scan && scan.dataDir !== selection.imageFolder?.root) await selection.openImageFolder(scan.dataDir)
  }

  watch(
    () => selection.modelId,
    () => void refresh(),
  )
  // A scan of this model ended, started here or rerun from the Jobs view: list it (an incomplete one offers Resume), show a finished one.
  watch(
    () => (lastEnded.value ? `${lastEnded.value.id} ${lastEnded.value.state}` : null),
    () => {
      const job = lastEnded.value
      if (job?.state === 'done') activeDir.value = (job.result as ScanSummary).dir
      void refresh()
    },
  )

  return { list, activeDir, active, running, stats, refresh, start, cancel, show }
})
