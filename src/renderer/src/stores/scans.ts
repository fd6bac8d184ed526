import { defineStore } from 'pinia'
import type { ScanSummary } from '@shared/api'
import { useJobFolders } from '../composables/useJobFolders'
import { basename } from '../lib/format'
import { useJobs } from './jobs'

/**
 * Dataset scans of the current model (issue 4): the list in the workspace, the one shown, and the one running.
 * A scan is a job (api.ts lane 'jobs'): it keeps running while other views are shown, the Jobs view lists,
 * cancels and reruns it, and its state here is read from the jobs store's history (composables/useJobFolders.ts),
 * so a scan started anywhere shows here, as stores/classMaps.ts does for its evaluations.
 */
export const useScans = defineStore('scans', () => {
  const jobs = useJobs()
  const { startJob, ...folders } = useJobFolders<ScanSummary>({
    startMethod: 'startScan',
    list: (modelId) => jobs.call('listScans', { modelId }, { label: 'Listing scans' }),
  })

  /** Scan the opened image folder (resuming an unfinished scan with the same settings); the list follows when it ends. */
  const start = (layers: string[] | undefined, k: number): Promise<ScanSummary | null> =>
    startJob((modelId, dataDir) => jobs.call('startScan', { modelId, dataDir, layers, k }, { label: `Scanning ${basename(dataDir)}` }))

  return { ...folders, start }
})
