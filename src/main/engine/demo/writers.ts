/**
 * Files of the demo dataset: PASCAL VOC / ILSVRC-style annotation XML and the ImageNet-style class index
 * (written with store/writeFileAtomic.ts, so an interrupted generation never leaves a half-written file).
 */
import type { DemoClass } from './classes'
import type { SceneObject } from './scene'

export const BOX_CONVENTION =
  'bndbox = tight box of the object mask (pixels with coverage >= 0.5), as 0-based inclusive pixel indices: ' +
  'xmin/xmax are the first/last mask column, ymin/ymax the first/last mask row; width = xmax - xmin + 1. ' +
  '(PASCAL VOC files use 1-based indices; add 1 to compare with them.)'

export const MASK_CONVENTION = '8-bit single-channel PNG, same size as the image: 0 = background, k = object k (1-based, the order of <object> elements)'

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export interface AnnotationInput {
  folder: string
  filename: string
  width: number
  height: number
  objects: readonly SceneObject[]
  classes: readonly DemoClass[]
}

/** One annotation file in the VOC / ILSVRC layout, one <object> per object in mask-id order. */
export function annotationXml(a: AnnotationInput): string {
  const lines = [
    '<annotation>',
    `\t<!-- ${BOX_CONVENTION} -->`,
    `\t<folder>${escapeXml(a.folder)}</folder>`,
    `\t<filename>${escapeXml(a.filename)}</filename>`,
    '\t<source>',
    '\t\t<database>convscope demo dataset</database>',
    '\t</source>',
    '\t<size>',
    `\t\t<width>${a.width}</width>`,
    `\t\t<height>${a.height}</height>`,
    '\t\t<depth>3</depth>',
    '\t</size>',
    '\t<segmented>1</segmented>',
  ]
  for (const o of a.objects) {
    const cls = a.classes[o.classIndex]
    if (!cls) throw new Error(`unknown class index ${o.classIndex}`)
    lines.push(
      '\t<object>',
      `\t\t<name>${escapeXml(cls.id)}</name>`,
      `\t\t<label>${escapeXml(cls.name)}</label>`,
      `\t\t<mask_id>${o.maskId}</mask_id>`,
      '\t\t<pose>Unspecified</pose>',
      `\t\t<truncated>${o.truncated ? 1 : 0}</truncated>`,
      '\t\t<difficult>0</difficult>',
      '\t\t<bndbox>',
      `\t\t\t<xmin>${o.box.xmin}</xmin>`,
      `\t\t\t<ymin>${o.box.ymin}</ymin>`,
      `\t\t\t<xmax>${o.box.xmax}</xmax>`,
      `\t\t\t<ymax>${o.box.ymax}</ymax>`,
      '\t\t</bndbox>',
      '\t</object>',
    )
  }
  lines.push('</annotation>', '')
  return lines.join('\n')
}

/** `classes.json` in the layout of ImageNet's imagenet_class_index.json: {"0": [id, name], ...}. */
export function classIndexJson(classes: readonly DemoClass[]): string {
  const index: Record<string, [string, string]> = {}
  classes.forEach((c, i) => {
    index[String(i)] = [c.id, c.name]
  })
  return `${JSON.stringify(index, null, 2)}\n`
}

/** `labels.txt`: one human name per line, in class order. */
export function labelsTxt(classes: readonly DemoClass[]): string {
  return classes.map((c) => `${c.name}\n`).join('')
}
