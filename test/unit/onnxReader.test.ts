/**
 * The ONNX reader (src/main/engine/models/onnx): fixtures written by scripts/onnx/makeFixtures.py (Debian
 * python3-onnx 1.12), with the initializer values it wrote in test/fixtures/onnx/expected.json; a 16 MB model
 * written here with protobufjs checks that opening reads no weights.
 */
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ConvscopeError } from '../../src/shared/api/errors'
import { type OnnxModel, readOnnxModel, tensorData, tensorInts } from '../../src/main/engine/models/onnx'
import { ModelProtoType } from '../../src/main/engine/models/onnx/proto'

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'onnx')
type Expected = Record<string, Record<string, { dims: number[]; values: number[] }>>
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8')) as Expected

function checkTinyCnn(m: OnnxModel, values: Expected[string]): void {
  assert.equal(m.opset, 13)
  assert.deepEqual(m.opsets, { '': 13 })
  assert.equal(m.irVersion, 8)
  assert.deepEqual(m.inputs, [{ name: 'input', elemType: 1, dtype: 'float32', dims: ['batch', 3, 'height', 'width'] }])
  assert.deepEqual(m.outputs, [{ name: 'logits', elemType: 1, dtype: 'float32', dims: ['batch', 3] }])
  assert.deepEqual(
    m.nodes.map((n) => [n.name, n.opType, n.domain]),
    [
      ['conv1', 'Conv', ''],
      ['relu1', 'Relu', ''],
      ['conv2', 'Conv', ''],
      ['gap', 'GlobalAveragePool', ''],
      ['flatten', 'Reshape', ''],
      ['fc', 'Gemm', ''],
    ],
  )
  const [conv1, , conv2, , , fc] = m.nodes
  assert.deepEqual(conv1.inputs, ['input', 'conv1.weight', 'conv1.bias'])
  assert.deepEqual(conv1.outputs, ['c1'])
  assert.deepEqual(conv1.attributes, {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
    strides: [2, 2],
    group: 1,
    dilations: [1, 1],
  })
  assert.deepEqual(conv2.attributes, {
    kernel_shape: [3, 3],
    pads: [0, 1, 2, 1],
    strides: [1, 1],
    group: 4,
    auto_pad: 'NOTSET',
  })
  assert.deepEqual(fc.attributes, { alpha: 1, beta: 1, transB: 1 })

  assert.deepEqual([...m.initializers.keys()].sort(), Object.keys(values).sort())
  for (const [name, want] of Object.entries(values)) {
    const init = m.initializers.get(name)!
    assert.deepEqual(init.dims, want.dims, name)
    assert.equal(init.size, want.values.length, name)
    if (init.dtype === 'int64') {
      assert.deepEqual(tensorInts(init), want.values, name)
      assert.deepEqual([...tensorData(init)], want.values, name)
    } else {
      assert.equal(init.dtype, 'float32')
      const got = tensorData(init)
      assert.ok(got instanceof Float32Array)
      assert.deepEqual([...got], [...Float32Array.from(want.values)], name)
    }
  }
}

test('a conv-relu-gap-gemm net: dynamic dims, nodes, attributes and initializer values', () => {
  const m = readOnnxModel(path.join(DIR, 'tiny_cnn.onnx'))
  checkTinyCnn(m, expected.tiny_cnn)
  assert.equal(m.initializers.get('conv1.bias')!.encoding, 'float_data')
  assert.equal(m.initializers.get('conv1.weight')!.encoding, 'raw')
  // The raw data of conv1.weight sits at its recorded offset in the file.
  const w = m.initializers.get('conv1.weight')!
  const bytes = fs.readFileSync(m.file).subarray(w.offset, w.offset + w.length)
  assert.deepEqual(new Float32Array(new Uint8Array(bytes).buffer), tensorData(w))
})

test('a folder with one .onnx opens that file', () => {
  const m = readOnnxModel(path.join(DIR, 'external'))
  assert.equal(path.basename(m.file), 'model.onnx')
})

test('external data: initializers are located in the file beside the model', () => {
  const m = readOnnxModel(path.join(DIR, 'external', 'model.onnx'))
  checkTinyCnn(m, expected.external)
  for (const init of m.initializers.values()) {
    // onnx's save_as_external_data moves raw_data only: conv1.bias (float_data) stays in the model.
    if (init.name === 'conv1.bias') {
      assert.deepEqual([init.external, init.file, init.encoding], [false, m.file, 'float_data'])
    } else {
      assert.equal(init.external, true, init.name)
      assert.equal(init.file, path.join(DIR, 'external', 'weights.bin'))
    }
  }
})

function refuses(file: string, pattern: RegExp): void {
  assert.throws(
    () => readOnnxModel(path.join(DIR, file)),
    (e: unknown) => {
      assert.ok(e instanceof ConvscopeError)
      assert.equal(e.code, 'BAD_MODEL')
      assert.ok(e.message.includes(path.join(DIR, file)) || e.message.includes(file), e.message)
      assert.match(e.message, pattern)
      return true
    },
  )
}

test('clear BAD_MODEL messages that name the file', () => {
  refuses('not_onnx.onnx', /not an ONNX file/)
  refuses('truncated.onnx', /truncated/)
  refuses('external_missing', /missing external data file 'weights\.bin'/)
  refuses('opset8.onnx', /unsupported opset 8 \(older than the supported 9–21\)/)
  refuses('opset22.onnx', /unsupported opset 22 \(newer than the supported 9–21\)/)
})

test('a missing path is NOT_FOUND; a folder without .onnx is BAD_MODEL', () => {
  assert.throws(() => readOnnxModel(path.join(DIR, 'nope.onnx')), { code: 'NOT_FOUND' })
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-empty-'))
  try {
    assert.throws(() => readOnnxModel(empty), { code: 'BAD_MODEL', message: /no \.onnx file/ })
  } finally {
    fs.rmSync(empty, { recursive: true })
  }
})

test('opening a 16 MB model reads its graph, not its weights; tensorData reads them when asked', () => {
  const n = 4 * 1024 * 1024
  const big = new Float32Array(n)
  for (let i = 0; i < n; i++) big[i] = (i % 1000) * 0.5 - 7
  const bytes = ModelProtoType.encode(
    ModelProtoType.fromObject({
      ir_version: 8,
      opset_import: [{ domain: '', version: 17 }],
      graph: {
        name: 'big',
        node: [{ name: 'mm', op_type: 'MatMul', input: ['x', 'w'], output: ['y'] }],
        initializer: [
          { name: 'w', data_type: 1, dims: [1024, 4096], raw_data: new Uint8Array(big.buffer) },
          { name: 'k', data_type: 7, dims: [2], int64_data: [3, -1] },
        ],
        input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'N' }, { dim_value: 1024 }] } } } }],
        output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
      },
    }),
  ).finish()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-big-'))
  const file = path.join(dir, 'big.onnx')
  fs.writeFileSync(file, bytes)
  try {
    const before = process.memoryUsage()
    const m = readOnnxModel(dir)
    const after = process.memoryUsage()
    assert.ok(m.fileSize > 16 * 1024 * 1024)
    assert.ok(m.indexBytesRead < 256 * 1024, `read ${m.indexBytesRead} bytes to open it`)
    const grown = after.arrayBuffers - before.arrayBuffers + (after.heapUsed - before.heapUsed)
    assert.ok(grown < m.fileSize / 4, `opening grew memory by ${grown} bytes`)
    assert.deepEqual(m.inputs[0].dims, ['N', 1024])
    assert.equal(m.outputs[0].dims, null)
    const w = m.initializers.get('w')!
    assert.deepEqual([w.dims, w.length, w.encoding, w.external], [[1024, 4096], 4 * n, 'raw', false])
    assert.equal(m.initializers.get('k')!.encoding, 'int64_data')
    assert.deepEqual(tensorInts(m.initializers.get('k')!), [3, -1])
    const got = tensorData(w)
    assert.equal(got.length, n)
    for (const i of [0, 1, 999, 1000, 123457, n - 1]) assert.equal(got[i], big[i])
  } finally {
    fs.rmSync(dir, { recursive: true })
  }
})

test('external data outside the model folder, or shorter than its length, is refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-ext-'))
  const write = (location: string, length: number) => {
    const bytes = ModelProtoType.encode(
      ModelProtoType.fromObject({
        ir_version: 8,
        opset_import: [{ domain: '', version: 11 }],
        graph: {
          name: 'g',
          initializer: [
            {
              name: 'w',
              data_type: 1,
              dims: [4],
              data_location: 1,
              external_data: [
                { key: 'location', value: location },
                { key: 'offset', value: '8' },
                { key: 'length', value: String(length) },
              ],
            },
          ],
        },
      }),
    ).finish()
    fs.writeFileSync(path.join(dir, 'm.onnx'), bytes)
  }
  try {
    fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.alloc(24))
    write('w.bin', 16)
    const w = readOnnxModel(dir).initializers.get('w')!
    assert.deepEqual([w.offset, w.length, w.external], [8, 16, true])
    assert.deepEqual([...tensorData(w)], [0, 0, 0, 0])
    write('w.bin', 32)
    assert.throws(() => readOnnxModel(dir), { code: 'BAD_MODEL', message: /'w\.bin' is truncated/ })
    write('../w.bin', 16)
    assert.throws(() => readOnnxModel(dir), { code: 'BAD_MODEL', message: /outside the model's folder/ })
  } finally {
    fs.rmSync(dir, { recursive: true })
  }
})
