/**
 * Reading a scan back: the top-K entries of one unit, with the image patch each one stands for — the
 * unit's receptive field at the max location (fieldBox), mapped through the input geometry back onto the
 * original image and clipped to it (inputToImage).
 */
import { join } from 'node:path'
import { ConvscopeError, type Preprocessing, type ReceptiveField } from '../../../shared/api'
import { fieldBox } from '../models/receptiveField'
import { inputToImage, planResize, type Box } from '../images/preprocess'
import { readNpy, type NpyArray } from '../store/npy'
import { readManifest, topkFiles, type ScanLayer, type ScanManifest } from './manifest'

export interface TopPatch {
  rank: number
  image: number
  /** Absolute path of the image. */
  path: string
  className: string | null
  value: number
  y: number
  x: number
  /** In original-image pixels (edges: x..x+width), clipped to the image; null without a receptive field or image size. */
  box: Box | null
}

/**
 * The receptive field of unit position (y, x) as a box in original-image pixels. Field bounds are inclusive
 * pixel centres (receptiveField.ts), boxes are pixel edges (preprocess.ts): the field clipped to the model
 * input covers [left, right + 1) × [top, bottom + 1).
 */
export function patchBox(rf: ReceptiveField, y: number, x: number, pre: Pick<Preprocessing, 'inputSize' | 'resize'>, imageWidth: number, imageHeight: number): Box | null {
  const [H, W] = pre.inputSize
  const field = fieldBox(rf, y, x, [H, W])
  if (!field) return null
  const geometry = planResize(imageWidth, imageHeight, pre).geometry
  const inInput: Box = { x: field.left, y: field.top, width: field.right - field.left + 1, height: field.bottom - field.top + 1 }
  return inputToImage(geometry, inInput)
}

/** A layer's top-K arrays of a scan, read once for as many units as asked (the overview reads 16). */
export interface LayerTopK {
  manifest: ScanManifest
  layer: ScanLayer
  values: NpyArray
  images: NpyArray
  yx: NpyArray
}

export async function readLayerTopK(dir: string, layer: string): Promise<LayerTopK> {
  const manifest = await readManifest(dir)
  const info = manifest.layers.find((l) => l.name === layer)
  if (!info) throw new ConvscopeError('BAD_REQUEST', `the scan has no layer "${layer}" (it has ${manifest.layers.map((l) => l.name).join(', ')})`)
  const f = topkFiles(info.file)
  const [values, images, yx] = await Promise.all([readNpy(join(dir, f.values)), readNpy(join(dir, f.images)), readNpy(join(dir, f.yx))])
  return { manifest, layer: info, values, images, yx }
}

/** The top entries of `unit`, with boxes through the preprocessing the scan used. */
export function unitPatches(scan: LayerTopK, unit: number): TopPatch[] {
  const { manifest, layer: info, values, images, yx } = scan
  if (!Number.isInteger(unit) || unit < 0 || unit >= info.units) throw new ConvscopeError('BAD_REQUEST', `layer ${info.name} has units 0…${info.units - 1}, not ${unit}`)
  const k = manifest.k
  const pre = manifest.model.preprocessing
  const patches: TopPatch[] = []
  for (let j = 0; j < k; j++) {
    const p = unit * k + j
    const image = images.data[p]!
    if (image < 0) break
    const y = yx.data[2 * p]!
    const x = yx.data[2 * p + 1]!
    const entry = manifest.images[image]!
    const box =
      info.receptiveField && entry.width != null && entry.height != null ? patchBox(info.receptiveField, y, x, pre, entry.width, entry.height) : null
    patches.push({ rank: j + 1, image, path: join(manifest.dataset.root, entry.path), className: entry.className, value: values.data[p]!, y, x, box })
  }
  return patches
}

/** The top entries of `unit` of `layer` in the scan in `dir`. */
export async function topPatches(dir: string, layer: string, unit: number): Promise<{ manifest: ScanManifest; patches: TopPatch[] }> {
  const scan = await readLayerTopK(dir, layer)
  return { manifest: scan.manifest, patches: unitPatches(scan, unit) }
}
