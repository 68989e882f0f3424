import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { herdNoiseCrypto } from '../../src/mesh/noise-crypto.js'
import { herdNoise, readsFrameLengthWithoutThrowing } from '../../src/mesh/noise-encrypter.js'

async function encrypter () {
  const privateKey = await generateKeyPair('Ed25519')
  const components = { privateKey, peerId: peerIdFromPrivateKey(privateKey), logger: defaultLogger(), upgrader: { getStreamMuxers: () => new Map() } }
  return { peerId: components.peerId, noise: herdNoise({ crypto: herdNoiseCrypto })(components as never) }
}

describe('herdNoise', () => {
  it('reads frame lengths without an exception per read (so a noise upgrade that moves its decoder shows here), and carries bytes both ways', async () => {
    const [a, b] = await Promise.all([encrypter(), encrypter()])
    const [outbound, inbound] = multiaddrConnectionPair()
    const options = { remotePeer: b.peerId, skipStreamMuxerNegotiation: true, signal: AbortSignal.timeout(10_000) }
    const [client, server] = await Promise.all([
      a.noise.secureOutbound(outbound, options),
      b.noise.secureInbound(inbound, { skipStreamMuxerNegotiation: true, signal: AbortSignal.timeout(10_000) })
    ])
    assert.ok(readsFrameLengthWithoutThrowing(client.connection))
    assert.ok(readsFrameLengthWithoutThrowing(server.connection))
    assert.equal(client.remotePeer.toString(), b.peerId.toString())

    // Several noise frames (at most 65,535 bytes each) in one message, and small ones, arrive whole and in order.
    const sent = [randomBytes(200_000), randomBytes(3), randomBytes(70_000)]
    const received: Uint8Array[] = []
    server.connection.addEventListener('message', evt => { received.push(evt.data.subarray()) })
    for (const bytes of sent) client.connection.send(bytes)
    const total = sent.reduce((n, s) => n + s.byteLength, 0)
    const deadline = Date.now() + 10_000
    while (received.reduce((n, r) => n + r.byteLength, 0) < total && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
    assert.deepEqual(Buffer.concat(received), Buffer.concat(sent))
    await Promise.all([client.connection.close(), server.connection.close()])
  })
})
