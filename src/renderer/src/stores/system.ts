import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { RecentModel, SystemInfo } from '@shared/api'
import { useApi } from '../api/instance'
import type { ConnectionState } from '../api/client'
import { useJobs } from './jobs'
import { useSelection } from './selection'
import { useSession } from './session'

/** Facts about the engine and the shell: backend, workspace, dialogs; the served-mode connection; recent models. */
export const useSystem = defineStore('system', () => {
  const info = shallowRef<SystemInfo | null>(null)
  const recent = ref<RecentModel[]>([])
  const connection = ref<ConnectionState>('connecting')
  const connectionDetail = ref<string | null>(null)

  async function load(): Promise<void> {
    const jobs = useJobs()
    try {
      info.value = await jobs.call('getSystemInfo', {}, { label: 'Reading system info' })
    } catch {
      return // toasted
    }
    await refreshRecent()
    const selection = useSelection()
    const session = useSession()
    // A reload, a second window or the next start comes back to the last session (issue 9) ...
    const restored = !selection.model && (await session.restore())
    // ... and a first start (an empty workspace) opens the demo, so every view has something real to show.
    if (!restored && info.value.openDemoOnFirstStart && !demoOffered && recent.value.length === 0 && !selection.model) {
      demoOffered = true
      void selection.openDemo()
    }
    session.startSaving()
  }
  let demoOffered = false

  async function refreshRecent(): Promise<void> {
    try {
      recent.value = await useJobs().call('listRecentModels', {}, { label: 'Listing recent models' })
    } catch {
      // toasted
    }
  }

  /** Follow the connection; (re)load everything each time it opens. */
  function watchConnection(): void {
    useApi().onConnection((state, detail) => {
      connection.value = state
      connectionDetail.value = detail
      if (state === 'open') void load()
    })
  }

  return { info, recent, connection, connectionDetail, load, refreshRecent, watchConnection }
})
