/**
 * A decode thread (decodePool.ts): reads images into the network's input for the dataset loop, off the thread
 * that runs the forward pass (an onnxruntime-node run holds its thread's event loop). Each request names a
 * decoder of DECODERS and an image; the answer is the decoder's result with its typed arrays transferred, or
 * the Skip's reason: the same function as in-thread decoding runs here, so the bytes and reasons are the same.
 */
import { parentPort } from 'node:worker_threads'
import { Skip } from './datasetLoop'
import { decodeImage } from './decodeImage'
import type { DecodeKind, DecodeReply, DecodeRequest } from './decodePool'

const DECODERS: Record<DecodeKind, (req: DecodeRequest) => Promise<object | Skip>> = {
  image: (req) => decodeImage(req.path, req.preprocessing),
  // Imported when first asked: a codes run's decoder brings its executors along.
  codeImage: async (req) => (await import('../codes/codeBatch')).decodeCodeImage(req.path, req.preprocessing),
}

/** The typed arrays of `value` (walked through plain objects) that own their whole buffer: moved, not copied. */
function transferables(value: unknown, out: ArrayBuffer[] = []): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    const { buffer } = value
    if (buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === buffer.byteLength && !out.includes(buffer)) out.push(buffer)
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const v of Object.values(value)) transferables(v, out)
  }
  return out
}

const port = parentPort
if (!port) throw new Error('decodeWorker.ts runs as a worker thread (decodePool.ts)')
port.on('message', async (req: DecodeRequest) => {
  let reply: DecodeReply
  try {
    const result = await DECODERS[req.kind](req)
    reply = result instanceof Skip ? { id: req.id, skip: result.reason } : { id: req.id, result }
  } catch (e) {
    reply = { id: req.id, error: (e as Error)?.stack ?? String(e) }
  }
  try {
    port.postMessage(reply, 'result' in reply ? transferables(reply.result) : [])
  } catch {
    // A buffer that cannot move (Node marks some untransferable): copied instead.
    port.postMessage(reply)
  }
})
