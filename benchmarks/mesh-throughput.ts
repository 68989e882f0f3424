// Mesh throughput: raw TCP, raw libp2p streams and herd peer fetches on loopback, with ratios against raw TCP measured in the same run.
import { randomBytes } from 'node:crypto'
import { open, mkdtemp, rm } from 'node:fs/promises'
import { createServer, connect, type Socket } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { connectAll, devnetNodeConfig, startDevnet, startNode, stopNodes, waitFor, withTimeout, type Devnet } from '../harness/in-process-mesh.js'
import type { BlobId } from '../src/blob/blob-id.js'
import { maxBlobSizeForShards } from '../src/blob/blob-id-computer.js'
import { createMeshLibp2p, type MeshLibp2p } from '../src/mesh/libp2p.js'
import type { HerdNode } from '../src/node.js'
import { parseScriptArgs } from '../harness/script-args.js'
import { note } from './measure.js'
import { BENCH_PROTOCOL, pullBench, serveBench } from '../harness/raw-stream.js'
import { twoProcessTransfers, type TransferFigures, type TwoProcessFigures } from './mesh/two-process.js'
import { cryptoFloor, type CryptoFloor } from './mesh/crypto-floor.js'
import { newFileWriteFloor } from './mesh/disk-floor.js'
import { SYNC_EVERY_CHUNKS } from '../src/blob/cache/constants.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
/** Every send and socket write is one block of this size (the last may be shorter). */
const BLOCK_BYTES = 256 * 1024

const USAGE = 'usage: mesh-throughput [--size-mib 1..512] [--cold-size-mib 1..512] [--quick] [--only two-process|in-process] [--profile-dir DIR] [--help]'
const { values, refuse, makeDir } = parseScriptArgs('mesh-throughput', USAGE, {
  'size-mib': { type: 'string' },
  'cold-size-mib': { type: 'string' },
  quick: { type: 'boolean', default: false },
  only: { type: 'string' },
  'profile-dir': { type: 'string' }
})
const sizeMiB = Number(values['size-mib'] ?? (values.quick ? 32 : 256))
const coldSizeMiB = Number(values['cold-size-mib'] ?? (values.quick ? 16 : 64))
const only = values.only
if (!Number.isInteger(sizeMiB) || sizeMiB < 1 || sizeMiB > 512) refuse(`--size-mib takes an integer from 1 to 512, not ${JSON.stringify(values['size-mib'])}`)
if (!Number.isInteger(coldSizeMiB) || coldSizeMiB < 1 || coldSizeMiB > 512) refuse(`--cold-size-mib takes an integer from 1 to 512, not ${JSON.stringify(values['cold-size-mib'])}`)
if (only != null && only !== 'two-process' && only !== 'in-process') refuse(`--only takes two-process or in-process, not ${JSON.stringify(only)}`)
const profileDir = values['profile-dir']
if (profileDir != null) {
  if (profileDir === '') refuse('--profile-dir takes a directory, not an empty string')
  makeDir('--profile-dir', profileDir)
}
const inProcess = only !== 'two-process'
const twoProcess = only !== 'in-process'
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

async function rawLibp2p (bytes: number): Promise<{ one: number, four: number }> {
  const init = { listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] }
  const [a, b] = await Promise.all([createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') }), createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') })])
  try {
    await Promise.all([a.start(), b.start()])
    await b.handle(BENCH_PROTOCOL, stream => { void serveBench(stream, block, transferMs(size)) }, { maxInboundStreams: 8, maxOutboundStreams: 8 })
    await withTimeout('libp2p dial', 15_000, async signal => a.dial(b.getMultiaddrs(), { signal }))
    // A short warm-up, so both measurements start on a connection past its first yamux window growth.
    await withTimeout('libp2p warm-up', 30_000, async signal => pullBench(a, b.peerId, 4 * MiB, signal))
    const one = await withTimeout('libp2p 1 stream', transferMs(bytes), async signal => timed(async () => pullBench(a, b.peerId, bytes, signal)))
    const quarter = Math.floor(bytes / 4)
    const four = await withTimeout('libp2p 4 streams', transferMs(bytes), async signal => timed(async () => Promise.all([0, 1, 2, 3].map(async i => pullBench(a, b.peerId, i < 3 ? quarter : bytes - 3 * quarter, signal)))))
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

interface InProcessFigures {
  tcp: number
  libp2p: { one: number, four: number }
  oneSource: PeerFetch
  threeSources: PeerFetch
  cold: { seconds: number, fromWalrus: number, fromPeers: number }
}

async function inProcessRun (devnet: Devnet, blobId: BlobId, coldBlobId: BlobId): Promise<Omit<InProcessFigures, 'tcp' | 'libp2p'>> {
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
  const fromWalrus = devnet.walrus.stats.bytesServed - coldWalrusBefore
  const fromPeers = nodes.reduce((sum, node) => sum + node.fetcher.counters.bytesFromPeers, 0)
  await stopNodes(nodes.splice(0))
  await Promise.all(Array.from({ length: 8 }, async (_, i) => rm(join(dir, `cold-${i}`), { recursive: true, force: true })))
  return { oneSource, threeSources, cold: { seconds: coldSeconds, fromWalrus, fromPeers } }
}

const rate = (bytes: number, seconds: number): number => bytes / MiB / seconds
const mib = (bytes: number): string => (bytes / MiB).toFixed(1)
const round = (value: number, digits: number): number => +value.toFixed(digits)

function printInProcess (figures: InProcessFigures): void {
  const { tcp, libp2p, oneSource, threeSources, cold } = figures
  const tcpRate = rate(size, tcp)
  const libp2pRate = rate(size, libp2p.one)
  const rows: Array<[string, number, number]> = [
    ['raw TCP loopback (baseline)', tcp, rate(size, tcp)],
    ['raw libp2p, 1 stream (TCP+Noise+yamux)', libp2p.one, rate(size, libp2p.one)],
    ['raw libp2p, 4 streams', libp2p.four, rate(size, libp2p.four)],
    ['herd fetch, 1 source', oneSource.seconds, rate(size, oneSource.seconds)],
    ['herd fetch, 3 sources', threeSources.seconds, rate(size, threeSources.seconds)],
    ['8 cold nodes, whole swarm (8 copies)', cold.seconds, rate(8 * coldSize, cold.seconds)]
  ]
  console.log(`mesh throughput on loopback, every node in one process: ${sizeMiB} MiB transfers, 1 MiB chunks, ${nShards}-shard local Walrus`)
  console.log('| transfer | seconds | MiB/s | ratio to raw TCP | ratio to libp2p 1 stream |')
  console.log('|---|---:|---:|---:|---:|')
  for (const [name, seconds, mibPerSec] of rows) {
    console.log(`| ${name} | ${seconds.toFixed(2)} | ${mibPerSec.toFixed(1)} | ${(mibPerSec / tcpRate).toFixed(3)} | ${(mibPerSec / libp2pRate).toFixed(3)} |`)
  }
  console.log(`\nbytes served per source (Walrus served 0 during both fetches):`)
  console.log(`- 1 source: A ${mib(oneSource.servedBy[0] ?? 0)} MiB`)
  console.log(`- 3 sources: ${['A', 'B', 'C'].map((name, i) => `${name} ${mib(threeSources.servedBy[i] ?? 0)} MiB`).join(', ')}`)
  console.log(`\n8 cold nodes, one ${coldSizeMiB} MiB blob: Walrus served ${mib(cold.fromWalrus)} MiB = ${(cold.fromWalrus / coldSize).toFixed(3)} origin bytes per unique byte; peers carried ${mib(cold.fromPeers)} MiB\n`)
}

/** The goals of issue 19 for a peer fetch between two processes. */
const GOAL_OVER_LIBP2P = 0.8
const GOAL_CPU_PER_GIB = 8

/** What a peer fetch cannot spend less than per GiB: raw TCP's both ends, sealing and opening every Noise frame, hashing every chunk. */
function floorPerGiB (figures: TwoProcessFigures, floor: CryptoFloor): number {
  return figures.tcp.cpuSecondsPerGiB + floor.encrypt + floor.decrypt + floor.sha256
}

function printTwoProcess (figures: TwoProcessFigures, floor: CryptoFloor, diskWrite: number): void {
  const { tcp, libp2p, peerFetch, peerFetchCold } = figures
  const libp2pRate = rate(size, libp2p.seconds)
  console.log(`two node processes on loopback (each end on its own event loop): ${sizeMiB} MiB, CPU = user + system of both processes over the transfer`)
  console.log('| transfer | seconds | MiB/s | ratio to libp2p 1 stream | CPU s | CPU s per GiB |')
  console.log('|---|---:|---:|---:|---:|---:|')
  const rows: Array<[string, TransferFigures]> = [['raw TCP', tcp], ['raw libp2p, 1 stream (TCP+Noise+yamux), after a pull of the same size', libp2p], ['herd peer fetch, 1 source: B\'s first, cold', peerFetchCold], ['herd peer fetch, 1 source: B\'s second, another blob', peerFetch]]
  for (const [name, t] of rows) {
    console.log(`| ${name} | ${t.seconds.toFixed(2)} | ${rate(size, t.seconds).toFixed(1)} | ${(rate(size, t.seconds) / libp2pRate).toFixed(3)} | ${t.cpuSeconds.toFixed(2)} | ${t.cpuSecondsPerGiB.toFixed(2)} |`)
  }
  console.log('\nper end, CPU s per GiB (user + system) and garbage collections (all, major, ms):')
  for (const [name, t] of rows) {
    const perGiB = (seconds: number): string => (seconds / (size / GiB)).toFixed(2)
    console.log(`- ${name}: ${t.ends.map(e => `${e.name} ${perGiB(e.userSeconds)} + ${perGiB(e.systemSeconds)}, GC ${e.gcs}/${e.majorGcs}/${e.gcMs.toFixed(0)} ms, ${(e.minorFaults / (size / MiB)).toFixed(0)} faults/MiB`).join('; ')}`)
  }
  const over = rate(size, peerFetch.seconds) / libp2pRate
  console.log(`\nthe first fetch begins on processes idle since the set-up (a transfer that starts idle runs slower here, a raw stream's too) and runs herd's transfer code for the first time; the second follows it at once, as the raw stream's measured pull follows a pull of the same size: the second is the like for like; the first, ${(rate(size, peerFetchCold.seconds) / libp2pRate).toFixed(3)} of the stream at ${peerFetchCold.cpuSecondsPerGiB.toFixed(2)} CPU s per GiB, is what a fetch on an idle node gets`)
  console.log(`peer fetch (the second) / one libp2p stream: ${over.toFixed(3)} (goal >= ${GOAL_OVER_LIBP2P}: ${over >= GOAL_OVER_LIBP2P ? 'met' : 'not met'}); CPU per GiB: ${peerFetch.cpuSecondsPerGiB.toFixed(2)} s (goal <= ${GOAL_CPU_PER_GIB}: ${peerFetch.cpuSecondsPerGiB <= GOAL_CPU_PER_GIB ? 'met' : 'not met'}); Walrus served ${peerFetch.walrusBytes} bytes meanwhile`)
  console.log(`floor, CPU s per GiB: raw TCP ${tcp.cpuSecondsPerGiB.toFixed(2)} + node:crypto alone in this process: ChaCha20-Poly1305 seal ${floor.encrypt.toFixed(2)} + open ${floor.decrypt.toFixed(2)} (65,519-byte frames) + SHA-256 ${floor.sha256.toFixed(2)} = ${floorPerGiB(figures, floor).toFixed(2)} (goal ${GOAL_CPU_PER_GIB}); the peer fetch spends ${(peerFetch.cpuSecondsPerGiB / floorPerGiB(figures, floor)).toFixed(2)}x that, one libp2p stream ${(libp2p.cpuSecondsPerGiB / (tcp.cpuSecondsPerGiB + floor.encrypt + floor.decrypt)).toFixed(2)}x its own floor (no SHA-256)`)
  const withWrite = floorPerGiB(figures, floor) + diskWrite
  console.log(`writing the same bytes to a new file in this process (1 MiB writes, synced every ${SYNC_EVERY_CHUNKS}, as a download's file): ${diskWrite.toFixed(2)} CPU s per GiB, which the fetcher pays and a raw stream does not; the floor with it: ${withWrite.toFixed(2)}, the peer fetch ${(peerFetch.cpuSecondsPerGiB / withWrite).toFixed(2)}x that\n`)
}

const dir = await mkdtemp(join(tmpdir(), 'herd-bench-mesh-'))
const nodes: HerdNode[] = []
let devnet: Devnet | undefined
try {
  let baselines: Pick<InProcessFigures, 'tcp' | 'libp2p'> | undefined
  if (inProcess) {
    note(`raw TCP, ${sizeMiB} MiB`)
    const tcp = await rawTcp(size)
    note(`raw libp2p, ${sizeMiB} MiB on 1 and 4 streams`)
    baselines = { tcp, libp2p: await rawLibp2p(size) }
  }

  note(`devnet (${nShards} shards), publishing ${twoProcess ? `two ${sizeMiB} MiB blobs` : `a ${sizeMiB} MiB blob`}${inProcess ? ` and one of ${coldSizeMiB} MiB` : ''}`)
  // A put of a few hundred MiB takes seconds here: a publish that has not answered in 2 minutes is retried, not awaited for the default 10.
  devnet = await startDevnet(join(dir, 'devnet'), { nShards, maxBlobBytes: Math.max(size, coldSize) + MiB, publishTimeoutMs: 120_000 })
  const blobId = await publishRandom(devnet, dir, size, 'bench-model')
  // The two-process run's second peer fetch, of the same size, once both nodes have run a fetch.
  const secondBlobId = twoProcess ? await publishRandom(devnet, dir, size, 'bench-model-2') : undefined

  let inProcessFigures: InProcessFigures | undefined
  if (baselines != null) {
    const coldBlobId = await publishRandom(devnet, dir, coldSize, 'bench-cold-model')
    inProcessFigures = { ...baselines, ...await inProcessRun(devnet, blobId, coldBlobId) }
  }
  // The machine may be shared: figures are read beside the load they were taken under.
  const loadAtStart = loadavg()[0] as number
  const two = secondBlobId != null ? await twoProcessTransfers({ devnet, dir, blobIds: [blobId, secondBlobId], size, ...(profileDir != null ? { profileDir } : {}) }) : undefined

  if (inProcessFigures != null) printInProcess(inProcessFigures)
  // Measured after the transfers, in this process, so they run on the same machine in the same window.
  const floor = two != null ? cryptoFloor(size) : undefined
  const diskWrite = two != null ? newFileWriteFloor(size, dir) : undefined
  const loadAtEnd = loadavg()[0] as number
  if (two != null && floor != null && diskWrite != null) printTwoProcess(two, floor, diskWrite)
  console.log(`load average (1 min): ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end`)
  const inProc = inProcessFigures
  console.log(JSON.stringify({
    bench: 'mesh-throughput',
    sizeMiB,
    coldSizeMiB,
    nShards,
    loadAverage: { start: round(loadAtStart, 2), end: round(loadAtEnd, 2) },
    ...(two != null
      ? {
          peerFetchOverLibp2p: round(two.libp2p.seconds / two.peerFetch.seconds, 3),
          peerFetchColdOverLibp2p: round(two.libp2p.seconds / two.peerFetchCold.seconds, 3),
          twoProcess: {
            mibPerSec: { tcp: round(rate(size, two.tcp.seconds), 1), libp2p1: round(rate(size, two.libp2p.seconds), 1), peerFetch: round(rate(size, two.peerFetch.seconds), 1), peerFetchCold: round(rate(size, two.peerFetchCold.seconds), 1) },
            cpuSecondsPerGiB: { tcp: round(two.tcp.cpuSecondsPerGiB, 2), libp2p1: round(two.libp2p.cpuSecondsPerGiB, 2), peerFetch: round(two.peerFetch.cpuSecondsPerGiB, 2), peerFetchCold: round(two.peerFetchCold.cpuSecondsPerGiB, 2) },
            walrusBytesDuringPeerFetch: two.peerFetch.walrusBytes,
            ...(floor != null
              ? { floorCpuSecondsPerGiB: { encrypt: round(floor.encrypt, 2), decrypt: round(floor.decrypt, 2), sha256: round(floor.sha256, 2), peerFetch: round(floorPerGiB(two, floor), 2), ...(diskWrite != null ? { newFileWrite: round(diskWrite, 2), peerFetchWithWrite: round(floorPerGiB(two, floor) + diskWrite, 2) } : {}) } }
              : {})
          }
        }
      : {}),
    // The in-process figures keep the keys they had before the two-process run was added.
    ...(inProc != null
      ? {
          mibPerSec: {
            tcp: round(rate(size, inProc.tcp), 1),
            libp2p1: round(rate(size, inProc.libp2p.one), 1),
            libp2p4: round(rate(size, inProc.libp2p.four), 1),
            fetch1: round(rate(size, inProc.oneSource.seconds), 1),
            fetch3: round(rate(size, inProc.threeSources.seconds), 1),
            cold8: round(rate(8 * coldSize, inProc.cold.seconds), 1)
          },
          servedBytes: { oneSource: inProc.oneSource.servedBy, threeSources: inProc.threeSources.servedBy },
          walrusBytesDuringPeerFetches: 0,
          coldOriginBytesPerUniqueByte: round(inProc.cold.fromWalrus / coldSize, 4)
        }
      : {})
  }))
} finally {
  // Cleanup goes on past a node that fails to stop, so the devnet stops and the temp dir goes.
  await stopNodes(nodes).catch((err: unknown) => { note(`stopping the nodes: ${String(err)}`) })
  await devnet?.stop()
  await rm(dir, { recursive: true, force: true })
}
