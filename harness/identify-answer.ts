// A peer that answers a node's identify request with a length prefix that never ends; for the abuse tests and benchmark.
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createMeshLibp2p } from '../src/mesh/libp2p.js'
import { endlessVarint, type HostileOutcome } from './hostile-stream.js'

const IDENTIFY_PROTOCOL = '/ipfs/id/1.0.0'

/**
 * Connects a new peer to the node at `addrs` whose identify handler sends
 * 1 MiB of 0xff; the node asks every peer that connects, so this reaches its
 * reader without the node choosing to talk to us. The outcome is the node's
 * identify stream's, from the connection opening to the stream's end.
 */
export async function identifyAnswer (addrs: string[], waitMs: number): Promise<HostileOutcome> {
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [], privateNetwork: true })
  await libp2p.start()
  try {
    await libp2p.unhandle(IDENTIFY_PROTOCOL)
    let started = performance.now()
    const asked = new Promise<HostileOutcome>(resolve => {
      void libp2p.handle(IDENTIFY_PROTOCOL, async (stream: Stream) => {
        const ended = new Promise<HostileOutcome>(resolve => {
          stream.addEventListener('close', evt => {
            resolve({ ended: stream.status === 'reset' || stream.status === 'aborted' ? 'reset' : 'closed', afterMs: performance.now() - started, replyBytes: 0, ...(evt.error != null ? { error: evt.error.name } : {}) })
          }, { once: true })
        })
        await endlessVarint(async bytes => {
          if (stream.writeStatus !== 'writable') return
          if (!stream.send(bytes)) await stream.onDrain({ signal: AbortSignal.timeout(waitMs) }).catch(() => {})
        }, async () => {})
        resolve(await ended)
      })
    })
    started = performance.now()
    await libp2p.dial(addrs.map(addr => multiaddr(addr)), { signal: AbortSignal.timeout(waitMs) })
    const timedOut = new Promise<HostileOutcome>(resolve => { setTimeout(() => { resolve({ ended: 'open', afterMs: null, replyBytes: 0 }) }, waitMs).unref() })
    return await Promise.race([asked, timedOut])
  } finally {
    await libp2p.stop()
  }
}
