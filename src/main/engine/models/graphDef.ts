/**
 * Reading the JSON form of a TensorFlow GraphDef (the modelTopology of a tfjs graph model): node lists,
 * attributes (strings are base64, integers are decimal strings) and input references ("name:1", "^ctrl").
 */
import { ConvscopeError } from '../../../shared/api'

export interface TensorShapeJSON {
  dim?: { size?: string | number }[]
  unknownRank?: boolean
}

export interface AttrValueJSON {
  s?: string
  i?: string | number
  f?: number
  b?: boolean
  type?: string
  shape?: TensorShapeJSON
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; b?: boolean[]; type?: string[] }
  tensor?: { dtype?: string; tensorShape?: TensorShapeJSON }
}

export interface NodeDefJSON {
  name: string
  op: string
  input?: string[]
  attr?: Record<string, AttrValueJSON>
  device?: string
}

export interface GraphDefJSON {
  node: NodeDefJSON[]
  library?: unknown
  versions?: unknown
}

/** Node name of an input reference: drops a leading '^' (control input) and a ':k' output index. */
export function nodeNameOf(ref: string): string {
  const name = ref.startsWith('^') ? ref.slice(1) : ref
  const colon = name.lastIndexOf(':')
  return colon > 0 && /^\d+$/.test(name.slice(colon + 1)) ? name.slice(0, colon) : name
}

const isControlInput = (ref: string): boolean => ref.startsWith('^')

/** Data inputs of a node, as node names. */
export function dataInputs(node: NodeDefJSON): string[] {
  return (node.input ?? []).filter((r) => !isControlInput(r)).map(nodeNameOf)
}

export function attrString(node: NodeDefJSON, name: string): string | undefined {
  const s = node.attr?.[name]?.s
  return s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8')
}

export function attrStrings(node: NodeDefJSON, name: string): string[] | undefined {
  return node.attr?.[name]?.list?.s?.map((s) => Buffer.from(s, 'base64').toString('utf8'))
}

export function attrInts(node: NodeDefJSON, name: string): number[] | undefined {
  return node.attr?.[name]?.list?.i?.map((v) => Number(v))
}

/** Check the node list is a graph: unique names, and every input names an existing node. */
export function checkGraph(topology: unknown, file: string): GraphDefJSON {
  const graph = topology as GraphDefJSON
  if (!graph || !Array.isArray(graph.node)) throw new ConvscopeError('BAD_MODEL', `${file}: modelTopology has no GraphDef node list`)
  const names = new Set<string>()
  for (const node of graph.node) {
    if (typeof node?.name !== 'string' || typeof node.op !== 'string') {
      throw new ConvscopeError('BAD_MODEL', `${file}: a graph node lacks a name or an op`)
    }
    if (names.has(node.name)) throw new ConvscopeError('BAD_MODEL', `${file}: two graph nodes are named "${node.name}"`)
    names.add(node.name)
  }
  for (const node of graph.node) {
    for (const ref of node.input ?? []) {
      if (!names.has(nodeNameOf(ref))) throw new ConvscopeError('BAD_MODEL', `${file}: node "${node.name}" reads "${ref}", which is not in the graph`)
    }
  }
  return graph
}

/** Nodes in an order where every node comes after its inputs (GraphDefs usually are, but need not be). */
export function topologicalOrder(graph: GraphDefJSON): NodeDefJSON[] {
  const byName = new Map(graph.node.map((n) => [n.name, n]))
  const done = new Set<string>()
  const order: NodeDefJSON[] = []
  for (const root of graph.node) {
    if (done.has(root.name)) continue
    // Iterative DFS: deep graphs (ResNet-152 has thousands of nodes) would overflow a recursive one.
    const stack: [NodeDefJSON, number][] = [[root, 0]]
    const onStack = new Set([root.name])
    while (stack.length) {
      const top = stack[stack.length - 1]!
      const [node, i] = top
      const inputs = (node.input ?? []).map(nodeNameOf)
      if (i < inputs.length) {
        top[1]++
        const next = byName.get(inputs[i]!)
        if (next && !done.has(next.name) && !onStack.has(next.name)) {
          stack.push([next, 0])
          onStack.add(next.name)
        }
      } else {
        stack.pop()
        onStack.delete(node.name)
        done.add(node.name)
        order.push(node)
      }
    }
  }
  return order
}
