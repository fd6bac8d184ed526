import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import type { ModelInfo, Progress, ScanSummary } from '@shared/api'
import { basename } from '../lib/format'
import { useJobs } from './jobs'
import { useSelection } from './selection'

/** The layers a scan takes by default (as the engine's defaultScanLayers): spatial conv / depthwise / pool layers but the first. */
export function defaultScanLayers(model: ModelInfo): string[] {
  return model.layers
    .filter((l) => l.spatial && (l.kind === 'conv' || l.kind === 'depthwise' || l.kind === 'pool'))
    .slice(1)
    .map((l) => l.name)
}

export interface RunningScan {
  dataDir: string
  controller: AbortController
  progress: Progress | null
  /** First progress with a total, to measure this run's rate (a resumed scan starts at its checkpoint). */
  first: { done: number; at: number } | null
  last: { done: number; at: number } | null
}

/**
 * Dataset scans of the current model (issue 4): the list in the workspace, the one shown, and the one running
 * (survives tab switches, so leaving the Units view does not stop a scan).
 */
export const useScans = defineStore('scans', () => {
  const selection = useSelection()
  const jobs = useJobs()
  const list = ref<ScanSummary[]>([])
  const activeDir = ref<string | null>(null)
  const running = shallowRef<RunningScan | null>(null)
  const tick = ref(0) // bumped on progress: RunningScan is shallow

  const active = computed(() => list.value.find((s) => s.dir === activeDir.value && s.status === 'complete') ?? null)

  /** Rate and ETA of the running scan. */
  const stats = computed(() => {
    void tick.value
    const r = running.value
    if (!r?.progress || r.progress.total === null || !r.first || !r.last) return null
    const seconds = (r.last.at - r.first.at) / 1000
    const rate = seconds > 0.5 ? (r.last.done - r.first.done) / seconds : null
    const left = r.progress.total - r.progress.done
    return { done: r.progress.done, total: r.progress.total, fraction: r.progress.total ? r.progress.done / r.progress.total : 0, rate, eta: rate ? left / rate : null, message: r.progress.message ?? '' }
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
      return // toasted
    }
    if (!list.value.some((s) => s.dir === activeDir.value && s.status === 'complete')) {
      const folder = selection.imageFolder?.root
      activeDir.value = (list.value.find((s) => s.status === 'complete' && s.dataDir === folder) ?? list.value.find((s) => s.status === 'complete'))?.dir ?? null
    }
  }

  /** Scan the opened image folder (resuming an unfinished scan with the same settings). */
  async function start(layers: string[] | undefined, k: number): Promise<ScanSummary | null> {
    const modelId = selection.modelId
    const dataDir = selection.imageFolder?.root
    if (!modelId || !dataDir || running.value) return null
    const scan: RunningScan = { dataDir, controller: new AbortController(), progress: null, first: null, last: null }
    running.value = scan
    try {
      const summary = await jobs.call(
        'startScan',
        { modelId, dataDir, layers, k },
        {
          label: `Scanning ${basename(dataDir)}`,
          signal: scan.controller.signal,
          onProgress: (p) => {
            scan.progress = p
            if (p.total !== null) {
              const now = performance.now()
              scan.first ??= { done: p.done, at: now }
              scan.last = { done: p.done, at: now }
            }
            tick.value++
          },
        },
      )
      activeDir.value = summary.dir
      return summary
    } catch {
      return null // cancelled or toasted
    } finally {
      running.value = null
      await refresh()
    }
  }

  function cancel(): void {
    running.value?.controller.abort()
  }

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

  return { list, activeDir, active, running, stats, tick, refresh, start, cancel, show }
})
