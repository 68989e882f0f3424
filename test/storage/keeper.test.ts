import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import type { BlobId } from '../../src/blob/blob-id.js'
import { StorageKeeper, type StorageKeeperComponents, type StorageKeeperInit, type StorageWarning } from '../../src/storage/keeper.js'
import { StorageTracker } from '../../src/storage/tracker.js'
import { InsufficientWalError } from '../../src/walrus/errors.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import type { LocalWalrus } from '../../src/walrus/local/server.js'
import { startLocalWalrus, tempDir } from '../helpers/devnet.js'

const CHILD = fileURLToPath(new URL('./renew-child.js', import.meta.url))
/** 1 s epochs and a renewal window of 3: a check may be late by seconds on a loaded machine and still be in time. */
/** Bounds on waiting for epochs to pass on a loaded machine: far past what the tests need. */
const WAIT_STEPS = 1200
const STEP_MS = 50

async function until (what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < WAIT_STEPS && !done(); i++) await sleep(STEP_MS)
  assert.ok(done(), what)
}

interface Rig {
  walrus: LocalWalrus
  http: WalrusHttpClient
  key: Ed25519Keypair
  tracker: StorageTracker
  keeper: (init?: StorageKeeperInit, extra?: Partial<StorageKeeperComponents>) => StorageKeeper
  put: (epochs: number, options?: { owner?: string, share?: boolean }) => Promise<{ blobId: BlobId, endEpoch: number, size: number }>
  close: () => Promise<void>
}

async function rig (dir: string, epochMs: number): Promise<Rig> {
  const walrus = await startLocalWalrus(join(dir, 'walrus'), { epochMs })
  const key = Ed25519Keypair.generate()
  const http = new WalrusHttpClient({ publisher: walrus.url, aggregator: walrus.url, signer: key, retryBaseDelayMs: 5, retryMaxDelayMs: 20 })
  const tracker = new StorageTracker(join(dir, 'tracker'))
  await tracker.open()
  const keepers: StorageKeeper[] = []
  return {
    walrus,
    http,
    key,
    tracker,
    keeper: (init = {}, extra = {}) => {
      const keeper = new StorageKeeper({ tracker, walrus: http, address: key.toSuiAddress(), ...extra }, { checkIntervalMs: 100, renewWithinEpochs: 3, extendEpochs: 6, ...init })
      keepers.push(keeper)
      return keeper
    },
    put: async (epochs, options = {}) => {
      const bytes = randomBytes(1000 + Math.floor(Math.random() * 1000))
      const stored = await http.putBytes(bytes, { epochs, ...(options.share === true ? { share: true } : { sendObjectTo: options.owner ?? key.toSuiAddress() }) })
      return { blobId: stored.blobId, endEpoch: stored.endEpoch!, size: bytes.length }
    },
    close: async () => {
      await Promise.all(keepers.map(async k => k.stop()))
      await tracker.close()
      await http.close()
      await walrus.stop()
    }
  }
}

describe('storage keeper', () => {
  it('keeps a pushed model, its chunk hashes and a pinned blob alive for ten epochs, and warns of a pin it cannot extend', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, 1000)
    try {
      // The keeper runs before the writes, which can take epochs on a loaded machine; it learns of each as the node would.
      const models: Array<{ blobId: BlobId, size: number, chunkHashesBlobId: BlobId, name: string, version: string }> = []
      const pins: Array<{ blobId: BlobId, size: number }> = []
      const warnings: StorageWarning[] = []
      const keeper = r.keeper({ registrySyncMs: 0 }, { ownModels: async () => models, pinned: () => pins, onWarning: w => { warnings.push(w) } })
      keeper.start()
      // Five epochs, fewer than the ten the test waits: only renewal keeps them. Writes can take a few epochs here.
      const model = await r.put(5)
      const hashes = await r.put(5)
      models.push({ blobId: model.blobId, size: model.size, chunkHashesBlobId: hashes.blobId, name: 'm', version: '1' })
      const pin = await r.put(5)
      const stranger = Ed25519Keypair.generate().toSuiAddress()
      const foreign = await r.put(5, { owner: stranger })
      pins.push({ blobId: pin.blobId, size: pin.size }, { blobId: foreign.blobId, size: foreign.size })
      const start = r.walrus.currentEpoch()
      // Ahead of its end epoch, the pin it cannot extend is counted (and logged) as such.
      await until('the foreign pin is warned about', () => keeper.status().cannotExtend === 1)
      assert.equal(r.walrus.stats.expired, 0, 'warned before it expired')
      await until('ten epochs passed', () => r.walrus.currentEpoch() >= start + 10)
      await until('the foreign pin expired', () => r.walrus.stats.expired >= 1)
      for (const blob of [model, hashes, pin]) assert.equal((await r.http.readRange(blob.blobId, { start: 0, end: 9 })).length, 10, 'still served')
      assert.equal(r.walrus.stats.expired, 1, 'only the pin owned by someone else expired')
      const status = keeper.status()
      assert.ok(status.renewed >= 3, `renewed ${status.renewed}`)
      assert.equal(status.expired, 1, 'the lost pin is reported')
      const listed = new Map(keeper.list().map(b => [b.blobId, b]))
      assert.equal(listed.get(model.blobId)?.kind, 'model')
      assert.equal(listed.get(hashes.blobId)?.kind, 'chunk-hashes')
      assert.equal(listed.get(pin.blobId)?.kind, 'pin')
      assert.equal(listed.get(foreign.blobId)?.canExtend, false)
      assert.equal(listed.get(foreign.blobId)?.owner, stranger)
      assert.equal(listed.get(foreign.blobId)?.state, 'expired')
      assert.ok((listed.get(pin.blobId)?.endEpoch ?? 0) > r.walrus.currentEpoch())
      // What the operator hears (herd start's warning lines): the foreign pin, once as not extendable and once lost.
      assert.deepEqual(warnings.map(w => [w.kind, w.blobId]), [['not-extendable', foreign.blobId], ['lost', foreign.blobId]])
    } finally {
      await r.close()
    }
  })

  it('keeps a shared blob alive from a node that only pins it, with no key of its writer', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, 1000)
    const anyone = new WalrusHttpClient({ publisher: r.walrus.url, aggregator: r.walrus.url, retryBaseDelayMs: 5, retryMaxDelayMs: 20 })
    try {
      const blob = await r.put(4, { share: true })
      const keeper = r.keeper({}, { walrus: anyone, address: Ed25519Keypair.generate().toSuiAddress(), pinned: () => [{ blobId: blob.blobId, size: blob.size }] })
      keeper.start()
      await until('two epochs past its first end', () => r.walrus.currentEpoch() >= blob.endEpoch + 2)
      assert.equal((await anyone.readRange(blob.blobId, { start: 0, end: 9 })).length, 10, 'still served')
      assert.ok(keeper.status().renewed >= 1)
      assert.equal(keeper.list()[0]?.canExtend, true)
    } finally {
      await anyone.close()
      await r.close()
    }
  })

  it('sees a pin it cannot extend renewed by its owner, and does not report it lost', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, 1000)
    try {
      const owner = Ed25519Keypair.generate()
      const blob = await r.put(3, { owner: owner.toSuiAddress() })
      const keeper = r.keeper({}, { pinned: () => [{ blobId: blob.blobId, size: blob.size }] })
      await keeper.check({ signal: AbortSignal.timeout(30_000) })
      assert.deepEqual([keeper.list()[0]?.endEpoch, keeper.list()[0]?.canExtend], [blob.endEpoch, false])
      // Its owner, not this node, extends it.
      const theirs = new WalrusHttpClient({ publisher: r.walrus.url, aggregator: r.walrus.url, signer: owner })
      try {
        await theirs.extend({ blobId: blob.blobId, currentEndEpoch: blob.endEpoch, endEpoch: blob.endEpoch + 20 })
      } finally {
        await theirs.close()
      }
      await until('the first end epoch passed', () => r.walrus.currentEpoch() >= blob.endEpoch)
      await keeper.check({ signal: AbortSignal.timeout(30_000) })
      const listed = keeper.list()[0]
      assert.equal(listed?.state, 'active', 'not lost: Walrus still serves it')
      assert.equal(listed?.endEpoch, blob.endEpoch + 20)
      assert.equal(keeper.status().expired, 0)
      assert.equal(keeper.status().cannotExtend, 0, 'no longer within the window')
    } finally {
      await r.close()
    }
  })

  it('lets a bundle past its retention expire, and an unpinned blob, without reporting a loss', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, 1000)
    try {
      const bundle = await r.put(2)
      const pin = await r.put(2)
      let pinned = [{ blobId: pin.blobId, size: pin.size }]
      const keeper = r.keeper({ bundleRetentionMs: 1 }, { pinned: () => pinned })
      await keeper.track(bundle.blobId, 'bundle', { holds: 'proof bundle of 3 receipts', endEpoch: bundle.endEpoch })
      await keeper.check({ signal: AbortSignal.timeout(30_000) })
      assert.equal(keeper.list().find(b => b.blobId === pin.blobId)?.state, 'active')
      pinned = []
      keeper.start()
      await until('both expired on Walrus', () => r.walrus.stats.expired >= 2)
      const states = new Map(keeper.list().map(b => [b.blobId, b.state]))
      assert.equal(states.get(bundle.blobId), 'stopped')
      assert.equal(states.get(pin.blobId), 'stopped')
      assert.equal(keeper.status().expired, 0)
      assert.equal((await r.http.lifetime(bundle.blobId))?.endEpoch, bundle.endEpoch, 'the bundle was never extended')
    } finally {
      await r.close()
    }
  })

  it('reports a blob lost while the node was stopped, on restart', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, 1000)
    try {
      const model = await r.put(1)
      const first = r.keeper()
      await first.track(model.blobId, 'model', { holds: 'model lost@1', endEpoch: model.endEpoch, owner: r.key.toSuiAddress(), size: model.size })
      // The node is down: no check runs while the blob's last epoch passes.
      await until('expired on Walrus', () => r.walrus.stats.expired >= 1)
      await r.tracker.close()
      const tracker = new StorageTracker(join(dir.path, 'tracker'))
      await tracker.open()
      const again = new StorageKeeper({ tracker, walrus: r.http, address: r.key.toSuiAddress() })
      await again.check({ signal: AbortSignal.timeout(30_000) })
      assert.equal(again.status().expired, 1)
      assert.equal(again.list()[0]?.state, 'expired')
      assert.equal(again.list()[0]?.holds, 'model lost@1')
      await tracker.close()
    } finally {
      await r.close()
    }
  })

  it('stops extending when the spending ceiling of the epoch is reached, and says so', async () => {
    await using dir = await tempDir()
    // Long epochs: both blobs are due in the same epoch, which does not end during the test.
    const r = await rig(dir.path, 600_000)
    try {
      const a = await r.put(1)
      const b = await r.put(1)
      const keeper = r.keeper({ maxSpendPerEpochFrost: 1 })
      await keeper.track(a.blobId, 'model', { holds: 'model a@1' })
      await keeper.track(b.blobId, 'model', { holds: 'model b@1' })
      await keeper.check({ signal: AbortSignal.timeout(30_000) })
      await keeper.check({ signal: AbortSignal.timeout(30_000) })
      assert.equal(r.walrus.stats.extensions, 1, 'one extension, then the ceiling')
      const status = keeper.status()
      assert.equal(status.renewed, 1)
      assert.equal(status.ceilingReached, true)
      assert.ok(status.spentThisEpoch > 0)
    } finally {
      await r.close()
    }
  })

  it('backs off a blob whose extension failed for want of WAL, and hands the error to the funds reporting', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, 600_000)
    try {
      const blob = await r.put(1)
      let tries = 0
      const told: Error[] = []
      const walrus = {
        epoch: r.http.epoch.bind(r.http),
        lifetime: r.http.lifetime.bind(r.http),
        extend: async () => { tries++; throw new InsufficientWalError(r.key.toSuiAddress(), 'testnet') }
      }
      const keeper = r.keeper({}, { walrus, onFailure: err => { told.push(err) } })
      await keeper.track(blob.blobId, 'model', { holds: 'model poor@1' })
      for (let i = 0; i < 3; i++) await keeper.check({ signal: AbortSignal.timeout(30_000) })
      assert.equal(tries, 1, 'the next try waits out the backoff')
      assert.deepEqual(told.map(e => e.name), ['InsufficientWalError'])
      assert.equal(keeper.status().failing, 1)
      assert.match(keeper.list()[0]?.lastError ?? '', /^InsufficientWalError/)
    } finally {
      await r.close()
    }
  })

  it('retries an extension cut by a crash without paying for it twice', async () => {
    await using dir = await tempDir()
    const r = await rig(dir.path, 600_000)
    try {
      const blob = await r.put(1)
      await r.keeper().track(blob.blobId, 'model', { holds: 'model crash@1' })
      await r.tracker.close()
      const child = spawn(process.execPath, [CHILD, JSON.stringify({ trackerDir: join(dir.path, 'tracker'), walrusUrl: r.walrus.url, secretKey: r.key.getSecretKey() })], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
      const signal = await new Promise<NodeJS.Signals | null>(resolve => child.on('exit', (_code, s) => { resolve(s) }))
      clearTimeout(timer)
      assert.equal(signal, 'SIGKILL', `the child died mid-renewal (it printed ${out})`)
      assert.equal(r.walrus.stats.extensions, 1)

      const tracker = new StorageTracker(join(dir.path, 'tracker'))
      await tracker.open()
      const cut = tracker.get(blob.blobId)
      assert.ok(cut?.intent != null, 'the intent survived the crash, the result did not')
      assert.equal(cut.endEpoch, blob.endEpoch)
      const keeper = new StorageKeeper({ tracker, walrus: r.http, address: r.key.toSuiAddress() }, { renewWithinEpochs: 2, extendEpochs: 5 })
      await keeper.check({ signal: AbortSignal.timeout(30_000) })
      assert.equal(r.walrus.stats.extensions, 1, 'the retry did not extend again')
      const after = tracker.get(blob.blobId)
      assert.equal(after?.intent, undefined)
      assert.equal(after?.endEpoch, cut.intent.to)
      assert.equal((await r.http.lifetime(blob.blobId))?.endEpoch, cut.intent.to)
      await tracker.close()
    } finally {
      await r.close()
    }
  })
})
