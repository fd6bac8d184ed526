import type { ElectronBridge } from '../shared/transport'

declare global {
  interface Window {
    /** The IPC transport, present in the Electron window only; in served mode the renderer uses a WebSocket. */
    readonly convscope?: ElectronBridge
  }
}

export {}
