import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { Level } from 'level'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { decodeBlock, encodeBlock, encodeSignedTx, sha256 } from '../../src/chain/codec.js'
import { heightKey } from '../../src/chain/local/chain-store.js'
import { LocalLedger } from '../../src/chain/local-ledger.js'
import { runCli, tempDir } from '../helpers/devnet.js'
import { sampleModel } from '../helpers/models.js'

/** A ledger of five blocks: two models, three anchors. */
async function buildLedger (path: string): Promise<void> {
  const ledger = await LocalLedger.open(path, Ed25519Keypair.generate())
  await ledger.registerModel(sampleModel())
  await ledger.registerModel(sampleModel({ version: '2' }))
  for (let i = 0; i < 3; i++) await ledger.anchor({ root: randomBytes(32).toString('hex'), count: 16, bundleBlobId: blobIdFromBytes(randomBytes(32)) })
  await ledger.close()
}

async function tamper (path: string, edit: (db: Level<string, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  await edit(db)
  await db.close()
}

async function verify (path: string): Promise<{ code: number | null, report: any }> {
  const result = await runCli(['ledger', 'verify', '--dir', path])
  return { code: result.code, report: JSON.parse(result.stdout) }
}

describe('herd ledger verify', () => {
  it('passes an untouched chain', async () => {
    await using dir = await tempDir()
    await buildLedger(dir.path)
    const { code, report } = await verify(dir.path)
    assert.equal(code, 0)
    assert.equal(report.valid, true)
    assert.equal(report.blocks, 5)
  })

  it('catches an edited block', async () => {
    await using dir = await tempDir()
    await buildLedger(dir.path)
    await tamper(dir.path, async db => {
      const bytes = Uint8Array.from((await db.get(heightKey(1)))!)
      // A byte inside the model's name: the block still decodes, its signature no longer matches.
      const at = Buffer.from(bytes).indexOf(Buffer.from('tiny-mlp'))
      bytes[at] = 'T'.charCodeAt(0)
      await db.put(heightKey(1), bytes)
    })
    const { code, report } = await verify(dir.path)
    assert.equal(code, 1)
    assert.equal(report.valid, false)
    assert.equal(report.fault.height, 1)
    assert.equal(report.fault.check, 'signature')
  })

  it('catches a forged signature even when the links are rewritten to match', async () => {
    await using dir = await tempDir()
    await buildLedger(dir.path)
    await tamper(dir.path, async db => {
      const tip = decodeBlock((await db.get(heightKey(4)))!)
      const forged = Uint8Array.from(tip.signature)
      forged.set(Ed25519Keypair.generate().getPublicKey().toRawBytes(), 65)
      const bytes = encodeBlock({ height: 4, prevHash: tip.prevHash, time: tip.time, txBytes: encodeSignedTx(tip.body, forged) })
      await db.put(heightKey(4), bytes)
      await db.put('meta/head', new TextEncoder().encode(JSON.stringify({ height: 4, hash: Buffer.from(sha256(bytes)).toString('hex') })))
    })
    const { code, report } = await verify(dir.path)
    assert.equal(code, 1)
    assert.deepEqual([report.fault.height, report.fault.check], [4, 'signature'])
  })

  it('catches a broken link', async () => {
    await using dir = await tempDir()
    await buildLedger(dir.path)
    await tamper(dir.path, async db => {
      const block = decodeBlock((await db.get(heightKey(2)))!)
      await db.put(heightKey(2), encodeBlock({ ...block, prevHash: new Uint8Array(32).fill(7) }))
    })
    const { report } = await verify(dir.path)
    assert.deepEqual([report.fault.height, report.fault.check], [2, 'link'])
  })

  it('catches a truncated store and a gap', async () => {
    await using dir = await tempDir()
    await buildLedger(dir.path)
    await tamper(dir.path, async db => { await db.del(heightKey(4)) })
    const truncated = await verify(dir.path)
    assert.equal(truncated.code, 1)
    assert.equal(truncated.report.fault.check, 'head')
    assert.match(truncated.report.fault.message, /missing/)
    await tamper(dir.path, async db => { await db.del(heightKey(1)) })
    const gap = await verify(dir.path)
    assert.deepEqual([gap.report.fault.height, gap.report.fault.check], [1, 'height'])
  })

  it('leaves the ledger whole when its writer is killed mid-write', { timeout: 60_000 }, async () => {
    await using dir = await tempDir()
    const writer = fileURLToPath(new URL('../helpers/ledger-writer.js', import.meta.url))
    const child = spawn(process.execPath, [writer, dir.path], { stdio: ['ignore', 'pipe', 'inherit'] })
    let acknowledged = -1
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('writer too slow')) }, 30_000)
      createInterface({ input: child.stdout }).on('line', line => {
        acknowledged = Number(line)
        if (acknowledged >= 40 && child.exitCode == null && !child.killed) { clearTimeout(timer); child.kill('SIGKILL') }
      })
      child.on('exit', () => { clearTimeout(timer); resolve() })
    })
    const { code, report } = await verify(dir.path)
    assert.equal(code, 0, JSON.stringify(report))
    assert.ok(report.blocks >= acknowledged + 1, `every acknowledged block survived (${report.blocks} >= ${acknowledged + 1})`)
  })
})
