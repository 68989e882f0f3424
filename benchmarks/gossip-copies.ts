/**
 * What one announcement costs a cluster: N mesh nodes (herd's own libp2p,
 * src/mesh/libp2p.ts) in this process on loopback, each connected to every
 * other (as a live `medium` cluster ends up, 13-14 peers a node), each
 * publishing announcements in turn. Prints the gossip bytes every node sent
 * on the topic and the CPU time of the whole process per announcement, and
 * the same over an idle spell of equal length (heartbeats alone) for
 * reference. Counts and CPU time, not wall clock: the machine is shared.
 *
 *   node dist/benchmarks/gossip-copies.js [--nodes 16] [--announcements 320] [--quick (64 announcements unless given)]
 */
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import { Registry } from 'prom-client'
import { blobIdFromBytes } from '../src/blob/blob-id.js'
import { encodeAnnouncement } from '../src/mesh/announcement-codec.js'
import { CACHE_TOPIC } from '../src/mesh/constants.js'
import { createMeshLibp2p, type MeshLibp2p } from '../src/mesh/libp2p.js'
import { parseWireCounters } from '../sim/wire-bytes.js'
import { parseScriptArgs } from '../harness/script-args.js'
import { note } from './measure.js'

const GOSSIP_PROTOCOL_PREFIX = '/meshsub/'
/** Heartbeats (1 s) for the meshes to form before anything is published, and for IHAVE about the last message to go out after it. */
const SETTLE_MS = 4_000
const PUBLISH_EVERY_MS = 20
const DELIVERY_TIMEOUT_MS = 60_000
const CONNECT_ROUNDS = 5

const USAGE = 'usage: gossip-copies [--nodes 2..32] [--announcements 1..10000 (320; 64 with --quick)] [--quick] [--help]'
const { values, refuse } = parseScriptArgs('gossip-copies', USAGE, {
  nodes: { type: 'string', default: '16' },
  announcements: { type: 'string' },
  quick: { type: 'boolean', default: false }
})
const nodeCount = Number(values.nodes)
// --quick sets the default only: an --announcements given beside it is what was asked for.
const announcements = Number(values.announcements ?? (values.quick ? 64 : 320))
if (!Number.isInteger(nodeCount) || nodeCount < 2 || nodeCount > 32) refuse(`--nodes takes an integer from 2 to 32, not ${JSON.stringify(values.nodes)}`)
if (!Number.isInteger(announcements) || announcements < 1 || announcements > 10_000) refuse(`--announcements takes an integer from 1 to 10,000, not ${JSON.stringify(values.announcements)}`)

interface Member { node: MeshLibp2p, registry: Registry, received: number }

async function gossipBytesSent (members: Member[]): Promise<number> {
  let total = 0
  for (const { registry } of members) {
    for (const [protocol, bytes] of parseWireCounters(await registry.metrics())) {
      if (protocol.startsWith(GOSSIP_PROTOCOL_PREFIX)) total += bytes
    }
  }
  return total
}

function cpuMs (): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

async function waitUntil (what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

const members: Member[] = []
try {
  for (let i = 0; i < nodeCount; i++) {
    const registry = new Registry()
    const node = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], allow: ['/ip4/127.0.0.1'], privateNetwork: true, metricsRegistry: registry })
    await node.start()
    const member: Member = { node, registry, received: 0 }
    node.services.pubsub.addEventListener('message', (event: CustomEvent<Message>) => { if (event.detail.topic === CACHE_TOPIC) member.received++ })
    node.services.pubsub.subscribe(CACHE_TOPIC)
    members.push(member)
  }
  // A connection may close under load (the link monitor, a dial race): dialled again, a bounded number of rounds.
  for (let round = 0; round < CONNECT_ROUNDS; round++) {
    for (let i = 1; i < nodeCount; i++) {
      for (let j = 0; j < i; j++) {
        const [a, b] = [members[i]!.node, members[j]!.node]
        if (a.getConnections(b.peerId).length === 0) await a.dial(b.getMultiaddrs()[0]!).catch(err => { note(`dialling ${j} from ${i} failed: ${(err as Error).message}`) })
      }
    }
    const ready = await waitUntil('every node to see every other on the topic', () => members.every(m => m.node.services.pubsub.getSubscribers(CACHE_TOPIC).length === nodeCount - 1), 10_000).then(() => true, () => false)
    if (ready) break
    if (round === CONNECT_ROUNDS - 1) throw new Error(`not every node sees every other on the topic: subscribers ${members.map(m => m.node.services.pubsub.getSubscribers(CACHE_TOPIC).length).join(' ')}, connections ${members.map(m => m.node.getConnections().length).join(' ')}`)
  }
  await sleep(SETTLE_MS)

  // Idle: heartbeats and nothing else, for as long as the publishing takes and its settle after.
  const idleMs = announcements * PUBLISH_EVERY_MS + SETTLE_MS
  let bytes0 = await gossipBytesSent(members)
  let cpu0 = cpuMs()
  await sleep(idleMs)
  const idle = { bytes: await gossipBytesSent(members) - bytes0, cpuMs: cpuMs() - cpu0 }

  bytes0 = await gossipBytesSent(members)
  cpu0 = cpuMs()
  const started = performance.now()
  for (let k = 0; k < announcements; k++) {
    const { node } = members[k % nodeCount]!
    const data = encodeAnnouncement({ seq: BigInt(k + 1), time: Date.now(), added: [blobIdFromBytes(randomBytes(32))], dropped: [], fetching: [], load: { downloads: 1, uploads: 0, inferQueue: 0, sessionsWarm: 0, warm: [] } })
    await node.services.pubsub.publish(CACHE_TOPIC, data)
    await sleep(PUBLISH_EVERY_MS)
  }
  const expected = announcements * (nodeCount - 1)
  await waitUntil('every announcement at every node', () => members.reduce((n, m) => n + m.received, 0) >= expected, DELIVERY_TIMEOUT_MS)
  const publishMs = performance.now() - started
  await sleep(Math.max(0, idleMs - publishMs))
  const busy = { bytes: await gossipBytesSent(members) - bytes0, cpuMs: cpuMs() - cpu0 }
  const delivered = members.reduce((n, m) => n + m.received, 0)
  // The class has getMeshPeers; the GossipSub interface libp2p exports does not list it.
  const meshSizes = members.map(m => (m.node.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }).getMeshPeers(CACHE_TOPIC).length)
  const summary = {
    nodes: nodeCount,
    announcements,
    delivered,
    meshPeersMean: Math.round(meshSizes.reduce((a, b) => a + b, 0) / nodeCount * 10) / 10,
    gossipBytesPerAnnouncement: Math.round(busy.bytes / announcements),
    cpuMsPerAnnouncement: Math.round(busy.cpuMs / announcements * 100) / 100,
    idleGossipBytes: idle.bytes,
    idleCpuMs: Math.round(idle.cpuMs),
    loadAverage1m: Math.round(loadavg()[0]! * 10) / 10
  }
  note(`${nodeCount} nodes, each connected to every other, ${announcements} announcements: ${summary.gossipBytesPerAnnouncement} gossip bytes and ${summary.cpuMsPerAnnouncement} ms of CPU each (the whole cluster); idle spell of equal length: ${idle.bytes} bytes, ${summary.idleCpuMs} ms; load ${summary.loadAverage1m}`)
  console.log(JSON.stringify(summary))
} finally {
  await Promise.allSettled(members.map(async m => { await m.node.stop() }))
}
