/**
 * Open a model folder (TF.js layers model or graph model) as a LoadedModel: the folder says its format, and
 * each format has its own class (layersModel.ts, graphModel.ts).
 *
 * Loading runs the model once on a blank image of the real input size: that gives every layer's output
 * shape (also for models that accept any size) and proves at open time, not in the middle of a scan, that
 * the active backend can run every op. Every failure is a ConvscopeError that names the file and the problem.
 */
import type { LoadedModel } from '../model'
import { readModelFolder } from './fsIOHandler'
import { loadGraphModel } from './graphModel'
import { loadLayersModel } from './layersModel'

/** Open the model in `dir` (a folder with model.json, or the model.json itself). */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const folder = await readModelFolder(dir)
  return folder.format === 'layers' ? loadLayersModel(folder) : loadGraphModel(folder)
}
