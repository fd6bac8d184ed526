/**
 * The paths inside a method's params, found by walking its schema (shared/api/common.ts: `LocalPath`,
 * `OpenedPath`), so that the access rule follows from the contract: a new method, or a path inside an array,
 * an optional or a default, is checked without anyone listing it (router.ts; test/unit/accessContract.test.ts).
 */
import type { z } from 'zod'
import { pathKindOf, type PathKind } from '../../shared/api'

/** A path value in parsed params, with where it sits ("image", "images[2]", "options.dataDir"). */
export interface PathValue {
  kind: PathKind
  at: string
  path: string
}

/** A place in a params schema that takes a path ("annotations", "images[]"). */
export interface PathSlot {
  kind: PathKind
  at: string
}

export type Schema = z.core.$ZodType
/** The fields of zod 4's schema definitions (`schema._zod.def`) that hold inner schemas. */
export interface SchemaDef {
  type: string
  shape?: Record<string, Schema>
  element?: Schema
  items?: Schema[]
  rest?: Schema | null
  innerType?: Schema
  options?: Schema[]
  valueType?: Schema
  in?: Schema
  out?: Schema
  left?: Schema
  right?: Schema
  getter?: () => Schema
}

/** One inner schema: where it sits, and the parts of a value that it describes. */
interface Part {
  schema: Schema
  at: (parent: string, index?: number | string) => string
  values: (value: unknown) => { value: unknown; index?: number | string }[]
}

const same = (value: unknown) => [{ value }]
const here = (parent: string) => parent
const key = (parent: string, name: string) => (parent ? `${parent}.${name}` : name)
/** An element's place: "images[2]" for a value, "images[]" for the schema. */
const element = (parent: string, index?: number | string) => `${parent}[${index ?? ''}]`
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null

/** The inner schemas of a schema; wrappers (optional, default, union, pipe...) describe the same value. */
function parts(schema: Schema): Part[] {
  const def = schema._zod.def as unknown as SchemaDef
  switch (def.type) {
    case 'object':
      return Object.entries(def.shape ?? {}).map(([name, inner]) => ({
        schema: inner,
        at: (parent) => key(parent, name),
        values: (value) => (isRecord(value) ? [{ value: value[name] }] : []),
      }))
    case 'array':
      return [{ schema: def.element!, at: element, values: elements }]
    case 'tuple':
      return [
        ...def.items!.map((item, i): Part => ({ schema: item, at: (parent) => element(parent, i), values: (v) => elements(v).slice(i, i + 1) })),
        ...(def.rest ? [{ schema: def.rest, at: element, values: (v: unknown) => elements(v).slice(def.items!.length) }] : []),
      ]
    case 'record':
      return [{ schema: def.valueType!, at: (parent, k) => key(parent, String(k ?? '*')), values: (v) => (isRecord(v) ? Object.entries(v).map(([k, value]) => ({ value, index: k })) : []) }]
    case 'union':
      return def.options!.map((option) => ({ schema: option, at: here, values: same }))
    case 'intersection':
      return [def.left!, def.right!].map((side) => ({ schema: side, at: here, values: same }))
    case 'pipe':
      return [def.in!, def.out!].map((side) => ({ schema: side, at: here, values: same }))
    case 'lazy':
      return [{ schema: def.getter!(), at: here, values: same }]
    default:
      return def.innerType ? [{ schema: def.innerType, at: here, values: same }] : []
  }
}

function elements(value: unknown): { value: unknown; index: number }[] {
  return Array.isArray(value) ? value.map((v, index) => ({ value: v, index })) : []
}

/** Schemas already on the walk (a lazy schema may contain itself). */
type Seen = Set<Schema>

/** Every path value in `value` (params parsed with `schema`). */
export function pathValues(schema: Schema, value: unknown, at = '', seen: Seen = new Set()): PathValue[] {
  const kind = pathKindOf(schema)
  if (kind) return typeof value === 'string' ? [{ kind, at, path: value }] : []
  if (seen.has(schema)) return []
  const inner = new Set(seen).add(schema)
  const found = parts(schema).flatMap((part) => part.values(value).flatMap((v) => pathValues(part.schema, v.value, part.at(at, v.index), inner)))
  // A union's options or a pipe's two sides can both see the same path: check it once.
  return found.filter((p, i) => found.findIndex((q) => q.at === p.at && q.path === p.path) === i)
}

/** Every place in `schema` that takes a path (array elements as "name[]"), whatever the params hold. */
export function pathSlots(schema: Schema, at = '', seen: Seen = new Set()): PathSlot[] {
  const kind = pathKindOf(schema)
  if (kind) return [{ kind, at }]
  if (seen.has(schema)) return []
  const inner = new Set(seen).add(schema)
  const found = parts(schema).flatMap((part) => pathSlots(part.schema, part.at(at), inner))
  return found.filter((p, i) => found.findIndex((q) => q.at === p.at) === i)
}
