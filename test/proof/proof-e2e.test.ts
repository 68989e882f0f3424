import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { request } from 'undici'
import { ApiServer } from '../../src/api/server.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import { tensorsToJson } from '../../src/inference/tensor-codec.js'
import { runCli } from '../helpers/devnet.js'
import { meshForSuite, waitFor } from '../helpers/mesh.js'

/** A bundle budget the small runs fit (4 of them, tensors and all) and a batch of 64 rows does not. */
const BUNDLE_BUDGET = 4096

function input (seed: number, rows = 2): ort.Tensor {
  const data = new Float32Array(rows * 16)
  for (let i = 0; i < data.length; i++) data[i] = Math.cos(seed * 7 + i)
  return new ort.Tensor('float32', data, [rows, 16])
}

async function post (url: string, body: unknown): Promise<{ status: number, json: any }> {
  const response = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.statusCode, json: await response.body.json() }
}

describe('inference proofs end to end: receipts, bundles on Walrus, anchors, herd proof verify', () => {
  const mesh = meshForSuite({
    nodes: 1,
    overrides: { proofs: { batchSize: 4, intervalMs: 500, maxBundleBytes: BUNDLE_BUDGET } },
    setup: async ({ devnet }) => {
      await devnet.publish(syntheticMlp({ inputSize: 16, hiddenSize: 32, outputSize: 4, layers: 2, seed: 11 }), { name: 'mlp', onnx: true })
    }
  })
  let api: ApiServer
  const receipts: any[] = []

  before(async () => {
    api = await mesh.startApi()
  })

  it('gives every inference a receipt signed by the node that ran it, sealed and anchored in batches', async () => {
    const node = mesh.node
    for (let i = 0; i < 5; i++) {
      const { status, json } = await post(`${api.url}/v1/infer`, { model: 'mlp', inputs: tensorsToJson({ x: input(i) }) })
      assert.equal(status, 200, JSON.stringify(json))
      assert.match(json.receipt.id, /^[0-9a-f]{64}$/)
      assert.equal(json.receipt.signer, node.key.toSuiAddress())
      assert.equal(json.receipt.seq, String(i + 1))
      receipts.push(json.receipt)
      // A seal takes every receipt queued when it begins: the fifth waits for the first bundle, so it goes alone, by time.
      if (i === 3) await waitFor('the first 4 receipts to be anchored', async () => (await node.ledger.listAnchors(node.key.toSuiAddress())).length === 1, 30_000, 20)
    }
    await waitFor('every receipt to be sealed', async () => {
      const answers = await Promise.all(receipts.map(async r => (await request(`${api.url}/v1/proofs/${r.id as string}`)).statusCode))
      return answers.every(code => code === 200)
    }, 30_000, 100)
    const anchors = await node.ledger.listAnchors(node.key.toSuiAddress())
    assert.deepEqual(anchors.map(a => a.count).sort(), [1, 4], 'one batch of 4 by count, one of 1 by time')
    const status = node.status().proofs
    assert.equal(status.queued, 0)
    assert.deepEqual([status.refused, status.setAside, status.bundleBudget], [0, 0, BUNDLE_BUDGET], 'nothing refused, nothing set aside')
  })

  it('herd proof verify accepts a real proof, with and without re-execution', async () => {
    const id = receipts[0].id as string
    const plain = await runCli(['proof', 'verify', id, '--api', api.url])
    assert.equal(plain.code, 0, plain.stdout + plain.stderr)
    const result = JSON.parse(plain.stdout)
    assert.equal(result.valid, true)
    for (const check of ['signature', 'merklePath', 'anchored', 'anchoredBySigner', 'bundleHoldsReceipt']) assert.equal(result.checks[check].ok, true, check)
    const again = await runCli(['proof', 'verify', id, '--api', api.url, '--reexecute'])
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.equal(JSON.parse(again.stdout).checks.reexecution.ok, true)
  })

  it('seals a receipt whose tensors are over the bundle budget without them; herd proof verify re-executes it from --inputs', async () => {
    const x = input(9, 64)
    const { status, json } = await post(`${api.url}/v1/infer`, { model: 'mlp', inputs: tensorsToJson({ x }) })
    assert.equal(status, 200, JSON.stringify(json))
    const id = json.receipt.id as string
    await waitFor('the receipt to be sealed', async () => (await request(`${api.url}/v1/proofs/${id}`)).statusCode === 200, 30_000, 100)
    const plain = await runCli(['proof', 'verify', id, '--api', api.url])
    assert.equal(plain.code, 0, plain.stdout + plain.stderr)
    const without = await runCli(['proof', 'verify', id, '--api', api.url, '--reexecute'])
    assert.equal(without.code, 1, without.stdout + without.stderr)
    const result = JSON.parse(without.stdout)
    assert.equal(result.checks.bundleHoldsReceipt.ok, true)
    assert.equal(result.checks.reexecution.ok, false)
    assert.match(result.checks.reexecution.reason, /--inputs/)
    const inputsFile = join(mesh.dir, 'inputs.json')
    await writeFile(inputsFile, JSON.stringify(tensorsToJson({ x })))
    const given = await runCli(['proof', 'verify', id, '--api', api.url, '--reexecute', '--inputs', inputsFile])
    assert.equal(given.code, 0, given.stdout + given.stderr)
    assert.equal(JSON.parse(given.stdout).checks.reexecution.ok, true)
    const otherFile = join(mesh.dir, 'other-inputs.json')
    await writeFile(otherFile, JSON.stringify(tensorsToJson({ x: input(10, 64) })))
    const other = await runCli(['proof', 'verify', id, '--api', api.url, '--reexecute', '--inputs', otherFile])
    assert.equal(other.code, 1)
    assert.match(JSON.parse(other.stdout).checks.reexecution.reason, /inputs given hash to/)
  })

  it('catches a tampered proof file, saying which check failed', async () => {
    const proof = await (await request(`${api.url}/v1/proofs/${receipts[1].id as string}`)).body.json() as any
    const forgedPath = join(mesh.dir, 'forged-path.json')
    const sibling = proof.siblings[0] as string
    await writeFile(forgedPath, JSON.stringify({ ...proof, siblings: [`${sibling[0] === '0' ? '1' : '0'}${sibling.slice(1)}`, ...proof.siblings.slice(1)] }))
    const path = await runCli(['proof', 'verify', forgedPath, '--api', api.url])
    assert.equal(path.code, 1)
    const pathResult = JSON.parse(path.stdout)
    assert.equal(pathResult.valid, false)
    assert.equal(pathResult.checks.merklePath.ok, false)
    assert.equal(pathResult.checks.signature.ok, true)

    const bytes = Buffer.from(proof.signedReceipt, 'base64')
    bytes[bytes.length - 70] = (bytes[bytes.length - 70] as number) ^ 1
    const changed = join(mesh.dir, 'changed.json')
    await writeFile(changed, JSON.stringify({ ...proof, signedReceipt: bytes.toString('base64') }))
    const signature = await runCli(['proof', 'verify', changed, '--api', api.url])
    assert.equal(signature.code, 1)
    assert.equal(JSON.parse(signature.stdout).valid, false)

    const garbage = join(mesh.dir, 'garbage.json')
    await writeFile(garbage, '{"version":1}')
    const bad = await runCli(['proof', 'verify', garbage, '--api', api.url])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /proof/i)
  })

  it('answers for unknown and pending receipts, and refuses malformed IDs', async () => {
    assert.equal((await request(`${api.url}/v1/proofs/${'0'.repeat(64)}`)).statusCode, 404)
    assert.equal((await request(`${api.url}/v1/proofs/not-hex`)).statusCode, 400)
  })
})
