import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping, type Ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { Registry } from 'prom-client'
import { hearsayBound, type HearsayBound, type HearsayBoundInit } from './hearsay-bound.js'
import { herdConnectionMonitor, type ConnectionMonitorInit, type HerdConnectionMonitor } from './connection-monitor.js'
import { CACHE_TOPIC, IDENTIFY_MAX_MESSAGE_BYTES, KAD_MAX_INBOUND_STREAMS, KAD_MAX_MESSAGE_BYTES, KAD_PROTOCOL, MAX_ANNOUNCEMENT_BYTES, MAX_CONNECTIONS_PER_IP, MAX_INBOUND_STREAMS_PER_CONNECTION } from './constants.js'
import { denyPastPerIpLimit } from './connections-per-ip.js'
import { fastMessageId } from './fast-message-id.js'
import { herdNoiseCrypto } from './noise-crypto.js'
import { herdNoise } from './noise-encrypter.js'
import type { Framing } from './prefix-guard.js'
import { prefixGuarded, type StreamFraming } from './prefix-guarded.js'
import { sendWindowUpdatesAtHalfWindow } from './yamux-window.js'

// A type alias, not an interface: libp2p's ServiceMap needs an index signature.
export type MeshServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  dht: KadDHT
  linkMonitor: HerdConnectionMonitor
  hearsay: HearsayBound
}

export type MeshLibp2p = Libp2p<MeshServices>

export interface MeshLibp2pInit {
  privateKey: PrivateKey
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`. */
  listen: string[]
  bootstrap?: string[]
  /**
   * Keep loopback and private addresses in DHT records: right for a LAN or one
   * machine, wrong on the internet, where they would mislead remote peers.
   */
  privateNetwork?: boolean
  /**
   * Multiaddr prefixes exempt from libp2p's connection limits and inbound rate
   * limit (trusted peers, or one machine); the single addresses among them
   * are also exempt from gossipsub's penalty for many peers on one IP.
   */
  allow?: string[]
  /** Where libp2p's own metrics go; none when absent. */
  metricsRegistry?: Registry
  /** The ping interval and timeouts of the connection monitor (tests shorten them). */
  connectionMonitor?: ConnectionMonitorInit
  /** Bounds on peers known only from other peers' DHT answers (tests shorten the interval). */
  hearsay?: HearsayBoundInit
  /** Connections one IP may hold (MAX_CONNECTIONS_PER_IP unless given); the single IPs of `allow` have no limit. */
  maxConnectionsPerIp?: number
}

/**
 * The single IPs of `allow` (`/ip4/A` or `/ip6/A`; gossipsub takes no ranges).
 * Gossipsub scores every peer of an IP down once it has seen more than 10 peer
 * IDs there in the last hour (departed ones count); from 14 it publishes
 * nothing to them, and from 15 it ignores all they send. On one machine that
 * silences a node of a 16-node cluster, or of a smaller one after churn.
 */
function allowedIps (allow: string[]): Set<string> {
  const ips = new Set<string>()
  for (const prefix of allow) {
    const components = multiaddr(prefix).getComponents()
    const [host] = components
    if (components.length === 1 && (host?.name === 'ip4' || host?.name === 'ip6') && host.value != null) ips.add(host.value)
  }
  return ips
}

/**
 * Gossipsub's score on the cache topic counts only invalid messages (P4,
 * the count squared): a peer that relayed 4 messages the validator rejected
 * gets no gossip from us, 8 get no publishes, and from 9 it is graylisted
 * (everything it sends is ignored), about where herd's own scores stop
 * believing its signer. The count halves every minute, so a peer that sent
 * junk once is soon heard again and one that sent hundreds stays silenced
 * for minutes. Delivery rewards and
 * delivery quotas stay off: announcements are few and bursty, and an honest
 * quiet peer must not be scored down for having nothing to say.
 */
const CACHE_TOPIC_SCORE = {
  topicWeight: 1,
  timeInMeshWeight: 0,
  timeInMeshQuantum: 1_000,
  timeInMeshCap: 1,
  firstMessageDeliveriesWeight: 0,
  firstMessageDeliveriesDecay: 0.5,
  firstMessageDeliveriesCap: 1,
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 1,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 5_000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  invalidMessageDeliveriesWeight: -1,
  // Per decay interval (1 s): a half-life of one minute.
  invalidMessageDeliveriesDecay: 0.5 ** (1 / 60)
}

/**
 * Gossipsub's mesh degree, below its defaults (D 6, 4 to 12). Announcements
 * are flood-published: every peer connected to their signer gets them in one
 * hop, so the mesh only carries them on to the rest, and each extra mesh peer
 * is one more copy of every announcement sent and received by every node (a
 * protobuf encode, Noise seal and socket write at one end; a read, decrypt
 * and SHA-256 at the other). At the defaults, in a 16-node medium replay,
 * each node received every announcement 5.5 times. Gossip to peers outside
 * the mesh (IHAVE, Dlazy 6) is kept at its default: it is what repairs a
 * mesh peer that withholds messages, at one small message per heartbeat.
 */
const MESH_DEGREE = { D: 4, Dlo: 3, Dhi: 6, Dscore: 2, Dout: 2 }

/** The protocols that libp2p reads with lpStream after their negotiation, and their limits (prefix-guard.ts). */
const LP_STREAM_LIMITS: ReadonlyMap<string, number> = new Map([
  ['/ipfs/id/1.0.0', IDENTIFY_MAX_MESSAGE_BYTES],
  ['/ipfs/id/push/1.0.0', IDENTIFY_MAX_MESSAGE_BYTES],
  [KAD_PROTOCOL, KAD_MAX_MESSAGE_BYTES]
])

/**
 * The framing of a stream's protocol, for the prefix guard: lpStream's
 * protocols by their limits. Any other protocol this node handles, or that
 * the remote accepted from those this node proposed, has a bounded reader of
 * its own (herd's framing, gossipsub's, ping's fixed size). An inbound
 * proposal this node does not handle is refused, and the negotiation goes on;
 * an outbound stream goes on after `na`, and multistream-select itself
 * refuses an answer that names a protocol it did not propose.
 */
export function streamFraming (handled: () => string[]): StreamFraming {
  const lengthPrefixed = (protocol: string): Framing | undefined => {
    const limit = LP_STREAM_LIMITS.get(protocol)
    return limit != null ? { lengthPrefixed: limit } : undefined
  }
  return {
    inbound: protocol => lengthPrefixed(protocol) ?? (handled().includes(protocol) ? 'own' : undefined),
    outbound: protocol => lengthPrefixed(protocol) ?? (protocol === 'na' ? undefined : 'own')
  }
}

/** A libp2p 3 node with the transports and services the mesh is built on. */
export async function createMeshLibp2p (init: MeshLibp2pInit): Promise<MeshLibp2p> {
  sendWindowUpdatesAtHalfWindow()
  const peerDiscovery = (init.bootstrap ?? []).length > 0
    ? [bootstrap({ list: init.bootstrap ?? [] })]
    : []
  const node: MeshLibp2p = await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    // libp2p's own defaults, given here so that every bound on connections is in one place.
    connectionManager: {
      allow: init.allow ?? [],
      maxConnections: 300,
      maxIncomingPendingConnections: 10,
      // New connections per second from one host.
      inboundConnectionThreshold: 5,
      inboundUpgradeTimeout: 10_000
    },
    connectionGater: {
      denyInboundConnection: denyPastPerIpLimit({
        max: init.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP,
        exempt: allowedIps(init.allow ?? []),
        connections: () => node.getConnections()
      })
    },
    ...prefixGuarded({
      transports: [tcp()],
      connectionEncrypters: [herdNoise({ crypto: herdNoiseCrypto })],
      streamMuxers: [yamux({ maxInboundStreams: MAX_INBOUND_STREAMS_PER_CONNECTION })],
      // Streams open only once the node is built.
      streamFraming: streamFraming(() => node.getProtocols())
    }),
    // Replaced by linkMonitor: libp2p's aborts a connection whose ping is late, and on a link full of chunks every ping is late.
    connectionMonitor: { enabled: false },
    peerDiscovery,
    ...(init.metricsRegistry != null
      ? { metrics: prometheusMetrics({ registry: init.metricsRegistry, collectDefaultMetrics: false, preserveExistingMetrics: true }) }
      : {}),
    services: {
      identify: identify({ maxMessageSize: IDENTIFY_MAX_MESSAGE_BYTES }),
      ping: ping(),
      linkMonitor: herdConnectionMonitor(init.connectionMonitor),
      hearsay: hearsayBound(init.hearsay),
      pubsub: gossipsub({
        // js gossipsub has no inbound limit of its own; an RPC may batch a few announcements.
        maxInboundDataLength: 4 * MAX_ANNOUNCEMENT_BYTES,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        fastMsgIdFn: fastMessageId,
        ...MESH_DEGREE,
        scoreParams: { IPColocationFactorWhitelist: allowedIps(init.allow ?? []), topics: { [CACHE_TOPIC]: CACHE_TOPIC_SCORE } }
      }),
      dht: kadDHT({
        protocol: KAD_PROTOCOL,
        maxInboundStreams: KAD_MAX_INBOUND_STREAMS,
        clientMode: false,
        peerInfoMapper: init.privateNetwork === true ? passthroughMapper : removePrivateAddressesMapper,
        allowQueryWithZeroPeers: true
      })
    },
    start: false
  })
  return node
}
