import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import type { Session, ViewName } from '@shared/api'
import { useApi } from '../api/instance'
import { useJobs } from './jobs'
import { useSelection } from './selection'

/** Changes within this long are saved once (dragging through units, typing a layer). */
const SAVE_DELAY_MS = 300

/**
 * The window's session, kept by the engine in `<workspace>/session.json` (issue 9: a reload or a second tab
 * came back with no model, no folder and no demo): the model, the image folder, the linked selection and the
 * view. `restore()` reopens the last one; saving starts after it, so a half-restored state is never saved.
 */
export const useSession = defineStore('session', () => {
  const selection = useSelection()
  const jobs = useJobs()

  /** The view shown (App.vue mirrors it in the address's #hash). */
  const view = ref<ViewName>('workspace')
  /** Whether the user (or the address) chose the view: a restore then leaves it alone. */
  let viewChosen = false
  function showView(name: ViewName): void {
    view.value = name
    viewChosen = true
  }

  const snapshot = computed<Session>(() => ({
    modelDir: selection.model?.dir ?? null,
    imageFolder: selection.imageFolder?.root ?? null,
    layer: selection.layer,
    unit: selection.unit,
    image: selection.image,
    classIndex: selection.classIndex,
    view: view.value,
  }))

  /** Reopen the last session; false when there is none (a first start). */
  async function restore(): Promise<boolean> {
    let saved: Session | null
    try {
      saved = await jobs.call('getSession', {}, { label: 'Reading the last session' })
    } catch {
      return false // toasted
    }
    if (!saved) return false
    if (!viewChosen) view.value = saved.view
    if (saved.modelDir) await selection.openModel(saved.modelDir)
    if (saved.imageFolder) await selection.openImageFolder(saved.imageFolder)
    if (saved.layer && selection.model?.layers.some((l) => l.name === saved.layer)) selection.selectLayer(saved.layer)
    if (saved.image) await selection.showImage(saved.image)
    selection.selectClass(saved.classIndex)
    if (saved.unit !== null) selection.selectUnit(saved.unit)
    return true
  }

  let saving = false
  let timer: ReturnType<typeof setTimeout> | undefined
  /** Straight to the engine, not through the jobs store: housekeeping, not work to show in the status bar. */
  async function save(): Promise<void> {
    try {
      await useApi().call('saveSession', snapshot.value)
    } catch {
      // not worth a toast: the window works on, and the next change saves again
    }
  }
  /** Save every change from now on (after restore, or on a first start). */
  function startSaving(): void {
    if (saving) return
    saving = true
    watch(
      () => JSON.stringify(snapshot.value),
      () => {
        clearTimeout(timer)
        timer = setTimeout(() => void save(), SAVE_DELAY_MS)
      },
    )
  }

  return { view, showView, restore, startSaving }
})
