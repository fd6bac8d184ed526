import { resolve } from 'node:path'
import type { z } from 'zod'
import {
  ConvscopeError,
  methods,
  parseParams,
  parseResult,
  type BackendReport,
  type EngineMethodName,
  type MethodName,
  type Methods,
  type ModelInfo,
  type ParsedParams,
  type Result,
} from '../../shared/api'
import { initBackend } from './backend'
import { ExecutorSettingsStore } from './executors/settings'
import type { JobContext } from './context'
import { listImageFolder } from './images/imageFolder'
import { readImageFacts } from './images/readImage'
import { computeActivations } from './methods/activations'
import { getClassFolders, getClassMapGrid, getClassMaps, getFaithfulness, getMapMethods, startFaithfulness, startLocalization } from './methods/classMaps'
import { busyWork } from './methods/busyWork'
import { getFilters } from './methods/filters'
import { startActmax } from './methods/neurons/actmax'
import { getGuidedPatches } from './methods/neurons/guidedPatches'
import { getOcclusion } from './methods/neurons/occlusion'
import { getPixelMap, getPixelMethods } from './methods/neurons/pixelMaps'
import { getUnitClassWeights } from './methods/neurons/unitClassWeights'
import { getClassDirection } from './methods/neurons/classDirection'
import { getCodeImages, listCodes, startCodes } from './methods/embeddings/codes'
import { getProjections, startEmbedding } from './methods/embeddings/embedding'
import { getImageGrid } from './methods/embeddings/grid'
import { getNeighbours } from './methods/embeddings/neighbours'
import { getCodeUnitValues } from './methods/embeddings/unitValues'
import type { LoadedModel } from './model'
import { loadModel } from './models/loadModel'
import { Catalog } from './store/catalog'
import { SessionStore } from './store/session'
import { prepareDemo } from './demoSetup'
import { getTopPatches, getUnitsOverview, listScans, startScan } from './scan/scanJobs'

/** The engine as a service: the process entry (worker.ts) and in-process users (CLI, tests) call it alike. */
export interface EngineService {
  /** Pick and initialise the backend; call once before handle(). */
  init(): Promise<BackendReport>
  /**
   * Run one API method: the engine's entry, so params are parsed here (once, against the table in
   * shared/api) and the result is validated here before it leaves the engine.
   */
  handle<M extends MethodName>(method: M, params: unknown, ctx: JobContext): Promise<Result<M>>
  dispose(): void
}

export interface EngineOptions {
  workspace: string
  /** Force a backend (from --backend or CONVSCOPE_BACKEND). */
  backend?: string
  /** Force the forward executor (--executor or CONVSCOPE_EXECUTOR); else the workspace's setting. */
  executor?: string
  /** Force onnxruntime's device (--device or CONVSCOPE_DEVICE); else the workspace's setting. */
  device?: string
}

export function createEngine(options: EngineOptions): EngineService {
  return new Engine(options)
}

/** One engine method's implementation: parsed params in, what its result schema takes out (parseResult validates it). */
type Handler<M extends EngineMethodName> = (params: ParsedParams<M>, ctx: JobContext) => Promise<z.input<Methods[M]['result']>>
/** Every engine method of the table has exactly one handler: a method added to shared/api without one fails to compile. */
type Handlers = { [M in EngineMethodName]: Handler<M> }

class Engine implements EngineService {
  private readonly catalog: Catalog
  private readonly models = new Map<string, LoadedModel>()
  private readonly handlers: Handlers
  private readonly executorSettings: ExecutorSettingsStore

  constructor(private readonly options: EngineOptions) {
    this.catalog = new Catalog(options.workspace)
    this.executorSettings = new ExecutorSettingsStore(options.workspace, { executor: options.executor, device: options.device })
    this.handlers = this.createHandlers()
  }

  async init(): Promise<BackendReport> {
    const report = await initBackend({ forced: this.options.backend })
    await this.executorSettings.load()
    return report
  }

  async handle<M extends MethodName>(method: M, raw: unknown, ctx: JobContext): Promise<Result<M>> {
    // Either lane's process answers any engine method (host/engines.ts); the shell's methods are not ours.
    if (methods[method].where === 'shell') throw new ConvscopeError('BAD_REQUEST', `${method} is answered by the shell, not the engine`)
    const name = method as EngineMethodName
    // The record is indexed by a union of names, so TypeScript cannot pair params and handler here; the record's type did.
    const handler = this.handlers[name] as Handler<EngineMethodName>
    // The setting may have changed in the other engine process since: a job starts with the saved one.
    if (methods[method].where === 'jobs') await this.executorSettings.load()
    return parseResult(method, await handler(parseParams(name, raw), ctx))
  }

  private createHandlers(): Handlers {
    const workspace = this.options.workspace
    const session = new SessionStore(workspace)
    return {
      listRecentModels: () => this.catalog.recentModels(),
      openModel: ({ path }) => this.openModel(resolve(path)),
      getFilters: async (p) => getFilters(await this.model(p.modelId), p.layer),
      openImageFolder: (p) => listImageFolder(resolve(p.path), p.limit),
      getActivations: async (p) => computeActivations(await this.model(p.modelId), p.layer, resolve(p.image)),
      prepareDemo: (_, ctx) => prepareDemo(workspace, ctx),
      busyWork: (p, ctx) => busyWork(p, ctx),
      startScan: async (p, ctx) => startScan(workspace, await this.model(p.modelId), { dataDir: resolve(p.dataDir), layers: p.layers, k: p.k }, ctx),
      listScans: (p) => listScans(workspace, p.modelId),
      getTopPatches: (p) => getTopPatches(resolve(p.scanDir), p),
      getUnitsOverview: (p) => getUnitsOverview(resolve(p.scanDir), p),
      getMapMethods: async (p) => getMapMethods(await this.model(p.modelId)),
      getClassMaps: async (p) => getClassMaps(await this.model(p.modelId), p),
      startLocalization: async (p, ctx) => startLocalization(await this.model(p.modelId), p, ctx),
      getFaithfulness: async (p) => getFaithfulness(await this.model(p.modelId), p),
      startFaithfulness: async (p, ctx) => startFaithfulness(await this.model(p.modelId), p, ctx),
      getClassFolders: async (p) => getClassFolders(await this.model(p.modelId), p.dataDir, p.folders),
      getClassMapGrid: async (p) => getClassMapGrid(await this.model(p.modelId), p.image, p.size),
      getImageFacts: (p) => readImageFacts(resolve(p.image)),
      getSession: () => session.read(),
      saveSession: async (p) => (await session.write(p), {}),
      getExecutors: async (p) => this.executorSettings.report(p.modelId ? await this.model(p.modelId) : null),
      getPixelMethods: async (p) => getPixelMethods(await this.model(p.modelId)),
      getPixelMap: async (p, ctx) => getPixelMap(await this.model(p.modelId), p, ctx),
      getOcclusion: async (p, ctx) => getOcclusion(await this.model(p.modelId), p, ctx),
      startActmax: async (p, ctx) => startActmax(workspace, await this.model(p.modelId), p, ctx),
      getGuidedPatches: async (p, ctx) => getGuidedPatches(await this.model(p.modelId), p, ctx),
      getUnitClassWeights: async (p) => getUnitClassWeights(await this.model(p.modelId), p),
      getClassDirection: async (p) => getClassDirection(await this.model(p.modelId), p),
      startCodes: async (p, ctx) => startCodes(workspace, await this.model(p.modelId), p, ctx),
      listCodes: (p) => listCodes(workspace, p.modelId),
      getCodeImages: (p) => getCodeImages(resolve(p.codesDir)),
      getNeighbours: (p) => getNeighbours(p, (id) => this.model(id)),
      getProjections: () => getProjections(),
      startEmbedding: (p, ctx) => startEmbedding(p, ctx),
      getCodeUnitValues: (p) => getCodeUnitValues(workspace, p),
      getImageGrid: (p, ctx) => getImageGrid(p, ctx),
      setExecutorSettings: async ({ modelId, ...settings }) => {
        await this.executorSettings.save(settings)
        return this.executorSettings.report(modelId ? await this.model(modelId) : null)
      },
    }
  }

  dispose(): void {
    for (const model of this.models.values()) model.dispose()
    this.models.clear()
  }

  private async openModel(dir: string): Promise<ModelInfo> {
    const model = await loadModel(dir)
    const known = this.models.get(model.info.id)
    if (known) {
      model.dispose()
    } else {
      this.models.set(model.info.id, model)
    }
    await this.catalog.rememberModel({ id: model.info.id, dir: model.info.dir, name: model.info.name })
    return (known ?? model).info
  }

  /** A model by id; one opened in an earlier engine process is reopened from the catalog. */
  private async model(id: string): Promise<LoadedModel> {
    const open = this.models.get(id)
    if (open) return open
    const recent = await this.catalog.findModel(id)
    if (!recent) throw new ConvscopeError('NOT_FOUND', `No model with id ${id} has been opened in this workspace; open its folder first`)
    const model = await loadModel(recent.dir)
    if (model.info.id !== id) {
      model.dispose()
      throw new ConvscopeError('NOT_FOUND', `The model in ${recent.dir} has changed since it was opened (id ${id} → ${model.info.id}); open it again`)
    }
    this.models.set(id, model)
    return model
  }
}
