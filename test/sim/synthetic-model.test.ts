import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import onnxProto from 'onnx-proto'
import ort from 'onnxruntime-node'
import { readOnnxSignature } from '../../src/inference/model-signature.js'
import { syntheticMlp, syntheticModelOfSize, syntheticShapeOfSize } from '../../sim/synthetic-model.js'
import { tensorFromJson, tensorToProto } from '../../src/inference/tensor-codec.js'

const { onnx } = onnxProto
const KiB = 1024
const MiB = 1024 * KiB

async function runOnce (model: Uint8Array, x: ort.Tensor): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 })
  try {
    const { y } = await session.run({ x })
    assert.ok(y != null)
    return y
  } finally {
    await session.release()
  }
}

function inputOf (batch: number, features: number): ort.Tensor {
  const data = Array.from({ length: batch * features }, (_, i) => Math.sin(i) * 2)
  return tensorFromJson('x', { type: 'float32', dims: [batch, features], data })
}

describe('synthetic models', () => {
  let dir: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herd-synthetic-'))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('makes a ~5 MiB MLP that onnxruntime loads and runs the same way twice', async () => {
    const options = { inputSize: 64, outputSize: 10, layers: 3, seed: 42, targetBytes: 5 * MiB }
    const model = syntheticMlp(options)
    assert.equal(model.length, 5 * MiB)

    await writeFile(join(dir, 'mlp.onnx'), model)
    const signature = await readOnnxSignature(join(dir, 'mlp.onnx'))
    assert.deepEqual(signature.inputs, [{ name: 'x', type: 'float32', shape: ['batch', 64] }])
    assert.deepEqual(signature.outputs, [{ name: 'y', type: 'float32', shape: ['batch', 10] }])

    const x = inputOf(3, 64)
    const first = await runOnce(model, x)
    const second = await runOnce(model, x)
    assert.deepEqual(first.dims, [3, 10])
    assert.deepEqual(tensorToProto('y', first).data, tensorToProto('y', second).data)
    const values = Array.from(first.data as Float32Array)
    assert.ok(values.every(Number.isFinite))
    assert.ok(values.some(v => v !== 0))
  })

  it('gives identical bytes for the same seed, other bytes for another', () => {
    const options = { inputSize: 8, hiddenSize: 32, outputSize: 4, layers: 4, seed: 7 }
    assert.deepEqual(syntheticMlp(options), syntheticMlp({ ...options }))
    const other = syntheticMlp({ ...options, seed: 8 })
    assert.equal(other.length, syntheticMlp(options).length)
    assert.notDeepEqual(other, syntheticMlp(options))
    assert.deepEqual(syntheticModelOfSize(100 * KiB, 3), syntheticModelOfSize(100 * KiB, 3))
  })

  it('is an ONNX IR 8, opset 13 graph of MatMul, Add and Relu', () => {
    const model = onnx.ModelProto.decode(syntheticMlp({ inputSize: 5, hiddenSize: 6, outputSize: 2, layers: 3, seed: 1 }))
    assert.equal(Number(model.irVersion), 8)
    assert.deepEqual(model.opsetImport.map(o => [o.domain ?? '', Number(o.version)]), [['', 13]])
    const graph = model.graph
    assert.ok(graph != null)
    assert.deepEqual((graph.node ?? []).map(n => n.opType), ['MatMul', 'Add', 'Relu', 'MatMul', 'Add', 'Relu', 'MatMul', 'Add'])
    const initializers = graph.initializer ?? []
    assert.deepEqual(initializers.map(t => [t.name, (t.dims ?? []).map(Number)]), [
      ['W0', [5, 6]], ['B0', [6]], ['W1', [6, 6]], ['B1', [6]], ['W2', [6, 2]], ['B2', [2]]
    ])
    for (const t of initializers) {
      assert.equal(t.dataType, onnx.TensorProto.DataType.FLOAT)
      assert.equal(t.rawData?.length, 4 * (t.dims ?? []).map(Number).reduce((a, b) => a * b, 1))
    }
  })

  it('runs a single-layer model too', async () => {
    const y = await runOnce(syntheticMlp({ inputSize: 3, outputSize: 2, layers: 1, seed: 5 }), inputOf(1, 3))
    assert.deepEqual(y.dims, [1, 2])
  })

  it('makes models of exactly the size asked, from under 1 KiB to tens of MiB, that run', async () => {
    for (const size of [900, 10 * KiB, 10 * KiB + 1, 123_457, MiB + 3, 20 * MiB]) {
      const model = syntheticModelOfSize(size, 11)
      assert.equal(model.length, size)
      const { inputSize, outputSize } = syntheticShapeOfSize(size)
      const y = await runOnce(model, inputOf(2, inputSize))
      assert.deepEqual(y.dims, [2, outputSize], `size ${size}`)
    }
  })

  it('hits every byte count exactly, including paddings that straddle a varint boundary', () => {
    for (let size = 900; size < 4000; size++) assert.equal(syntheticModelOfSize(size, 1).length, size)
    for (let size = 16_380; size < 16_400; size++) assert.equal(syntheticModelOfSize(size, 1).length, size)
  })

  it('refuses sizes and shapes it cannot make', () => {
    assert.throws(() => syntheticModelOfSize(100, 1), { name: 'RangeError' })
    assert.throws(() => syntheticMlp({ inputSize: 4, outputSize: 2, layers: 1, seed: 1, targetBytes: MiB }), { name: 'RangeError' })
    assert.throws(() => syntheticMlp({ inputSize: 0, hiddenSize: 4, outputSize: 2, layers: 2, seed: 1 }), { name: 'RangeError' })
    assert.throws(() => syntheticMlp({ inputSize: 4, outputSize: 2, layers: 2, seed: 1 }), { name: 'RangeError' })
    assert.throws(() => syntheticModelOfSize(3 * 1024 * MiB, 1), { name: 'RangeError' })
  })
})
