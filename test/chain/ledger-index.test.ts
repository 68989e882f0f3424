import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { Level } from 'level'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { HttpLedger } from '../../src/chain/http-ledger.js'
import { LedgerServer } from '../../src/chain/local/server.js'
import { verifyChain } from '../../src/chain/local/verify.js'
import { LocalLedger } from '../../src/chain/local-ledger.js'
import type { Ledger } from '../../src/chain/types.js'
import { runCli, tempDir } from '../helpers/devnet.js'
import { sampleModel } from '../helpers/models.js'

type Query = [string, (ledger: Ledger) => Promise<unknown>]
type Outcome = { value: string } | { error: string }

const FORGED_ROOT = 'f'.repeat(64)

/**
 * Models r1@1, r1@2 and r2@1 by one key, one anchor by it and one by a second
 * key: every kind of index the store keeps has at least two entries to swap.
 */
async function buildLedger (path: string): Promise<{ queries: Query[], roots: [string, string], addresses: [string, string] }> {
  const a = Ed25519Keypair.generate()
  const b = Ed25519Keypair.generate()
  const first = await LocalLedger.open(path, a)
  const models = [
    await first.registerModel(sampleModel({ name: 'r1' })),
    await first.registerModel(sampleModel({ name: 'r1', version: '2' })),
    await first.registerModel(sampleModel({ name: 'r2' }))
  ]
  const rootA = randomBytes(32).toString('hex')
  const anchorA = await first.anchor({ root: rootA, count: 3, bundleBlobId: blobIdFromBytes(randomBytes(32)) })
  await first.close()
  const second = await LocalLedger.open(path, b)
  const rootB = randomBytes(32).toString('hex')
  const anchorB = await second.anchor({ root: rootB, count: 5, bundleBlobId: blobIdFromBytes(randomBytes(32)) })
  await second.close()
  const queries: Query[] = [
    ...['r1@1', 'r1@2', 'r1', 'r2', 'r2@1', 'r9@1', ...models.map(m => m.blobId)].map((ref): Query => [`model ${ref}`, async l => l.getModel(ref)]),
    ...[rootA, rootB, anchorA.txId, anchorB.txId].map((key): Query => [`anchor ${key}`, async l => l.getAnchor(key)]),
    ...[a, b].map((key): Query => [`anchors of ${key.toSuiAddress()}`, async l => l.listAnchors(key.toSuiAddress())]),
    ['models', async l => l.listModels()]
  ]
  return { queries, roots: [rootA, rootB], addresses: [a.toSuiAddress(), b.toSuiAddress()] }
}

async function outcomes (ledger: Ledger, queries: Query[]): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>()
  for (const [name, query] of queries) {
    try {
      out.set(name, { value: JSON.stringify(await query(ledger)) })
    } catch (err) {
      out.set(name, { error: (err as Error).name })
    }
  }
  return out
}

/**
 * Every read gives what the untouched ledger gave, or fails with LedgerCorruptError: never forged content.
 * An index entry deleted can only hide its entry: a lookup that finds nothing, a list without it.
 */
function assertNothingForged (got: Map<string, Outcome>, truth: Map<string, Outcome>, what: string, deleted: boolean): void {
  for (const [name, outcome] of got) {
    if ('error' in outcome && outcome.error === 'LedgerCorruptError') continue
    const expected = truth.get(name)!
    if (deleted && 'error' in outcome && outcome.error === 'NotFoundError') continue
    if (deleted && 'value' in outcome && 'value' in expected && outcome.value.startsWith('[')) {
      const all = (JSON.parse(expected.value) as unknown[]).map(e => JSON.stringify(e))
      const some = (JSON.parse(outcome.value) as unknown[]).map(e => JSON.stringify(e))
      assert.deepEqual(some, all.filter(e => some.includes(e)), `${what}: ${name} holds only true entries, in order`)
      continue
    }
    assert.deepEqual(outcome, expected, `${what}: ${name}`)
  }
}

async function withDb (path: string, edit: (db: Level<string, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  try {
    await edit(db)
  } finally {
    await db.close()
  }
}

/** The index entries of the store: every key that is neither a block nor store metadata. */
async function indexKeys (path: string): Promise<Map<string, string[]>> {
  const byKind = new Map<string, string[]>()
  await withDb(path, async db => {
    for await (const key of db.keys()) {
      if (key.startsWith('block/') || key.startsWith('meta/')) continue
      const kind = key.slice(0, key.indexOf('/'))
      byKind.set(kind, [...(byKind.get(kind) ?? []), key])
    }
  })
  return byKind
}

interface Observed { verify: Awaited<ReturnType<typeof verifyChain>>, verifyHttp: Awaited<ReturnType<typeof verifyChain>>, local: Map<string, Outcome>, http: Map<string, Outcome> }

/** What verify reports and what LocalLedger and HttpLedger (through the devnet server) serve from the store at `path`. */
async function observe (path: string, queries: Query[]): Promise<Observed> {
  const ledger = await LocalLedger.open(path)
  const server = new LedgerServer({ store: ledger.store })
  await server.start()
  const client = new HttpLedger({ url: server.url, retries: 0 })
  try {
    return { verify: await verifyChain(ledger.store), verifyHttp: await verifyChain(client), local: await outcomes(ledger, queries), http: await outcomes(client, queries) }
  } finally {
    await client.close()
    await server.stop()
    await ledger.close()
  }
}

describe('ledger indexes', () => {
  it('a rewritten, swapped, added or deleted index entry is reported by verify naming the key, and never changes what is served', { timeout: 120_000 }, async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'ledger')
    const { queries } = await buildLedger(path)
    const clean = await observe(path, queries)
    assert.equal(clean.verify.valid, true, JSON.stringify(clean.verify))
    assert.deepEqual(clean.verifyHttp, clean.verify, 'verify over HTTP sees the same chain and indexes')
    const truth = clean.local
    for (const [name, outcome] of truth) assert.equal('value' in outcome, !name.startsWith('model r9'), `${name} on the untouched ledger`)
    assert.deepEqual(clean.http, truth, 'the HTTP client reads what the store holds')

    const kinds = await indexKeys(path)
    assert.ok(kinds.size >= 5, `the store keeps indexes of models by name@version, by blob ID, anchors by root, by transaction, by address: ${[...kinds.keys()].join(', ')}`)
    const tampers: Array<{ what: string, keys: string[], deletes?: boolean, edit: (db: Level<string, Uint8Array>) => Promise<void> }> = []
    for (const [kind, keys] of kinds) {
      assert.ok(keys.length >= 2, `two entries of ${kind}`)
      const [x, y] = keys as [string, string]
      tampers.push({
        what: `${kind}: values of ${x} and ${y} swapped`,
        keys: [x, y],
        edit: async db => {
          const [vx, vy] = [await db.get(x), await db.get(y)]
          await db.batch([{ type: 'put', key: x, value: vy! }, { type: 'put', key: y, value: vx! }])
        }
      })
    }
    // The forgery the issue reproduced: r1's entry rewritten in place with another chunk root and size.
    const r1 = JSON.parse((truth.get('model r1@1') as { value: string }).value)
    for (const key of ['model/r1/1', `model-blob/${r1.blobId as string}`]) {
      tampers.push({
        what: `${key} rewritten as a forged r1 entry`,
        keys: [key],
        edit: async db => { await db.put(key, new TextEncoder().encode(JSON.stringify({ ...r1, chunkRoot: FORGED_ROOT, size: 12345 }))) }
      })
    }
    const r1Key = kinds.get('model')!.find(k => k.includes('r1'))!
    tampers.push({
      what: 'an entry for a model never registered, copied from r1',
      keys: ['model/r9/1'],
      edit: async db => { await db.put('model/r9/1', (await db.get(r1Key))!) }
    })
    const r2Key = kinds.get('model')!.find(k => k.includes('r2'))!
    tampers.push({ what: `${r2Key} deleted`, keys: [r2Key], deletes: true, edit: async db => { await db.del(r2Key) } })

    for (const tamper of tampers) {
      const saved = new Map<string, Uint8Array | undefined>()
      await withDb(path, async db => {
        for (const key of tamper.keys) saved.set(key, await db.get(key))
        await tamper.edit(db)
      })
      const seen = await observe(path, queries)
      assert.equal(seen.verify.valid, false, `${tamper.what}: verify says valid`)
      assert.equal(seen.verify.fault?.check, 'index', tamper.what)
      assert.ok(tamper.keys.includes((seen.verify.fault as { key?: string }).key!), `${tamper.what}: verify names ${JSON.stringify(seen.verify.fault)}`)
      assert.deepEqual(seen.verifyHttp.fault, seen.verify.fault, `${tamper.what}: verify over HTTP`)
      assertNothingForged(seen.local, truth, `${tamper.what}, LocalLedger`, tamper.deletes === true)
      assertNothingForged(seen.http, truth, `${tamper.what}, HttpLedger`, tamper.deletes === true)
      assert.ok([...seen.local.values()].some(o => 'error' in o), `${tamper.what}: some read notices`)
      await withDb(path, async db => {
        await db.batch([...saved].map(([key, value]) => value == null ? { type: 'del' as const, key } : { type: 'put' as const, key, value }))
      })
    }
    assert.deepEqual((await observe(path, queries)).local, truth, 'restored')
  })

  it('herd ledger verify exits 1 naming a forged index key', { timeout: 60_000 }, async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'ledger')
    await buildLedger(path)
    const key = (await indexKeys(path)).get('model')!.find(k => k.includes('r1'))!
    await withDb(path, async db => {
      await db.put(key, new TextEncoder().encode(JSON.stringify({ ...sampleModel({ name: 'r1' }), chunkRoot: FORGED_ROOT, size: 12345 })))
    })
    const result = await runCli(['ledger', 'verify', '--dir', path])
    assert.equal(result.code, 1, result.stdout)
    const report = JSON.parse(result.stdout)
    assert.equal(report.valid, false)
    assert.deepEqual([report.fault.check, report.fault.key], ['index', key])
  })
})

/** A devnet ledger server behind a proxy that rewrites the JSON of its answers. */
async function tamperingProxy (target: string, rewrite: (path: string, body: any) => Promise<any>): Promise<{ url: string, close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    void (async () => {
      const upstream = await fetch(new URL(request.url!, target))
      const body = await rewrite(decodeURIComponent(request.url!), await upstream.json())
      response.writeHead(upstream.status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    })().catch(err => { response.writeHead(502).end(String(err)) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}

describe('HttpLedger against a server that lies', () => {
  it('refuses an entry whose fields were rewritten, or that is another genuine entry', { timeout: 60_000 }, async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'ledger')
    const { queries, roots, addresses } = await buildLedger(path)
    const ledger = await LocalLedger.open(path)
    const server = new LedgerServer({ store: ledger.store })
    await server.start()
    const get = async (route: string): Promise<any> => (await fetch(new URL(route, server.url))).json()
    const r2 = await get('/v1/models/r2@1')
    const anchorAt = await Promise.all(roots.map(async root => get(`/v1/anchors/${root}`)))
    const listOf = await Promise.all(addresses.map(async address => get(`/v1/addresses/${address}/anchors`)))
    const forge = (entry: any): any => entry.chunkRoot != null ? { ...entry, chunkRoot: FORGED_ROOT, size: 12345 } : { ...entry, count: entry.count + 1 }
    const lies: Array<[string, (route: string, body: any) => Promise<any>]> = [
      ['fields rewritten', async (_route, body) => {
        if (Array.isArray(body.models)) return { models: body.models.map(forge) }
        if (Array.isArray(body.anchors)) return { anchors: body.anchors.map(forge) }
        return forge(body)
      }],
      // Each answer is a genuine, signed entry, but not the one asked for.
      ['another genuine entry', async (route, body) => {
        if (route.startsWith('/v1/models/')) return r2
        if (route.startsWith('/v1/anchors/')) return anchorAt[route.includes(roots[0]) || route.includes(anchorAt[0].txId) ? 1 : 0]
        if (route.startsWith('/v1/addresses/')) return listOf[route.includes(addresses[0]) ? 1 : 0]
        return body
      }]
    ]
    try {
      for (const [what, rewrite] of lies) {
        const proxy = await tamperingProxy(server.url, rewrite)
        const client = new HttpLedger({ url: proxy.url, retries: 0 })
        try {
          // r2 by name is r2's entry, and the list of every model cannot be shown to be short: those two may pass the second lie.
          const asked = queries.filter(([name]) => !name.startsWith('model r9') && (what === 'fields rewritten' || !(name.includes('r2') || name === 'models' || name.includes(r2.blobId))))
          for (const [name, outcome] of await outcomes(client, asked)) assert.deepEqual(outcome, { error: 'LedgerCorruptError' }, `${what}: ${name}`)
        } finally {
          await client.close()
          await proxy.close()
        }
      }
    } finally {
      await server.stop()
      await ledger.close()
    }
  })
})
