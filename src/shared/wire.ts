/**
 * JSON text encoding for the WebSocket transport that keeps Float32Array values intact.
 * (Electron IPC and the engine channel use structured clone and need none of this.)
 * A Float32Array becomes {"$f32": "<base64 of its little-endian bytes>"}.
 */

const TAG = '$f32'

/** Node's Buffer where it exists (fast base64); the window falls back to btoa/atob. Typed here so the window's type check needs no Node types. */
const NodeBuffer = (globalThis as { Buffer?: { from(data: ArrayBufferLike | string, offsetOrEncoding?: number | 'base64', length?: number): Uint8Array & { toString(encoding: 'base64'): string } } }).Buffer

function bytesToBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  let s = ''
  const chunk = 0x8000
  for (let i = 0; i < bytes.length; i += chunk) s += String.fromCharCode(...bytes.subarray(i, i + chunk))
  return btoa(s)
}

function base64ToBytes(b64: string): Uint8Array {
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(b64, 'base64'))
  const s = atob(b64)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

export function encodeMessage(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v instanceof Float32Array) return { [TAG]: bytesToBase64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) }
    return v
  })
}

export function decodeMessage(text: string): unknown {
  return JSON.parse(text, (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof v[TAG] === 'string' && Object.keys(v).length === 1) {
      const bytes = base64ToBytes(v[TAG])
      // copy into a fresh, aligned buffer
      const out = new Float32Array(bytes.byteLength / 4)
      new Uint8Array(out.buffer).set(bytes)
      return out
    }
    return v
  })
}
