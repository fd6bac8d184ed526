/**
 * Open a model as a LoadedModel: an ONNX model (an .onnx file, or a folder with one *.onnx and no model.json:
 * onnxModel.ts) or a TF.js folder (model.json says layers or graph model: layersModel.ts, graphModel.ts).
 *
 * Loading runs the model once on a blank image of the real input size: that gives every layer's output
 * shape (also for models that accept any size) and proves at open time, not in the middle of a scan, that
 * the active backend can run every op. Every failure is a ConvscopeError that names the file and the problem.
 */
import type { LoadedModel } from '../model'
import { readModelFolder } from './fsIOHandler'
import { loadGraphModel } from './graphModel'
import { loadLayersModel } from './layersModel'
import { isOnnxPath, loadOnnxModel } from './onnxModel'

/** Open the model at `dir`: an .onnx file or a folder holding one, a folder with model.json, or the model.json itself. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  if (await isOnnxPath(dir)) return loadOnnxModel(dir)
  const folder = await readModelFolder(dir)
  return folder.format === 'layers' ? loadLayersModel(folder) : loadGraphModel(folder)
}
