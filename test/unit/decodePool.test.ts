/**
 * Decode threads (datasets/decodePool.ts): the same inputs, facts and skip reasons as decodeImage /
 * decodeCodeImage in this thread, answers matched to their calls, threads gone after close, a pool of 0 in-thread.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Preprocessing } from '../../src/shared/api'
import { runDatasetLoop, Skip } from '../../src/main/engine/datasets/datasetLoop'
import { decodeImage } from '../../src/main/engine/datasets/decodeImage'
import { decodeCodeImage } from '../../src/main/engine/codes/codeBatch'
import {
  acquireDecodePool,
  closeSharedDecodePool,
  DecodePool,
  decodeThreads,
  imageDecoders,
  MIN_IMAGES_FOR_DECODE_THREADS,
  releaseDecodePool,
} from '../../src/main/engine/datasets/decodePool'
import sharp from 'sharp'
import { makeOddImages } from '../fixtures/images'
import { seededRandom } from '../fixtures/models'

const PHOTOS = fileURLToPath(new URL('../fixtures/preprocessing/', import.meta.url))
const stretch: Preprocessing = { inputSize: [64, 64], resize: 'stretch', channelOrder: 'RGB', range: [0, 1], mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3], labels: null }
const PRES: Preprocessing[] = [
  stretch,
  { ...stretch, inputSize: [32, 48], resize: 'center-crop', channelOrder: 'BGR', range: [0, 255] },
  { ...stretch, resize: 'pad' },
  { ...stretch, inputSize: [56, 56], resize: 'shorter-side', resizeSize: 64, interpolation: 'bilinear' },
]

let dir: string
let files: string[]
let pool: DecodePool

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convscope-decodepool-'))
  const odd = await makeOddImages(join(dir, 'odd'))
  // 128² JPEGs like the demo data set's (their 2× shrink is the JS resize), from seeded noise.
  const rand = seededRandom(11)
  const demo = await Promise.all(
    Array.from({ length: 4 }, async (_, i) => {
      const file = join(dir, `demo${i}.jpg`)
      await sharp(Buffer.alloc(128 * 128 * 3).map(() => Math.floor(rand() * 256)), { raw: { width: 128, height: 128, channels: 3 } }).jpeg({ quality: 90 }).toFile(file)
      return file
    }),
  )
  files = [...Object.values(odd).map((o) => o.path), ...readdirSync(PHOTOS).map((f) => join(PHOTOS, f)), ...demo]
  pool = new DecodePool(2)
})

after(async () => {
  await pool?.close()
  await closeSharedDecodePool()
  await rm(dir, { recursive: true, force: true })
})

/**
 * One call at a time: the reference answers. (Concurrent sharp calls that fail on the same truncated file can
 * lose libvips' message, "could not be decoded: Unknown error", in this thread as on a decode thread.)
 */
async function inTurn<T>(list: readonly string[], f: (path: string) => Promise<T>): Promise<T[]> {
  const out: T[] = []
  for (const path of list) out.push(await f(path))
  return out
}

/**
 * libvips keeps one error buffer for the process: a truncated JPEG failing while other images decode may say
 * "could not be decoded: Unknown error" instead of its own message, in this thread as on a decode thread (today's
 * in-thread loop decodes a batch at once too). Both mean the decode failed; everything else must match exactly.
 */
const reasonOf = (reason: string) => reason.replace(/ (is truncated or corrupt \(.*\)|could not be decoded: Unknown error)$/, ' failed to decode')

/** A decoder's answer as comparable plain values (typed arrays as byte strings). */
function plain(value: unknown): unknown {
  if (value instanceof Skip) return { skip: reasonOf(value.reason) }
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  return value
}

test('a decode thread answers what decodeImage answers here, byte for byte, skips with the same reasons, in call order', async () => {
  for (const pre of PRES) {
    const threaded = await Promise.all(files.map((f) => pool.decode('image', f, pre)))
    const here = await inTurn(files, (f) => decodeImage(f, pre))
    assert.equal(threaded.filter((r) => r instanceof Skip).length >= 5, true, 'the odd fixtures include unreadable files')
    threaded.forEach((r, i) => assert.deepEqual(plain(r), plain(here[i]), `${files[i]} (${pre.resize})`))
    const first = threaded.find((r) => !(r instanceof Skip))
    assert.ok(first && !(first instanceof Skip) && first.input.data instanceof Float32Array && first.input.rgb instanceof Uint8Array)
  }
})

test("a codes run's decode (input + thumbnail) is the same on a thread", async () => {
  const threaded = await Promise.all(files.map((f) => pool.decode('codeImage', f, stretch)))
  const here = await inTurn(files, (f) => decodeCodeImage(f, stretch))
  threaded.forEach((r, i) => assert.deepEqual(plain(r), plain(here[i]), files[i]))
})

test('the dataset loop over decode threads: the same batches, skips and order as in-thread; cancel stops it', async () => {
  const items = Array.from({ length: 3 * files.length }, (_, i) => files[i % files.length]!)
  const pass = async (decode: (p: string) => Promise<unknown>, signal?: AbortSignal) => {
    const seen: unknown[] = []
    const skipped = await runDatasetLoop({
      items,
      load: (p) => decode(p) as Promise<object | Skip>,
      compute: async ({ start, loaded }) => void seen.push(start, ...loaded.map((e) => [e.item, plain(e.loaded)])),
      pathOf: (p) => p,
      batchSize: 4,
      signal,
    })
    return { seen, skipped: skipped.map((s) => ({ ...s, reason: reasonOf(s.reason) })) }
  }
  const threaded = await pass((p) => pool.decode('image', p, stretch))
  const here = await pass((p) => decodeImage(p, stretch))
  assert.deepEqual(threaded, here)
  const abort = new AbortController()
  abort.abort()
  await assert.rejects(pass((p) => pool.decode('image', p, stretch), abort.signal), { code: 'CANCELLED' })
})

test('imageDecoders: in this thread below the size threshold or with CONVSCOPE_DECODE_THREADS=0, else the shared pool', async () => {
  assert.equal(decodeThreads({ CONVSCOPE_DECODE_THREADS: '0' }, 8), 0)
  assert.equal(decodeThreads({}, 1), 0)
  assert.equal(decodeThreads({}, 2), 1)
  assert.equal(decodeThreads({}, 64), 8)
  assert.equal(decodeThreads({ CONVSCOPE_WORKER_DECODE_THREADS: '1' }, 8), 1) // a scan worker's share
  assert.equal(decodeThreads({ CONVSCOPE_WORKER_DECODE_THREADS: '1', CONVSCOPE_DECODE_THREADS: '3' }, 8), 3)
  assert.equal(imageDecoders(10, { CONVSCOPE_WORKER_DECODE_THREADS: '1' }).threads, 0) // a share is not a request: small passes stay here
  assert.throws(() => decodeThreads({ CONVSCOPE_DECODE_THREADS: '-1' }, 2), /CONVSCOPE_DECODE_THREADS/)
  const zero = imageDecoders(10_000, { CONVSCOPE_DECODE_THREADS: '0' })
  assert.equal(zero.threads, 0)
  assert.equal(zero.image, decodeImage)
  const small = imageDecoders(MIN_IMAGES_FOR_DECODE_THREADS - 1, {})
  assert.equal(small.threads, 0)
  const asked = imageDecoders(1, { CONVSCOPE_DECODE_THREADS: '1' }) // asked for: threads whatever the size
  assert.equal(asked.threads, 1)
  asked.release()
  const big = imageDecoders(MIN_IMAGES_FOR_DECODE_THREADS, {})
  assert.equal(big.threads, decodeThreads({}))
  if (big.threads > 0) {
    assert.deepEqual(plain(await big.image(files.at(-1)!, stretch)), plain(await decodeImage(files.at(-1)!, stretch)))
    assert.ok(big.busyMs() > 0)
  }
  big.release()
  // The shared pool is kept for the next pass, and replaced when the size changes.
  const again = acquireDecodePool(1)
  assert.equal(again, acquireDecodePool(1))
  releaseDecodePool(again)
  assert.equal(again.usable, true)
  const other = acquireDecodePool(2)
  assert.notEqual(other, again)
  releaseDecodePool(again) // its last user: closed
  releaseDecodePool(other)
  await closeSharedDecodePool()
  assert.equal(other.usable, false)
  assert.equal(again.usable, false)
})

test('close stops every thread and fails calls after it', async () => {
  const tasks = () => (process.platform === 'linux' ? readdirSync('/proc/self/task').length : 0)
  const p = new DecodePool(3)
  await Promise.all(Array.from({ length: 6 }, () => p.decode('image', files.at(-1)!, stretch)))
  const running = tasks()
  const pending = Promise.allSettled([p.decode('image', files.at(-1)!, stretch)])
  await p.close()
  // Failed by the close, unless its answer came first.
  const [settled] = await pending
  if (settled.status === 'rejected') assert.equal((settled.reason as { code?: string }).code, 'INTERNAL')
  await assert.rejects(p.decode('image', files.at(-1)!, stretch), /closed/)
  // The three threads are gone (libvips and libuv keep the threads they grew for the threads' decodes).
  if (process.platform === 'linux') assert.ok(tasks() <= running - 3, `${running} threads before close, ${tasks()} after`)
})
