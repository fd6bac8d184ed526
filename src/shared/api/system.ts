/** The shell and its engine processes: backends, system info, the folder picker's listing, the bundled demo. */
import { z } from 'zod'

/** Backends in the order the engine tries them. */
export const BackendName = z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'])
export type BackendName = z.infer<typeof BackendName>

export const BackendAttempt = z.object({
  name: BackendName,
  ok: z.boolean(),
  /** Why it was skipped or failed; for the chosen one, why it was chosen (e.g. "forced by --backend"). */
  reason: z.string(),
})
export const BackendReport = z.object({
  active: BackendName,
  attempts: z.array(BackendAttempt),
  forced: z.boolean(),
})
export type BackendReport = z.infer<typeof BackendReport>

/** The two engine processes (see `Where` in index.ts): the interactive one and the one for long jobs. */
export const EngineLane = z.enum(['engine', 'jobs'])
export type EngineLane = z.infer<typeof EngineLane>

/** One engine process: its lane, pid, and the backend it initialised (null before its first start). */
export const EngineProcessInfo = z.object({
  lane: EngineLane,
  pid: z.number().int().nullable(),
  backend: BackendReport.nullable(),
})
export type EngineProcessInfo = z.infer<typeof EngineProcessInfo>

/** 'electron' when the window is an Electron window, 'served' when it is a browser on served mode. */
export const ShellKind = z.enum(['electron', 'served'])
export type ShellKind = z.infer<typeof ShellKind>

export const SystemInfo = z.object({
  version: z.string(),
  backend: BackendReport,
  workspace: z.string(),
  shell: ShellKind,
  /** Native folder dialogs are available (Electron only). */
  nativeDialogs: z.boolean(),
  /** This installation bundles the trained demo network. */
  demoAvailable: z.boolean(),
  /** Open the bundled demo (model + generated images) when the workspace has no models yet. */
  openDemoOnFirstStart: z.boolean(),
  platform: z.string(),
  node: z.string(),
  /** The engine processes: the interactive one and the one for long jobs (pid null where not running). `backend` above is the interactive one's. */
  engines: z.array(EngineProcessInfo).optional(),
})
export type SystemInfo = z.infer<typeof SystemInfo>

/** The bundled demo: the trained GAP network and the demo dataset generated into the workspace. */
export const DemoSetup = z.object({
  modelDir: z.string(),
  /** The generated dataset's root (classes.json, annotations/, masks/ ...). */
  dataDir: z.string(),
  /** The image folder to show: the held-out val split, an ImageNet-style tree. */
  imagesDir: z.string(),
  /** True when this call generated images; false when they were already there. */
  generated: z.boolean(),
})
export type DemoSetup = z.infer<typeof DemoSetup>

/** One entry of a folder listing for the served-mode folder picker. */
export const DirEntry = z.object({ name: z.string(), path: z.string(), kind: z.enum(['dir', 'file']), isModel: z.boolean() })
export const DirListing = z.object({ path: z.string(), parent: z.string().nullable(), entries: z.array(DirEntry) })
export type DirListing = z.infer<typeof DirListing>

/** A long computation with progress, used to keep the engine busy in responsiveness tests and benchmarks. */
export const BusyWork = z.object({ milliseconds: z.number().int().positive().max(600_000) })
