// Mesh throughput: raw TCP, raw libp2p streams and herd peer fetches on loopback, with ratios against raw TCP measured in the same run.
import { randomBytes } from 'node:crypto'
import { open, mkdtemp, rm } from 'node:fs/promises'
import { createServer, connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { byteStream } from '@libp2p/utils'
import { connectAll, devnetNodeConfig, startDevnet, startNode, stopNodes, waitFor, withTimeout, type Devnet } from '../harness/in-process-mesh.js'
import type { BlobId } from '../src/blob/blob-id.js'
import { maxBlobSizeForShards } from '../src/blob/blob-id-computer.js'
import { createMeshLibp2p, type MeshLibp2p } from '../src/mesh/libp2p.js'
import type { HerdNode } from '../src/node.js'
import { note } from './measure.js'

const MiB = 1024 * 1024
const BENCH_PROTOCOL = '/herd-bench/throughput/1.0.0'
/** Every send and socket write is one block of this size (the last may be shorter). */
const BLOCK_BYTES = 256 * 1024

const { values } = parseArgs({ options: { 'size-mib': { type: 'string' }, 'cold-size-mib': { type: 'string' }, quick: { type: 'boolean', default: false } } })
const sizeMiB = Number(values['size-mib'] ?? (values.quick === true ? 32 : 256))
const coldSizeMiB = Number(values['cold-size-mib'] ?? (values.quick === true ? 16 : 64))
if (!Number.isInteger(sizeMiB) || sizeMiB < 1 || sizeMiB > 512 || !Number.isInteger(coldSizeMiB) || coldSizeMiB < 1 || coldSizeMiB > 512) {
  console.error('usage: mesh-throughput [--size-mib 1..512] [--cold-size-mib 1..512] [--quick]')
  process.exit(2)
}
const size = sizeMiB * MiB
const coldSize = coldSizeMiB * MiB
// 100 shards keeps blob IDs quick, but RS2 at 100 shards encodes at most ~142 MiB: take the fewest shards that fit.
let nShards = 100
while (maxBlobSizeForShards(nShards) < Math.max(size, coldSize)) nShards++
/** A transfer slower than 1 MiB/s (plus a minute of slack) counts as hung. */
const transferMs = (bytes: number): number => 60_000 + Math.ceil(bytes / MiB) * 1_000
const block = new Uint8Array(randomBytes(BLOCK_BYTES))

async function timed (fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await fn()
  return (performance.now() - started) / 1000
}

// ---- 1. raw TCP ----

async function rawTcp (bytes: number): Promise<number> {
  const server = createServer(socket => {
    let left = bytes
    const pump = (): void => {
      while (left > 0) {
        const piece = left >= block.byteLength ? block : block.subarray(0, left)
        left -= piece.byteLength
        if (!socket.write(piece)) { socket.once('drain', pump); return }
      }
      socket.end()
    }
    socket.on('error', () => {})
    pump()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error('no TCP address')
  let client: Socket | undefined
  try {
    return await withTimeout('raw TCP transfer', transferMs(bytes), async () => timed(async () => new Promise<void>((resolve, reject) => {
      let received = 0
      client = connect(address.port, '127.0.0.1')
      client.on('data', (chunk: Buffer) => { received += chunk.byteLength })
      client.on('error', reject)
      client.on('end', () => { received === bytes ? resolve() : reject(new Error(`TCP: got ${received} of ${bytes} bytes`)) })
    })))
  } finally {
    client?.destroy()
    await new Promise(resolve => server.close(resolve))
  }
}

// ---- 2. raw libp2p streams ----

/** The bench protocol: the dialer sends the byte count (u64 big-endian), the listener sends that many bytes and closes. */
async function serveBench (stream: Stream): Promise<void> {
  const signal = AbortSignal.timeout(transferMs(size))
  try {
    const reader = byteStream(stream)
    const header = (await reader.read({ bytes: 8, signal })).subarray()
    let left = Number(new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0))
    const raw = reader.unwrap()
    while (left > 0) {
      const piece = left >= block.byteLength ? block : block.subarray(0, left)
      left -= piece.byteLength
      if (!raw.send(piece)) await raw.onDrain({ signal })
    }
    await raw.close({ signal })
  } catch (err) {
    stream.abort(err as Error)
  }
}

async function pullBench (from: MeshLibp2p, to: MeshLibp2p, bytes: number, signal: AbortSignal): Promise<void> {
  const stream = await from.dialProtocol(to.peerId, BENCH_PROTOCOL, { signal })
  const onAbort = (): void => { stream.abort(new Error('bench stream timed out')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const header = new Uint8Array(8)
    new DataView(header.buffer).setBigUint64(0, BigInt(bytes))
    stream.send(header)
    let received = 0
    for await (const chunk of stream) received += chunk.byteLength
    if (received !== bytes) throw new Error(`libp2p: got ${received} of ${bytes} bytes`)
    await stream.close({ signal })
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

async function rawLibp2p (bytes: number): Promise<{ one: number, four: number }> {
  const init = { listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] }
  const [a, b] = await Promise.all([createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') }), createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') })])
  try {
    await Promise.all([a.start(), b.start()])
    await b.handle(BENCH_PROTOCOL, stream => { void serveBench(stream) }, { maxInboundStreams: 8, maxOutboundStreams: 8 })
    await withTimeout('libp2p dial', 15_000, async signal => a.dial(b.getMultiaddrs(), { signal }))
    // A short warm-up, so both measurements start on a connection past its first yamux window growth.
    await withTimeout('libp2p warm-up', 30_000, async signal => pullBench(a, b, 4 * MiB, signal))
    const one = await withTimeout('libp2p 1 stream', transferMs(bytes), async signal => timed(async () => pullBench(a, b, bytes, signal)))
    const quarter = Math.floor(bytes / 4)
    const four = await withTimeout('libp2p 4 streams', transferMs(bytes), async signal => timed(async () => Promise.all([0, 1, 2, 3].map(async i => pullBench(a, b, i < 3 ? quarter : bytes - 3 * quarter, signal)))))
    return { one, four }
  } finally {
    await Promise.allSettled([a.stop(), b.stop()])
  }
}

// ---- 3, 4. herd nodes over an in-process devnet ----

/** A file of `bytes` random bytes, written a MiB at a time so that no blob is held in memory whole; published raw as `name`. */
async function publishRandom (devnet: Devnet, dir: string, bytes: number, name: string): Promise<BlobId> {
  const path = join(dir, `${name}.bin`)
  const handle = await open(path, 'w')
  for (let written = 0; written < bytes; written += MiB) await handle.write(randomBytes(Math.min(MiB, bytes - written)))
  await handle.close()
  const started = performance.now()
  const { blobId } = await devnet.publishFile(path, { name })
  note(`published ${name} (${(bytes / MiB).toFixed(0)} MiB; chunk tree, puts and registration) in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  await rm(path)
  return blobId
}

async function waitForHolders (downloader: HerdNode, holders: HerdNode[], blobId: BlobId): Promise<void> {
  const ids = holders.map(h => h.peerId.toString())
  await waitFor(`the downloader to list ${holders.length} holder(s)`, () => {
    const known = downloader.providers.providers(blobId)
    return ids.every(id => known.some(p => p.peerId === id && p.state === 'holder'))
  }, 30_000)
}

async function fetchBlob (node: HerdNode, blobId: BlobId, bytes: number): Promise<void> {
  const entry = await withTimeout('a blob fetch', transferMs(bytes), async signal => node.fetcher.fetch(blobId, { signal }))
  if (entry.size !== bytes) throw new Error(`fetched ${entry.size} bytes, expected ${bytes}`)
}

interface PeerFetch { seconds: number, servedBy: number[] }

/** Times `downloader` fetching from `holders`, checking that Walrus served nothing, and counts what each holder served. */
async function timedPeerFetch (devnet: Devnet, downloader: HerdNode, holders: HerdNode[], blobId: BlobId): Promise<PeerFetch> {
  const walrusBefore = devnet.walrus.stats.bytesServed
  const servedBefore = holders.map(h => h.status().serve.bytesServed)
  const seconds = await timed(async () => fetchBlob(downloader, blobId, size))
  const fromWalrus = devnet.walrus.stats.bytesServed - walrusBefore
  if (fromWalrus !== 0) throw new Error(`Walrus served ${fromWalrus} bytes during a fetch that peers should have served whole`)
  const servedBy = holders.map((h, i) => h.status().serve.bytesServed - (servedBefore[i] as number))
  const total = servedBy.reduce((a, b) => a + b, 0)
  if (total !== size) note(`holders served ${total} bytes of a ${size}-byte blob (some chunks asked twice)`)
  return { seconds, servedBy }
}

// ---- the run ----

const dir = await mkdtemp(join(tmpdir(), 'herd-bench-mesh-'))
const nodes: HerdNode[] = []
let devnet: Devnet | undefined
try {
  note(`raw TCP, ${sizeMiB} MiB`)
  const tcp = await rawTcp(size)
  note(`raw libp2p, ${sizeMiB} MiB on 1 and 4 streams`)
  const libp2p = await rawLibp2p(size)

  note(`devnet (${nShards} shards), publishing ${sizeMiB} MiB and ${coldSizeMiB} MiB blobs`)
  // A put of a few hundred MiB takes seconds here: a publish that has not answered in 2 minutes is retried, not awaited for the default 10.
  devnet = await startDevnet(join(dir, 'devnet'), { nShards, maxBlobBytes: Math.max(size, coldSize) + MiB, publishTimeoutMs: 120_000 })
  const blobId = await publishRandom(devnet, dir, size, 'bench-model')
  const coldBlobId = await publishRandom(devnet, dir, coldSize, 'bench-cold-model')

  // One source: A fetches from Walrus (not counted), B fetches from A.
  note('one source: A holds, B fetches')
  const [a, b] = [await startNode(devnetNodeConfig(join(dir, 'node-a'), devnet)), await startNode(devnetNodeConfig(join(dir, 'node-b'), devnet))]
  nodes.push(a, b)
  await fetchBlob(a, blobId, size)
  await connectAll([a, b])
  await waitForHolders(b, [a], blobId)
  const oneSource = await timedPeerFetch(devnet, b, [a], blobId)
  if (b.fetcher.counters.bytesFromPeers !== size) throw new Error(`B took ${b.fetcher.counters.bytesFromPeers} bytes from peers`)

  // Three sources: A, B and C (which fetches from Walrus before it joins) hold; D fetches.
  note('three sources: A, B, C hold, D fetches')
  const c = await startNode(devnetNodeConfig(join(dir, 'node-c'), devnet))
  nodes.push(c)
  await fetchBlob(c, blobId, size)
  const d = await startNode(devnetNodeConfig(join(dir, 'node-d'), devnet))
  nodes.push(d)
  await connectAll([a, b, c, d])
  await waitForHolders(d, [a, b, c], blobId)
  const threeSources = await timedPeerFetch(devnet, d, [a, b, c], blobId)
  await stopNodes(nodes.splice(0))
  // The four copies are no longer needed: room on disk for the cold run.
  await Promise.all(['node-a', 'node-b', 'node-c', 'node-d'].map(async name => rm(join(dir, name), { recursive: true, force: true })))

  // 8 cold nodes ask for one blob at once.
  note(`8 cold nodes fetch ${coldSizeMiB} MiB at once`)
  for (let i = 0; i < 8; i++) nodes.push(await startNode(devnetNodeConfig(join(dir, `cold-${i}`), devnet)))
  await connectAll(nodes)
  const coldWalrusBefore = devnet.walrus.stats.bytesServed
  const coldSeconds = await timed(async () => Promise.all(nodes.map(async node => fetchBlob(node, coldBlobId, coldSize))))
  const coldFromWalrus = devnet.walrus.stats.bytesServed - coldWalrusBefore
  const coldFromPeers = nodes.reduce((sum, node) => sum + node.fetcher.counters.bytesFromPeers, 0)
  await stopNodes(nodes.splice(0))

  const rate = (bytes: number, seconds: number): number => bytes / MiB / seconds
  const tcpRate = rate(size, tcp)
  const libp2pRate = rate(size, libp2p.one)
  const rows: Array<[string, number, number]> = [
    ['raw TCP loopback (baseline)', tcp, rate(size, tcp)],
    ['raw libp2p, 1 stream (TCP+Noise+yamux)', libp2p.one, rate(size, libp2p.one)],
    ['raw libp2p, 4 streams', libp2p.four, rate(size, libp2p.four)],
    ['herd fetch, 1 source', oneSource.seconds, rate(size, oneSource.seconds)],
    ['herd fetch, 3 sources', threeSources.seconds, rate(size, threeSources.seconds)],
    ['8 cold nodes, whole swarm (8 copies)', coldSeconds, rate(8 * coldSize, coldSeconds)]
  ]
  console.log(`mesh throughput on loopback: ${sizeMiB} MiB transfers, 1 MiB chunks, ${nShards}-shard local Walrus`)
  console.log('| transfer | seconds | MiB/s | ratio to raw TCP | ratio to libp2p 1 stream |')
  console.log('|---|---:|---:|---:|---:|')
  for (const [name, seconds, mibPerSec] of rows) {
    console.log(`| ${name} | ${seconds.toFixed(2)} | ${mibPerSec.toFixed(1)} | ${(mibPerSec / tcpRate).toFixed(3)} | ${(mibPerSec / libp2pRate).toFixed(3)} |`)
  }
  const mib = (bytes: number): string => (bytes / MiB).toFixed(1)
  console.log(`\nbytes served per source (Walrus served 0 during both fetches):`)
  console.log(`- 1 source: A ${mib(oneSource.servedBy[0] ?? 0)} MiB`)
  console.log(`- 3 sources: ${['A', 'B', 'C'].map((name, i) => `${name} ${mib(threeSources.servedBy[i] ?? 0)} MiB`).join(', ')}`)
  const originRatio = coldFromWalrus / coldSize
  console.log(`\n8 cold nodes, one ${coldSizeMiB} MiB blob: Walrus served ${mib(coldFromWalrus)} MiB = ${originRatio.toFixed(3)} origin bytes per unique byte; peers carried ${mib(coldFromPeers)} MiB`)
  console.log(JSON.stringify({
    bench: 'mesh-throughput',
    sizeMiB,
    coldSizeMiB,
    nShards,
    mibPerSec: {
      tcp: +tcpRate.toFixed(1),
      libp2p1: +libp2pRate.toFixed(1),
      libp2p4: +rate(size, libp2p.four).toFixed(1),
      fetch1: +rate(size, oneSource.seconds).toFixed(1),
      fetch3: +rate(size, threeSources.seconds).toFixed(1),
      cold8: +rate(8 * coldSize, coldSeconds).toFixed(1)
    },
    servedBytes: { oneSource: oneSource.servedBy, threeSources: threeSources.servedBy },
    walrusBytesDuringPeerFetches: 0,
    coldOriginBytesPerUniqueByte: +originRatio.toFixed(4)
  }))
} finally {
  // Cleanup goes on past a node that fails to stop, so the devnet stops and the temp dir goes.
  await stopNodes(nodes).catch((err: unknown) => { note(`stopping the nodes: ${String(err)}`) })
  await devnet?.stop()
  await rm(dir, { recursive: true, force: true })
}
