/**
 * Served mode's access rule follows from the contract (issue 9, item 4): the router walks every method's
 * params schema for `LocalPath`s and refuses, with FORBIDDEN, any that lies outside the opened folders, before
 * an engine sees the call. The test walks the whole table, so a method added later is covered without an edit.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { z } from 'zod'
import { LocalPath, methods, OpenedPath, type MethodName, type ResponseEnvelope } from '../../src/shared/api'
import { AllowedRoots } from '../../src/main/host/access'
import type { EngineLanes } from '../../src/main/host/engines'
import { pathSlots, pathValues } from '../../src/main/host/pathParams'
import { Router, type RouterSession } from '../../src/main/host/router'
import { sample } from '../fixtures/schemaSample'

const methodNames = Object.keys(methods) as MethodName[]
const engineMethods = methodNames.filter((m) => methods[m].where !== 'shell')
const localSlots = (m: MethodName) => pathSlots(methods[m].params).filter((s) => s.kind === 'local')

describe('the access rule walks the contract', () => {
  let dir: string
  let opened: string
  let inside: string
  const outsidePaths: string[] = []
  /** What the fake engine lanes received: a refused call must never get here. */
  const received: { method: string; params: unknown }[] = []
  let session: RouterSession
  let nextId = 1
  const waiting = new Map<number, (r: ResponseEnvelope) => void>()

  before(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'convscope-access-')))
    const workspace = join(dir, 'workspace')
    opened = join(dir, 'opened')
    const outside = join(dir, 'outside')
    await Promise.all([mkdir(workspace), mkdir(opened), mkdir(outside)])
    inside = join(opened, 'inside.png')
    await writeFile(inside, 'x')
    await writeFile(join(outside, 'secret.png'), 'x')
    await symlink(join(outside, 'secret.png'), join(opened, 'link-to-secret.png'))
    outsidePaths.push(
      join(outside, 'secret.png'),
      `${opened}/../outside/secret.png`, // dot-dot out of an opened folder
      join(opened, 'link-to-secret.png'), // a symlink inside pointing outside
      join(outside, 'missing.png'), // existence outside is not revealed
    )
    const roots = await AllowedRoots.create(workspace)
    await roots.add(opened)
    const lanes = {
      async request(method: string, params: unknown) {
        received.push({ method, params })
        return { dir: opened, root: opened }
      },
    }
    const router = new Router({ engines: lanes as unknown as EngineLanes, roots, shell: { shell: 'served', workspace } })
    session = router.session((message) => {
      if (message.kind === 'response') waiting.get(message.id)?.(message)
    })
  })

  after(async () => {
    session.close()
    await rm(dir, { recursive: true, force: true })
  })

  function call(method: MethodName, params: unknown): Promise<ResponseEnvelope> {
    const id = nextId++
    const answer = new Promise<ResponseEnvelope>((resolve) => waiting.set(id, resolve))
    session.dispatch({ kind: 'request', id, method, params })
    return answer
  }

  test('the walk finds the path parameters of known methods (so it cannot silently find nothing)', () => {
    const slots = (m: MethodName) => pathSlots(methods[m].params).map((s) => `${s.kind} ${s.at}`)
    assert.deepEqual(slots('getActivations'), ['local image'])
    assert.deepEqual(slots('startScan'), ['local dataDir'])
    assert.deepEqual(slots('getTopPatches'), ['local scanDir'])
    assert.deepEqual(slots('getClassMaps'), ['local image', 'local dataDir', 'local annotations'])
    assert.deepEqual(slots('startLocalization'), ['local dataDir', 'local annotations'])
    assert.deepEqual(slots('getClassFolders'), ['local dataDir'])
    assert.deepEqual(slots('openModel'), ['opened path'])
    assert.deepEqual(slots('openImageFolder'), ['opened path'])
    assert.deepEqual(slots('listRecentModels'), [])
    assert.ok(methodNames.reduce((n, m) => n + localSlots(m).length, 0) >= 11)
  })

  test('the walk finds paths inside arrays, optionals, defaults, unions and described copies', () => {
    const schema = z.object({
      images: z.array(LocalPath),
      folder: LocalPath.describe('a folder').optional(),
      fallback: LocalPath.default(LocalPath.parse('/default')),
      either: z.union([z.number(), z.object({ file: LocalPath.min(2) })]),
      open: OpenedPath,
      name: z.string(),
    })
    const parsed = schema.parse({ images: ['/a', '/b'], folder: '/c', either: { file: '/d' }, open: '/e', name: '/not-a-path' })
    assert.deepEqual(
      pathValues(schema, parsed).map((p) => `${p.kind} ${p.at} ${p.path}`),
      ['local images[0] /a', 'local images[1] /b', 'local folder /c', 'local fallback /default', 'local either.file /d', 'opened open /e'],
    )
    assert.deepEqual(
      pathSlots(schema).map((s) => s.at),
      ['images[]', 'folder', 'fallback', 'either.file', 'open'],
    )
  })

  for (const method of methodNames) {
    for (const slot of localSlots(method)) {
      test(`${method}: ${slot.at} outside the opened folders is FORBIDDEN and never reaches an engine`, async () => {
        for (const outside of outsidePaths) {
          const params = sample(methods[method].params, (s) => (s.at === slot.at ? outside : inside))
          assert.ok(methods[method].params.safeParse(params).success, `the sampled params of ${method} are valid`)
          const before = received.length
          const answer = await call(method, params)
          assert.equal(answer.ok, false, `${method} with ${slot.at} = ${outside} was answered`)
          if (!answer.ok) assert.equal(answer.error.code, 'FORBIDDEN', `${method} ${slot.at} = ${outside}: ${answer.error.message}`)
          assert.equal(received.length, before, `${method} reached an engine with ${slot.at} = ${outside}`)
        }
      })
    }
  }

  for (const method of engineMethods) {
    test(`${method}: with every path inside the opened folders (and opened paths anywhere) it reaches its engine`, async () => {
      const params = sample(methods[method].params, (s) => (s.kind === 'opened' ? outsidePaths[0]! : inside))
      const answer = await call(method, params)
      assert.equal(answer.ok, true, answer.ok ? '' : `${method}: ${answer.error.code} ${answer.error.message}`)
      assert.equal(received.at(-1)?.method, method)
    })
  }

  test('a relative path is a bad request, not a file next to the shell', async () => {
    const answer = await call('getActivations', { modelId: 'm', layer: 'l', image: 'opened/inside.png' })
    assert.equal(answer.ok ? null : answer.error.code, 'BAD_REQUEST')
  })
})
