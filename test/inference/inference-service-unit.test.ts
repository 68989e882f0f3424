import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import ort from 'onnxruntime-node'
import { blobIdFromBytes, type BlobId } from '../../src/blob/blob-id.js'
import { NotFoundError } from '../../src/chain/errors.js'
import { InferenceService, type InferenceComponents, type ModelHolder, type RegisteredModel } from '../../src/inference/inference-service.js'
import { MeshHolders } from '../../src/mesh/holders.js'
import { PeerScores } from '../../src/mesh/peer-scores.js'
import { ProviderIndex } from '../../src/mesh/provider-index.js'

const MODEL_BYTES = 100 * 1024 * 1024
const model = (blobId: BlobId, format = 'onnx'): RegisteredModel => ({ blobId, size: MODEL_BYTES, chunkRoot: 'ab'.repeat(32), format, inputs: [] })
const inputs = { x: new ort.Tensor('float32', new Float32Array([1, 2]), [2]) }

/** Fakes of every component, recording what the service asked of them. */
function fakes (init: { held?: boolean, holders?: ModelHolder[], entry?: RegisteredModel | Error }): { components: InferenceComponents, calls: string[], released: () => number } {
  const calls: string[] = []
  let released = 0
  const handle = (path: string) => ({ path, confirmOnDisk: async () => {}, release: () => { released++ } })
  const blobId = init.entry instanceof Error || init.entry == null ? blobIdFromBytes(randomBytes(32)) : init.entry.blobId
  const components: InferenceComponents = {
    selfId: 'self',
    runner: { run: async (id, path) => { calls.push(`run ${path}`); return { outputs: { y: new ort.Tensor('float32', new Float32Array([3]), [1]) }, runMs: 5, blobId: id } as never } },
    registry: { model: async ref => { calls.push(`model ${ref}`); if (init.entry instanceof Error) throw init.entry; return init.entry ?? model(blobId) } },
    blobs: {
      openHeld: async () => { calls.push('openHeld'); return init.held === true ? handle('/held') : undefined },
      open: async () => { calls.push('open'); return handle('/fetched') }
    },
    mesh: { holders: () => init.holders ?? [], rttMs: async () => 1 },
    forward: async (peerId, input) => { calls.push(`forward ${peerId} ${input.model}`); return { outputs: {}, node: peerId, modelBlobId: input.model, runMs: 1, route: 'local' } },
    issueReceipt: async run => { calls.push(`receipt ${run.modelBlobId} ${run.chunkRoot.slice(0, 4)}`); return { bytes: new Uint8Array([1]) } }
  }
  return { components, calls, released: () => released }
}

describe('InferenceService with fakes of its components', () => {
  it('runs a held model here, releasing its file once, and issues the receipt with the registered blob ID', async () => {
    const blobId = blobIdFromBytes(randomBytes(32))
    const { components, calls, released } = fakes({ held: true, entry: model(blobId) })
    const result = await new InferenceService(components).infer({ model: 'det', inputs })
    assert.equal(result.route, 'local')
    assert.deepEqual(calls, ['model det', 'openHeld', 'run /held', `receipt ${blobId} abab`])
    assert.equal(released(), 1)
  })

  it('has the receipt\'s work on the inputs done while the run is on its thread, and hands it to issueReceipt', async () => {
    const { components, calls } = fakes({ held: true })
    const run = components.runner.run
    const ran = Promise.withResolvers<void>()
    components.runner = { run: async (...args) => { calls.push('run started'); await ran.promise; return run(...args) } }
    const prepared = { hashed: 'inputs' }
    components.prepareReceipt = given => { calls.push(`prepare ${given === inputs}`); return prepared }
    let handed: unknown
    const issue = components.issueReceipt
    components.issueReceipt = async receiptRun => { handed = receiptRun.preparedInputs; return issue!(receiptRun) }
    const result = new InferenceService(components).infer({ model: 'det', inputs })
    while (!calls.includes('run started')) await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(calls.slice(-2), ['run started', 'prepare true'], 'prepared once the run is handed over, before it ends')
    ran.resolve()
    assert.equal((await result).route, 'local')
    assert.equal(handed, prepared)
  })

  it('answers BUSY before the registry and the cache when its queue is full and the request may not be forwarded again', async () => {
    const { components, calls } = fakes({ held: true })
    let unblock = (): void => {}
    const blocked = new Promise<void>(resolve => { unblock = resolve })
    const run = components.runner.run
    components.runner = { run: async (...args) => { await blocked; return run(...args) } }
    const service = new InferenceService(components, { concurrency: 1, queueDepth: 0 })
    const first = service.infer({ model: 'det', inputs })
    // Past the registry and the cache, into the run's slot.
    while (!calls.includes('openHeld')) await new Promise(resolve => setImmediate(resolve))
    await new Promise(resolve => setImmediate(resolve))
    const before = calls.length
    await assert.rejects(service.infer({ model: 'det', inputs, hops: 1 }), { name: 'BusyError' })
    assert.deepEqual(calls.slice(before), [], 'no registry lookup, no cache open')
    assert.equal(service.stats.busy, 1)
    unblock()
    assert.equal((await first).route, 'local')
  })

  it('fetches and opens through the blobs component when no holder is worth forwarding to', async () => {
    const { components, calls, released } = fakes({})
    const service = new InferenceService(components)
    const result = await service.infer({ model: 'det', inputs })
    assert.equal(result.route, 'fetched')
    assert.deepEqual(calls.slice(1, 4), ['openHeld', 'open', 'run /fetched'])
    assert.equal(service.stats.fetched, 1)
    assert.equal(released(), 1)
  })

  it('forwards to a warm holder over a cold one that is otherwise closer to idle: the routing warm term applies', async () => {
    const blobId = blobIdFromBytes(randomBytes(32))
    const { components, calls } = fakes({ entry: model(blobId), holders: [{ peerId: 'cold', queue: 0, warm: false }, { peerId: 'warm', queue: 1, warm: true }] })
    const result = await new InferenceService(components).infer({ model: 'det', inputs })
    assert.equal(result.route, 'forwarded')
    assert.ok(calls.includes(`forward warm ${blobId}`), calls.join('; '))
  })

  it('names a model the registry does not know, and refuses one that is not ONNX', async () => {
    const unknown = fakes({ entry: new NotFoundError('no model') })
    await assert.rejects(new InferenceService(unknown.components).infer({ model: 'nope', inputs }), { name: 'UnknownModelError' })
    const other = fakes({ entry: model(blobIdFromBytes(randomBytes(32)), 'gguf') })
    await assert.rejects(new InferenceService(other.components).infer({ model: 'llm', inputs }), (err: Error & { code?: string }) => err.name === 'InferError' && err.code === 'BAD_REQUEST')
    assert.ok(!other.calls.includes('openHeld'), 'nothing is opened for a model that cannot run')
  })
})

describe('MeshHolders', () => {
  it('reports a holder warm from its gossiped load, takes the RTT libp2p measured rather than pinging, and pings a peer not yet measured once for many requests', async () => {
    const [warmPeer, coldPeer] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')]).then(keys => keys.map(k => peerIdFromPrivateKey(k).toString()))
    const blobId = blobIdFromBytes(randomBytes(32))
    const providers = new ProviderIndex()
    providers.set(warmPeer!, blobId, 'holder')
    providers.set(coldPeer!, blobId, 'holder')
    providers.setLoad(warmPeer!, { downloads: 0, uploads: 0, inferQueue: 2, sessionsWarm: 1, warm: [blobId] })
    let pings = 0
    const holders = new MeshHolders({
      providers,
      scores: new PeerScores(),
      connections: peerId => peerId.toString() === warmPeer ? [{ rtt: 7 }, { rtt: 3 }] : [{}],
      ping: async () => { pings++; return 40 }
    })
    const listed = holders.holders(blobId).sort((a, b) => a.peerId.localeCompare(b.peerId))
    assert.deepEqual(listed, [{ peerId: warmPeer, queue: 2, warm: true }, { peerId: coldPeer, queue: 0, warm: false }].sort((a, b) => a.peerId!.localeCompare(b.peerId!)))
    const signal = AbortSignal.timeout(10_000)
    assert.equal(await holders.rttMs(warmPeer!, { signal }), 3)
    assert.equal(pings, 0)
    assert.equal(await holders.rttMs(coldPeer!, { signal }), 40)
    assert.equal(pings, 1)
    // Until libp2p measures the connection (up to its monitor's interval), later requests and concurrent ones reuse that ping.
    assert.deepEqual(await Promise.all([holders.rttMs(coldPeer!, { signal }), holders.rttMs(coldPeer!, { signal })]), [40, 40])
    assert.equal(pings, 1)
  })

  it('pings again after a failed ping, and a caller\'s abort does not end a ping others share', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    let pings = 0
    const holders = new MeshHolders({
      providers: new ProviderIndex(),
      scores: new PeerScores(),
      connections: () => [{}],
      ping: async () => {
        pings++
        if (pings === 1) throw new Error('no route')
        await new Promise(resolve => setTimeout(resolve, 20))
        return 9
      }
    })
    await assert.rejects(holders.rttMs(peer, { signal: AbortSignal.timeout(10_000) }), /no route/)
    const aborted = new AbortController()
    const first = holders.rttMs(peer, { signal: aborted.signal })
    const second = holders.rttMs(peer, { signal: AbortSignal.timeout(10_000) })
    aborted.abort(new Error('caller gone'))
    await assert.rejects(first, /caller gone/)
    assert.equal(await second, 9)
    assert.equal(pings, 2)
  })
})
