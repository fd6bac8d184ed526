/**
 * An ONNX graph under construction (issue 11): nodes, initializers and fresh tensor names, encoded to ModelProto
 * bytes with the project's protobufjs descriptor (models/onnx/proto.ts). Float weights go in as raw little-endian
 * bytes; integer constants (shapes, axes, pads) as int64, the type every ONNX shape input takes.
 */
import { ModelProtoType } from '../../models/onnx/proto'

/** ONNX opset of the written models: Squeeze / Unsqueeze / ReduceSum / Split take axes as inputs, the other reductions as attributes. */
export const OPSET = 13
/** IR version of ONNX 1.12's descriptor (models/onnx/proto.ts). */
const IR_VERSION = 8

const FLOAT = 1
const INT64 = 7

/** A node attribute, tagged with its ONNX type (an integer-valued float stays a float). */
export type Attr = { f: number } | { i: number } | { ints: readonly number[] } | { floats: readonly number[] } | { s: string } | { t: ConstTensor }
export const int = (i: number): Attr => ({ i })
export const float = (f: number): Attr => ({ f })
export const ints = (v: readonly number[]): Attr => ({ ints: v })
export const str = (s: string): Attr => ({ s })

/** A constant tensor's values: float32 or int64 (given as numbers). */
export interface ConstTensor {
  dtype: 'float32' | 'int64'
  dims: readonly number[]
  values: Float32Array | readonly number[]
}

interface NodeObj {
  op_type: string
  input: string[]
  output: string[]
  name: string
  attribute: object[]
}

/** A dimension of the graph input: a size, or a name for a dynamic one ('batch', 'height'). */
export type InputDim = number | string

function tensorObj(name: string, t: ConstTensor): object {
  if (t.dtype === 'float32') {
    const data = t.values instanceof Float32Array ? t.values : Float32Array.from(t.values)
    return { name, dims: [...t.dims], data_type: FLOAT, raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
  }
  return { name, dims: [...t.dims], data_type: INT64, int64_data: Array.from(t.values) }
}

function attributeObj(name: string, a: Attr): object {
  if ('f' in a) return { name, type: 1, f: a.f }
  if ('i' in a) return { name, type: 2, i: a.i }
  if ('s' in a) return { name, type: 3, s: new TextEncoder().encode(a.s) }
  if ('t' in a) return { name, type: 4, t: tensorObj('', a.t) }
  if ('floats' in a) return { name, type: 6, floats: [...a.floats] }
  return { name, type: 7, ints: [...a.ints] }
}

export class OnnxBuilder {
  private readonly nodes: NodeObj[] = []
  private readonly initializers: object[] = []
  /** Every tensor name in use (reserved names included): fresh names avoid them. */
  private readonly used = new Set<string>()
  /** tensor → index of the node producing it. */
  private readonly producer = new Map<string, number>()
  private readonly memo = new Map<string, string>()

  /** `reserved`: names the graph will use later (its tensors), so fresh names never take them. */
  constructor(reserved: Iterable<string> = []) {
    for (const n of reserved) this.used.add(n)
  }

  /** A tensor name not yet used, from `base`. */
  fresh(base: string): string {
    let name = base
    for (let k = 1; this.used.has(name); k++) name = `${base}__${k}`
    this.used.add(name)
    return name
  }

  /** How many nodes were added so far (a translator's nodes are those after its start). */
  get size(): number {
    return this.nodes.length
  }

  /** Add a node; returns its `outputs` (count) fresh output names, named after `base`. */
  node(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, Attr>> = {}, outputs = 1, base = opType): string[] {
    const outs = Array.from({ length: outputs }, () => this.fresh(base))
    const index = this.nodes.length
    this.nodes.push({
      op_type: opType,
      input: [...inputs],
      output: outs,
      name: this.fresh(`${base}#node`),
      attribute: Object.entries(attrs).map(([k, v]) => attributeObj(k, v)),
    })
    for (const o of outs) this.producer.set(o, index)
    return outs
  }

  /** A one-output node. */
  op(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, Attr>> = {}, base = opType): string {
    return this.node(opType, inputs, attrs, 1, base)[0]!
  }

  /** An initializer named `name` exactly (a graph tensor), or a fresh one from `base` when `exact` is false. */
  constant(name: string, t: ConstTensor, exact = false): string {
    const n = exact ? name : this.fresh(name)
    if (exact) this.used.add(n)
    this.initializers.push(tensorObj(n, t))
    return n
  }

  floats(base: string, values: Float32Array | readonly number[], dims: readonly number[]): string {
    return this.constant(base, { dtype: 'float32', dims, values: values instanceof Float32Array ? values : Float32Array.from(values) })
  }

  /** A float scalar (shared by value). */
  scalar(value: number): string {
    return this.memoized(`scalar:${value}`, () => this.floats('scalar', [value], []))
  }

  /** A 1-D int64 constant (shared by value): shapes, axes, pads. */
  int64s(values: readonly number[]): string {
    return this.memoized(`ints:${values.join(',')}`, () => this.constant('ints', { dtype: 'int64', dims: [values.length], values }))
  }

  /** `make()` once per key (a transpose of the same tensor, a constant of the same value). */
  memoized(key: string, make: () => string): string {
    let v = this.memo.get(key)
    if (v === undefined) this.memo.set(key, (v = make()))
    return v
  }

  /** NHWC → NCHW, once per tensor. */
  toNchw(x: string): string {
    return this.memoized(`nchw:${x}`, () => this.op('Transpose', [x], { perm: ints([0, 3, 1, 2]) }, `${x}__nchw`))
  }

  /** NCHW → NHWC. */
  toNhwc(x: string): string {
    return this.op('Transpose', [x], { perm: ints([0, 2, 3, 1]) }, `${x}__nhwc`)
  }

  /** Whether a node added since `since` produces `tensor`. */
  producedSince(tensor: string, since: number): boolean {
    const i = this.producer.get(tensor)
    return i !== undefined && i >= since
  }

  /**
   * Rename `from` (made by a node added since `since`) to `to`, in the nodes since then: a translator's last
   * result takes the graph tensor's name, so requested layers are graph outputs under the names the model uses.
   */
  rename(from: string, to: string, since: number): void {
    this.used.add(to)
    for (let i = since; i < this.nodes.length; i++) {
      const n = this.nodes[i]!
      n.input = n.input.map((t) => (t === from ? to : t))
      n.output = n.output.map((t) => (t === from ? to : t))
    }
    const p = this.producer.get(from)
    this.producer.delete(from)
    if (p !== undefined) this.producer.set(to, p)
    for (const [k, v] of this.memo) if (v === from) this.memo.set(k, to)
  }

  /** The ModelProto bytes with one float input (dims) and float outputs (dims where known: null is an unknown size). */
  encode(input: { name: string; dims: readonly InputDim[] }, outputs: readonly { name: string; dims: readonly (InputDim | null)[] | null }[], graphName: string): Uint8Array {
    const dim = (d: InputDim | null) => (typeof d === 'number' ? { dim_value: d } : d === null ? {} : { dim_param: d })
    const model = {
      ir_version: IR_VERSION,
      producer_name: 'convscope',
      opset_import: [{ domain: '', version: OPSET }],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: [{ name: input.name, type: { tensor_type: { elem_type: FLOAT, shape: { dim: input.dims.map(dim) } } } }],
        output: outputs.map((o) => ({ name: o.name, type: { tensor_type: { elem_type: FLOAT, ...(o.dims ? { shape: { dim: o.dims.map(dim) } } : {}) } } })),
      },
    }
    return ModelProtoType.encode(ModelProtoType.fromObject(model)).finish()
  }
}
