import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { MAX_INBOUND_STREAMS_PER_CONNECTION } from '../../src/mesh/constants.js'
import { createMeshLibp2p, type MeshLibp2p, type MeshLibp2pInit } from '../../src/mesh/libp2p.js'

const LOOPBACK = '/ip4/127.0.0.1/tcp/0'

async function started (init: Omit<MeshLibp2pInit, 'privateKey'>): Promise<MeshLibp2p> {
  const node = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), privateNetwork: true, ...init })
  await node.start()
  return node
}

/** `count` peers dialing `node` one after another (libp2p lets one host open 5 a second); how many got a connection. */
async function dialFrom (node: MeshLibp2p, count: number, nodes: MeshLibp2p[]): Promise<number> {
  let connected = 0
  for (let i = 0; i < count; i++) {
    const peer = await started({ listen: [] })
    nodes.push(peer)
    try {
      const connection = await peer.dial(node.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
      // A refused connection may look open to the dialer for a moment: ping proves the node kept it.
      await peer.services.ping.ping(connection.remotePeer, { signal: AbortSignal.timeout(5_000) })
      connected++
    } catch {}
  }
  return connected
}

describe('connection and stream limits of the mesh libp2p node', () => {
  it('refuses connections from one IP past its limit, unless the IP is allowed', { timeout: 120_000 }, async () => {
    const nodes: MeshLibp2p[] = []
    try {
      const limited = await started({ listen: [LOOPBACK], maxConnectionsPerIp: 2 })
      nodes.push(limited)
      assert.equal(await dialFrom(limited, 4, nodes), 2)
      assert.equal(limited.getConnections().length, 2)

      const allowed = await started({ listen: [LOOPBACK], maxConnectionsPerIp: 2, allow: ['/ip4/127.0.0.1'] })
      nodes.push(allowed)
      assert.equal(await dialFrom(allowed, 4, nodes), 4)
    } finally {
      await Promise.allSettled(nodes.map(async node => { await node.stop() }))
    }
  })

  it(`keeps at most ${MAX_INBOUND_STREAMS_PER_CONNECTION} streams of one connection open, whatever their protocols allow`, { timeout: 120_000 }, async () => {
    const PROTOCOL = '/herd-test/hold/1.0.0'
    const node = await started({ listen: [LOOPBACK], allow: ['/ip4/127.0.0.1'] })
    const peer = await started({ listen: [] })
    const held: Stream[] = []
    try {
      // A protocol that takes every stream and holds it, so only the connection's own bound is left.
      await node.handle(PROTOCOL, stream => { held.push(stream) }, { maxInboundStreams: 10_000 })
      const connection = await peer.dial(node.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
      // Streams that come before the node has set the connection up are a different bound (libp2p's 10 early streams).
      await peer.services.ping.ping(node.peerId, { signal: AbortSignal.timeout(5_000) })
      const opened = await Promise.allSettled(Array.from({ length: MAX_INBOUND_STREAMS_PER_CONNECTION + 72 }, async () =>
        connection.newStream(PROTOCOL, { maxOutboundStreams: 10_000, signal: AbortSignal.timeout(20_000) })))
      assert.ok(held.length > 0 && held.length <= MAX_INBOUND_STREAMS_PER_CONNECTION, `the node took ${held.length} streams`)
      assert.ok(opened.filter(o => o.status === 'rejected').length >= 72, 'the streams past the bound were not refused')
    } finally {
      for (const stream of held) stream.abort(new Error('test over'))
      await Promise.allSettled([node.stop(), peer.stop()])
    }
  })
})
