import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, open, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  decodeNpy,
  encodeNpy,
  float16BitsToFloat32,
  float16ToFloat32,
  float32ToFloat16,
  float32ToFloat16Bits,
  createNpyWriter,
  readNpy,
  readNpyHead,
  readNpyRows,
  writeNpy,
  type NpyArray,
} from '../../src/main/engine/store/npy'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convscope-npy-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const samples = (): Record<string, NpyArray> => ({
  f32: { dtype: 'float32', shape: [2, 3, 4], data: Float32Array.from({ length: 24 }, (_, i) => (i - 7) * 0.375) },
  f16: { dtype: 'float16', shape: [5], data: float32ToFloat16([0, 1, -2.5, 65504, 1e-7]) },
  i32: { dtype: 'int32', shape: [3, 1], data: Int32Array.from([-2147483648, 0, 2147483647]) },
  u8: { dtype: 'uint8', shape: [2, 2, 3], data: Uint8Array.from({ length: 12 }, (_, i) => i * 21) },
  scalar: { dtype: 'float32', shape: [], data: Float32Array.from([3.5]) },
  empty: { dtype: 'int32', shape: [0, 7], data: new Int32Array(0) },
  long: { dtype: 'uint8', shape: [1000000], data: new Uint8Array(1000000).fill(7) },
})

test('header: magic, version 1.0, data aligned to 64 bytes, ends with a newline', () => {
  for (const [name, a] of Object.entries(samples())) {
    const buf = encodeNpy(a)
    assert.deepEqual([...buf.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], name)
    const start = 10 + buf.readUInt16LE(8)
    assert.equal(start % 64, 0, name)
    assert.equal(buf[start - 1], 0x0a, name)
    assert.equal(buf.length - start, a.data.byteLength, name)
  }
})

test('round trip through encode / decode and through files', async () => {
  for (const [name, a] of Object.entries(samples())) {
    assert.deepEqual(decodeNpy(encodeNpy(a)), a, name)
    const path = join(dir, `${name}.npy`)
    await writeNpy(path, a)
    assert.deepEqual(await readNpy(path), a, name)
  }
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), [], 'no temporary files left')
})

test('shape and data must agree', () => {
  assert.throws(() => encodeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }), /holds 4 values/)
})

test('float16 conversion: exact values, rounding to nearest even, overflow, subnormals', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up to Inf
    [1e6, 0x7c00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie → even (0)
    [3 * 2 ** -25, 0x0002], // tie → even (2)
    [2 ** -14, 0x0400], // smallest normal
    [1 + 2 ** -11, 0x3c00], // tie → even
    [1 + 3 * 2 ** -11, 0x3c02],
    [Infinity, 0x7c00],
  ]
  for (const [v, bits] of cases) assert.equal(float32ToFloat16Bits(v), bits, `${v}`)
  assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN))))
  for (let bits = 0; bits < 0x7c00; bits += 7) assert.equal(float32ToFloat16Bits(float16BitsToFloat32(bits)), bits)
  assert.deepEqual(Array.from(float16ToFloat32(Uint16Array.from([0x3c00, 0xc000, 0x0001]))), [1, -2, 2 ** -24])
})

test('a .npy written block by block equals writeNpy\'s file; its head and rows read without loading it', async () => {
  const shape = [7, 5]
  const data = float32ToFloat16(Array.from({ length: 35 }, (_, i) => i * 0.25 - 3))
  await writeNpy(join(dir, 'whole.npy'), { dtype: 'float16', shape, data })
  const path = join(dir, 'blocks.npy')
  const writer = await createNpyWriter(path, 'float16', shape)
  const bytes = new Uint8Array(data.buffer)
  for (const [from, to] of [[0, 3], [3, 4], [4, 7]]) await writer.write(bytes.subarray(from! * 10, to! * 10))
  await assert.rejects(stat(path), 'nothing at the path before commit')
  await writer.commit()
  assert.ok((await readFile(path)).equals(await readFile(join(dir, 'whole.npy'))))
  const fh = await open(path)
  try {
    const head = await readNpyHead(fh)
    assert.deepEqual([head.dtype, head.shape, head.dataOffset], ['float16', shape, 128])
    const rows = await readNpyRows(fh, head.dataOffset, 10, 2, 3)
    assert.deepEqual(Array.from(new Uint16Array(rows.buffer, rows.byteOffset, 15)), Array.from(data.subarray(10, 25)))
    await assert.rejects(readNpyRows(fh, head.dataOffset, 10, 6, 2), /short/)
  } finally {
    await fh.close()
  }
  const short = await createNpyWriter(join(dir, 'short.npy'), 'float16', shape)
  await short.write(bytes.subarray(0, 20))
  await assert.rejects(short.commit(), /got 20 data bytes, shape \[7, 5\] needs 70/)
  await short.abort()
  assert.deepEqual((await readdir(dir)).filter((n) => n.includes('short')), [], 'abort leaves no file')
})

const python = spawnSync('python3', ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' })
const numpyMissing = python.status === 0 ? false : 'python3 with numpy is not installed'

test('numpy loads our files, and our files equal numpy.save bytes for bytes', { skip: numpyMissing }, async () => {
  const arrays = samples()
  for (const [name, a] of Object.entries(arrays)) await writeNpy(join(dir, `${name}.npy`), a)
  const script = `
import json, sys, io, numpy as np
d = sys.argv[1]
want = json.loads(sys.argv[2])
for name, (dtype, shape, values) in want.items():
    a = np.load(f"{d}/{name}.npy")
    assert a.dtype == np.dtype(dtype), (name, a.dtype)
    assert list(a.shape) == shape, (name, a.shape)
    assert a.flatten().tolist() == values, name
    buf = io.BytesIO(); np.save(buf, np.array(values, dtype=dtype).reshape(shape))
    assert buf.getvalue() == open(f"{d}/{name}.npy", "rb").read(), name + ": bytes differ from numpy.save"
print("ok")
`
  const want = Object.fromEntries(
    Object.entries(arrays)
      .filter(([name]) => name !== 'long')
      .map(([name, a]) => [name, [a.dtype, a.shape, Array.from(a.dtype === 'float16' ? float16ToFloat32(a.data) : a.data)]]),
  )
  const r = spawnSync('python3', ['-c', script, dir, JSON.stringify(want)], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'ok')
})

test('we read what numpy.save writes', { skip: numpyMissing }, async () => {
  const script = `
import sys, numpy as np
d = sys.argv[1]
np.save(f"{d}/py_f32.npy", np.arange(12, dtype=np.float32).reshape(3, 4) / 8)
np.save(f"{d}/py_f16.npy", np.array([0.5, -1.25, 1000], dtype=np.float16))
np.save(f"{d}/py_i32.npy", np.array([[1, -2], [3, -4]], dtype=np.int32))
np.save(f"{d}/py_u8.npy", np.array([255, 0, 9], dtype=np.uint8))
`
  const r = spawnSync('python3', ['-c', script, dir], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const f32 = await readNpy(join(dir, 'py_f32.npy'))
  assert.deepEqual([f32.dtype, f32.shape, Array.from(f32.data)], ['float32', [3, 4], Array.from({ length: 12 }, (_, i) => i / 8)])
  const f16 = await readNpy(join(dir, 'py_f16.npy'))
  assert.equal(f16.dtype, 'float16')
  assert.deepEqual(Array.from(float16ToFloat32(f16.data as Uint16Array)), [0.5, -1.25, 1000])
  const i32 = await readNpy(join(dir, 'py_i32.npy'))
  assert.deepEqual([i32.shape, Array.from(i32.data)], [[2, 2], [1, -2, 3, -4]])
  const u8 = decodeNpy(await readFile(join(dir, 'py_u8.npy')))
  assert.deepEqual([u8.dtype, Array.from(u8.data)], ['uint8', [255, 0, 9]])
})
