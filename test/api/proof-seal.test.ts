import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import ort from 'onnxruntime-node'
import { request } from 'undici'
import { ApiServer } from '../../src/api/server.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import { tensorsToJson } from '../../src/inference/tensor-codec.js'
import { runCli } from '../helpers/devnet.js'
import { meshForSuite } from '../helpers/mesh.js'

function input (seed: number): ort.Tensor {
  const data = new Float32Array(16)
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed * 5 + i)
  return new ort.Tensor('float32', data, [1, 16])
}

async function proofStatus (api: string, receiptId: string): Promise<number> {
  return (await request(`${api}/v1/proofs/${receiptId}`)).statusCode
}

// As on testnet and mainnet: nothing seals by count or by interval within the test, only when asked.
describe('herd proof seal: every receipt answered, sealed when the operator asks', () => {
  const mesh = meshForSuite({
    nodes: 1,
    overrides: { proofs: { batchSize: 65_536, intervalMs: 3_600_000 } },
    setup: async ({ devnet }) => {
      await devnet.publish(syntheticMlp({ inputSize: 16, hiddenSize: 16, outputSize: 4, layers: 2, seed: 5 }), { name: 'mlp', onnx: true })
    }
  })
  let api: ApiServer

  before(async () => {
    api = await mesh.startApi()
  })

  it('refuses a wait out of range, then seals and anchors what was queued and prints it', async () => {
    for (const wait of ['601', '-1', 'soon']) {
      const response = await request(`${api.url}/v1/proofs/seal?wait=${wait}`, { method: 'POST' })
      assert.equal(response.statusCode, 400, `wait=${wait}`)
      assert.match(((await response.body.json()) as { error: { message: string } }).error.message, /wait is whole seconds/)
    }
    const badFlag = await runCli(['proof', 'seal', '--api', api.url, '--wait', '700'])
    assert.notEqual(badFlag.code, 0)
    assert.match(badFlag.stderr, /--wait must be from 0 to 600/)

    const receipts: string[] = []
    for (let i = 0; i < 3; i++) {
      const response = await request(`${api.url}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mlp', inputs: tensorsToJson({ x: input(i) }) }) })
      assert.equal(response.statusCode, 200)
      receipts.push(((await response.body.json()) as { receipt: { id: string } }).receipt.id)
    }
    for (const id of receipts) assert.equal(await proofStatus(api.url, id), 202, 'queued: no batch is full and the interval is an hour')
    // A client told to come back when the batch is sealed at the latest: within the hour.
    const pending = await request(`${api.url}/v1/proofs/${receipts[0] as string}`)
    const body = await pending.body.json() as { state: string, sealedBy?: number }
    assert.equal(body.state, 'queued')
    assert.ok(body.sealedBy != null && body.sealedBy > Date.now() && body.sealedBy <= Date.now() + 3_600_000, `sealedBy ${body.sealedBy}`)
    const retryAfter = Number(pending.headers['retry-after'])
    assert.ok(retryAfter > 3_500 && retryAfter <= 3_600, `Retry-After ${retryAfter} s`)
    const early = await runCli(['proof', 'verify', receipts[0] as string, '--api', api.url])
    assert.notEqual(early.code, 0)
    assert.match(early.stderr, /not anchored yet; the node seals it by \S+Z at the latest \(herd proof seal: now\)/)

    const sealed = await runCli(['proof', 'seal', '--api', api.url, '--wait', '60'])
    assert.equal(sealed.code, 0, sealed.stderr)
    assert.deepEqual(JSON.parse(sealed.stdout), { sealed: true, queued: 0 })
    for (const id of receipts) assert.equal(await proofStatus(api.url, id), 200, 'anchored when the command returned')
    const anchors = await mesh.node.ledger.listAnchors(mesh.node.key.toSuiAddress())
    assert.deepEqual(anchors.map(a => a.count), [3], 'one bundle of the three')

    const again = await request(`${api.url}/v1/proofs/seal?wait=1`, { method: 'POST' })
    assert.equal(again.statusCode, 200, 'nothing queued: sealed at once')
    assert.deepEqual(await again.body.json(), { sealed: true, queued: 0 })
  })

  it('answers 202 when the wait ends first, and refuses more than 4 sealings at once', async () => {
    // Every Walrus write takes 1.5 s: the sealings asked for below are still on their way when the fifth comes.
    mesh.devnet.walrus.setShaping({ latencyMs: 1_500 })
    try {
      const response = await request(`${api.url}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mlp', inputs: tensorsToJson({ x: input(9) }) }) })
      assert.equal(response.statusCode, 200)
      await response.body.dump()
      for (let i = 0; i < 4; i++) {
        const waiting = await request(`${api.url}/v1/proofs/seal?wait=0`, { method: 'POST' })
        assert.equal(waiting.statusCode, 202, `request ${i + 1}`)
        assert.equal(((await waiting.body.json()) as { sealed: boolean }).sealed, false)
      }
      const refused = await request(`${api.url}/v1/proofs/seal?wait=0`, { method: 'POST' })
      assert.equal(refused.statusCode, 429)
      assert.match(((await refused.body.json()) as { error: { message: string } }).error.message, /4 seal requests are waiting already/)
    } finally {
      mesh.devnet.walrus.setShaping({ latencyMs: 0 })
    }
    // A caller refused retries: taken again once the sealings asked for end (each write 1.5 s).
    let sealed = await request(`${api.url}/v1/proofs/seal?wait=60`, { method: 'POST' })
    for (let i = 0; i < 300 && sealed.statusCode === 429; i++) {
      await sealed.body.dump()
      await sleep(100)
      sealed = await request(`${api.url}/v1/proofs/seal?wait=60`, { method: 'POST' })
    }
    assert.equal(sealed.statusCode, 200, 'taken again once the sealings ended')
    assert.deepEqual(await sealed.body.json(), { sealed: true, queued: 0 })
  })
})
