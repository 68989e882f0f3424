import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { PING_PROTOCOL } from '../../src/mesh/connection-monitor.js'
import { BLOB_PROTOCOL } from '../../src/mesh/constants.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'
import { waitFor } from '../helpers/mesh.js'

// Short pings so that a few fail within the test; the verdicts are asserted on counts of pings, not on time.
const MONITOR = { pingIntervalMs: 200, minTimeoutMs: 300, maxTimeoutMs: 300 }

async function node (): Promise<MeshLibp2p> {
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, connectionMonitor: MONITOR })
  await libp2p.start()
  return libp2p
}

describe('the connection monitor', () => {
  const nodes: MeshLibp2p[] = []
  after(async () => { await Promise.all(nodes.map(async n => n.stop())) })

  it('keeps a connection carrying a blob transfer through failed pings, and aborts it once the transfer is gone', async () => {
    const watcher = await node()
    // A peer whose pings never come back, as on a link full of chunks (or a dead one); its blob streams stay open.
    const silent = await node()
    nodes.push(watcher, silent)
    let pingsUnanswered = 0
    const held: Stream[] = []
    await silent.unhandle(PING_PROTOCOL)
    await silent.handle(PING_PROTOCOL, stream => { pingsUnanswered++; held.push(stream) })
    await silent.handle(BLOB_PROTOCOL, stream => { held.push(stream) })

    const transfer = await watcher.dialProtocol(silent.getMultiaddrs(), BLOB_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    // The two nodes may also hold a second connection (dialled back by a service): only the one carrying the transfer is watched.
    const carrier = watcher.getConnections(silent.peerId).find(c => c.streams.includes(transfer))
    assert.ok(carrier != null)
    await waitFor('three pings to go unanswered, and two of them to fail', () => pingsUnanswered >= 3 && watcher.services.linkMonitor.spared >= 2)
    assert.equal(transfer.status, 'open')
    assert.equal(carrier.status, 'open')

    // The transfer ends (its idle timeout, in herd): now a failed ping means a dead peer.
    transfer.abort(new Error('the transfer ended'))
    await waitFor('the connection to the silent peer to be aborted', () => carrier.status !== 'open')
    assert.ok(watcher.services.linkMonitor.aborted >= 1)
  })

  it('records the round trip of a connection whose pings come back, and keeps it', async () => {
    const a = await node()
    const b = await node()
    nodes.push(a, b)
    await a.dial(b.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
    const [connection] = a.getConnections(b.peerId)
    await waitFor('a ping to come back', () => connection?.rtt != null)
    assert.equal(a.services.linkMonitor.aborted, 0)
    assert.equal(connection?.status, 'open')
  })
})
