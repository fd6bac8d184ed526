/**
 * The sandboxed preload: exposes the IPC transport as `window.convscope` (an ElectronBridge) and nothing
 * else. A sandboxed preload is CommonJS with no Node modules, so this file imports only 'electron' (the
 * other imports are types, erased at build) and repeats the channel names as type-checked literals.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import type { ProgressEnvelope, ResponseEnvelope } from '../shared/api'
import type { ElectronBridge, IpcChannels } from '../shared/transport'

const REQUEST: IpcChannels['request'] = 'convscope:request'
const CANCEL: IpcChannels['cancel'] = 'convscope:cancel'
const PROGRESS: IpcChannels['progress'] = 'convscope:progress'
/** See IMAGE_PROTOCOL in src/shared/transport.ts. */
const IMAGE_URL_PREFIX = 'convscope-file://local/'

const bridge: ElectronBridge = {
  shell: 'electron',
  request: (envelope) => ipcRenderer.invoke(REQUEST, envelope) as Promise<ResponseEnvelope>,
  cancel: (id) => ipcRenderer.send(CANCEL, id),
  onProgress(listener) {
    const handler = (_event: IpcRendererEvent, progress: ProgressEnvelope) => listener(progress)
    ipcRenderer.on(PROGRESS, handler)
    return () => void ipcRenderer.removeListener(PROGRESS, handler)
  },
  imageUrl: (path) => IMAGE_URL_PREFIX + encodeURIComponent(path),
}

contextBridge.exposeInMainWorld('convscope', bridge)
