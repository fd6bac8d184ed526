import { resolve } from 'node:path'
import { ConvscopeError, parseParams, type BackendReport, type MethodName, type ModelInfo } from '../../shared/api'
import { initBackend } from './backend'
import type { JobContext } from './context'
import { listImageFolder } from './images/imageFolder'
import { computeActivations } from './methods/activations'
import { getClassFolders, getClassMapGrid, getClassMaps, getFaithfulness, getMapMethods, startFaithfulness, startLocalization } from './methods/classMaps'
import { busyWork } from './methods/busyWork'
import { getFilters } from './methods/filters'
import type { LoadedModel } from './model'
import { loadModel } from './models/loadModel'
import { Catalog } from './store/catalog'
import { prepareDemo } from './demoSetup'
import { getTopPatches, getUnitsOverview, listScans, startScan } from './scan/scanJobs'

/** The engine as a service: the process entry (worker.ts) and in-process users (CLI, tests) call it alike. */
export interface EngineService {
  /** Pick and initialise the backend; call once before handle(). */
  init(): Promise<BackendReport>
  /** Run one API method; params are validated here against api.ts. */
  handle(method: MethodName, params: unknown, ctx: JobContext): Promise<unknown>
  dispose(): void
}

export interface EngineOptions {
  workspace: string
  /** Force a backend (from --backend or CONVSCOPE_BACKEND). */
  backend?: string
}

export function createEngine(options: EngineOptions): EngineService {
  return new Engine(options)
}

class Engine implements EngineService {
  private readonly catalog: Catalog
  private readonly models = new Map<string, LoadedModel>()

  constructor(private readonly options: EngineOptions) {
    this.catalog = new Catalog(options.workspace)
  }

  init(): Promise<BackendReport> {
    return initBackend({ forced: this.options.backend })
  }

  async handle(method: MethodName, raw: unknown, ctx: JobContext): Promise<unknown> {
    switch (method) {
      case 'listRecentModels':
        return this.catalog.recentModels()
      case 'openModel': {
        const { path } = parseParams(method, raw)
        return this.openModel(resolve(path))
      }
      case 'getFilters': {
        const p = parseParams(method, raw)
        return getFilters(await this.model(p.modelId), p.layer)
      }
      case 'openImageFolder': {
        const p = parseParams(method, raw)
        return listImageFolder(resolve(p.path), p.limit)
      }
      case 'getActivations': {
        const p = parseParams(method, raw)
        return computeActivations(await this.model(p.modelId), p.layer, resolve(p.image))
      }
      case 'prepareDemo':
        return prepareDemo(this.options.workspace, ctx)
      case 'busyWork':
        return busyWork(parseParams(method, raw), ctx)
      case 'startScan': {
        const p = parseParams(method, raw)
        return startScan(this.options.workspace, await this.model(p.modelId), { dataDir: resolve(p.dataDir), layers: p.layers, k: p.k }, ctx)
      }
      case 'listScans':
        return listScans(this.options.workspace, parseParams(method, raw).modelId)
      case 'getTopPatches': {
        const p = parseParams(method, raw)
        return getTopPatches(resolve(p.scanDir), p)
      }
      case 'getUnitsOverview': {
        const p = parseParams(method, raw)
        return getUnitsOverview(resolve(p.scanDir), p)
      }
      case 'getMapMethods':
        return getMapMethods(await this.model(parseParams(method, raw).modelId))
      case 'getClassMaps': {
        const p = parseParams(method, raw)
        return getClassMaps(await this.model(p.modelId), p)
      }
      case 'startLocalization': {
        const p = parseParams(method, raw)
        return startLocalization(await this.model(p.modelId), p, ctx)
      }
      case 'getFaithfulness': {
        const p = parseParams(method, raw)
        return getFaithfulness(await this.model(p.modelId), p)
      }
      case 'startFaithfulness': {
        const p = parseParams(method, raw)
        return startFaithfulness(await this.model(p.modelId), p, ctx)
      }
      case 'getClassFolders': {
        const p = parseParams(method, raw)
        return getClassFolders(await this.model(p.modelId), p.dataDir, p.folders)
      }
      case 'getClassMapGrid': {
        const p = parseParams(method, raw)
        return getClassMapGrid(await this.model(p.modelId), p.image, p.size)
      }
      default:
        throw new ConvscopeError('BAD_REQUEST', `The engine does not handle "${method}"`)
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
