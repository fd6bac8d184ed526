/**
 * The target flags of `saliency`, `occlusion` and `actmax` (issue 12): one parser, so the three commands take a
 * target alike and refuse a bad one with the same message.
 *
 *   --class C [--score logit|probability]     a class: index, label or class id (classIndexOf)
 *   --unit LAYER:CHANNEL[@max|@mean|@Y,X]     a channel of a layer at its spatial max (default), mean, or one cell
 *   --direction LAYER:FILE.json               a direction: a JSON array of one weight per channel
 */
import { readFile } from 'node:fs/promises'
import { ConvscopeError, Target } from '../../shared/api'
import { classIndexOf } from '../engine/localization/imageMaps'
import type { LoadedModel } from '../engine/model'

/** The flags, to spread into a command's parseArgs options. */
export const targetOptions = {
  class: { type: 'string' },
  score: { type: 'string' },
  unit: { type: 'string' },
  direction: { type: 'string' },
} as const

export const TARGET_USAGE = '--class C [--score logit|probability] | --unit LAYER:CHANNEL[@max|@mean|@Y,X] | --direction LAYER:FILE.json'

export interface TargetFlags {
  class?: string
  score?: string
  unit?: string
  direction?: string
}

/** Whether exactly one target flag was given (a command prints its usage otherwise). */
export const hasTarget = (flags: TargetFlags): boolean => [flags.class, flags.unit, flags.direction].filter((v) => v !== undefined).length === 1

/**
 * The Target the flags name. `dataDir` helps a class given by folder name (as `cam --class`). BAD_REQUEST naming
 * the flag when it does not parse; the model checks the rest (engine/targets.ts planTarget).
 */
export async function targetFromFlags(model: LoadedModel, flags: TargetFlags, dataDir?: string): Promise<Target> {
  const given = [flags.class && '--class', flags.unit && '--unit', flags.direction && '--direction'].filter(Boolean)
  if (given.length !== 1) throw new ConvscopeError('BAD_REQUEST', `give one target: ${TARGET_USAGE}${given.length ? ` (got ${given.join(' and ')})` : ''}`)
  if (flags.score !== undefined && flags.class === undefined) throw new ConvscopeError('BAD_REQUEST', '--score applies to --class only')
  if (flags.class !== undefined) {
    const score = flags.score ?? 'logit'
    if (score !== 'logit' && score !== 'probability') throw new ConvscopeError('BAD_REQUEST', `--score must be logit or probability, got "${score}"`)
    return Target.parse({ kind: 'class', class: await classIndexOf(model, flags.class, dataDir ?? ''), score })
  }
  if (flags.unit !== undefined) return Target.parse(parseUnit(flags.unit))
  const [layer, file] = splitLayer(flags.direction!, '--direction', 'LAYER:FILE.json')
  let vector: unknown
  try {
    vector = JSON.parse(await readFile(file, 'utf8'))
  } catch (e) {
    throw new ConvscopeError('BAD_REQUEST', `--direction: ${file} is not a readable JSON file: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (!Array.isArray(vector) || !vector.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new ConvscopeError('BAD_REQUEST', `--direction: ${file} must hold a JSON array of numbers (one weight per channel of ${layer})`)
  }
  return Target.parse({ kind: 'direction', layer, vector })
}

/** "conv_last:12", "conv_last:12@mean", "conv_last:12@3,5" → a unit target (not yet checked against a model). */
export function parseUnit(text: string): Target {
  const [layer, rest] = splitLayer(text, '--unit', 'LAYER:CHANNEL[@max|@mean|@Y,X]')
  const match = /^(\d+)(?:@(max|mean|(\d+),(\d+)))?$/.exec(rest)
  if (!match) throw new ConvscopeError('BAD_REQUEST', `--unit must look like LAYER:CHANNEL[@max|@mean|@Y,X], got "${text}"`)
  const at = match[3] !== undefined ? { y: Number(match[3]), x: Number(match[4]) } : ((match[2] ?? 'max') as 'max' | 'mean')
  return Target.parse({ kind: 'unit', layer, channel: Number(match[1]), at })
}

/** Split at the last ':' (layer names may hold ':' — TF graph tensor names do). */
function splitLayer(text: string, flag: string, form: string): [string, string] {
  const i = text.lastIndexOf(':')
  if (i <= 0 || i === text.length - 1) throw new ConvscopeError('BAD_REQUEST', `${flag} must look like ${form}, got "${text}"`)
  return [text.slice(0, i), text.slice(i + 1)]
}
