import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { Level } from 'level'
import { MAX_KNOWN_PEERS } from '../../src/mesh/constants.js'
import { dialableAddresses, KnownPeers, MAX_KNOWN_ADDRESSES } from '../../src/mesh/known-peers.js'
import { redialKnownPeers } from '../../src/mesh/redial-known.js'
import { tempDir } from '../helpers/devnet.js'

async function peerIds (n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
}

describe('known peers', () => {
  it('keeps herd peers across a reopen, the most recent first, and forgets the oldest past the bound', async () => {
    await using dir = await tempDir('herd-known-')
    const path = join(dir.path, 'peers')
    const ids = await peerIds(MAX_KNOWN_PEERS + 3)
    let known = new KnownPeers(path)
    await known.open()
    try {
      for (const [i, id] of ids.entries()) await known.remember(id, [`/ip4/127.0.0.1/tcp/${4000 + i}`], 1_000 + i)
      await known.remember(ids[0] as string, ['/ip4/127.0.0.1/tcp/5000', '/ip6/::1/tcp/5000'], 2_000_000)
      await known.remember(ids[1] as string, [], 3_000_000)
    } finally {
      await known.close()
    }
    known = new KnownPeers(path)
    await known.open()
    try {
      const all = known.all()
      assert.equal(all.length, MAX_KNOWN_PEERS)
      assert.deepEqual(all[0], { peerId: ids[0], addresses: ['/ip4/127.0.0.1/tcp/5000', '/ip6/::1/tcp/5000'], seenAt: 2_000_000 }, 'met again: the newest, with its new addresses')
      const kept = new Set(all.map(p => p.peerId))
      // The oldest met and not met again (a peer without addresses is not kept, nor refreshed): 1, 2, 3.
      for (const gone of [1, 2, 3]) assert.equal(kept.has(ids[gone] as string), false, `peer ${gone}`)
      assert.equal(kept.has(ids[4] as string), true)
      assert.deepEqual(all.map(p => p.seenAt), [...all.map(p => p.seenAt)].sort((x, y) => y - x))
    } finally {
      await known.close()
    }
  })

  it('drops records that do not parse, and refuses a store of another version or kind, naming it', async () => {
    await using dir = await tempDir('herd-known-')
    const path = join(dir.path, 'peers')
    const [good, other] = await peerIds(2) as [string, string]
    let known = new KnownPeers(path)
    await known.open()
    await known.remember(good, ['/ip4/10.0.0.1/tcp/4001'], 5)
    await known.close()
    const raw = new Level<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await raw.batch([
      { type: 'put', key: 'peer/garbage', value: '{"peerId":' },
      { type: 'put', key: `peer/${other}`, value: JSON.stringify({ peerId: good, addresses: ['/ip4/1.2.3.4/tcp/1'], seenAt: 1 }) },
      { type: 'put', key: 'peer/not-an-id', value: JSON.stringify({ peerId: 'not-an-id', addresses: ['/ip4/1.2.3.4/tcp/1'], seenAt: 1 }) },
      { type: 'put', key: `peer/${other}x`, value: JSON.stringify({ peerId: `${other}x`, addresses: ['not a multiaddr'], seenAt: 1 }) }
    ])
    await raw.close()
    known = new KnownPeers(path)
    await known.open()
    assert.deepEqual(known.all().map(p => p.peerId), [good])
    await known.close()
    const reread = new Level<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    const keys: string[] = []
    for await (const key of reread.keys()) keys.push(key)
    await reread.close()
    assert.deepEqual(keys.sort(), [`peer/${good}`, 'version'], 'what did not parse is gone from disk')

    const versioned = new Level<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await versioned.put('version', '9')
    await versioned.close()
    await assert.rejects(new KnownPeers(path).open(), { name: 'KnownPeersError', message: /version 9, this herd reads version 1/ })
    const foreign = new Level<string, string>(join(dir.path, 'foreign'), { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await foreign.put('blob/x', '{}')
    await foreign.close()
    await assert.rejects(new KnownPeers(join(dir.path, 'foreign')).open(), { name: 'KnownPeersError', message: /no version: not a herd known peers store/ })
  })

  it('keeps of what a peer announces only TCP addresses to dial, public ones on the internet, at most eight', () => {
    const announced = [
      '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGRUVh2upRVUjsBbvAmn1sePJ7j3Jny4ZHX2XMkodEtXq',
      '/ip4/192.168.1.5/tcp/4001',
      '/ip4/8.8.8.8/tcp/4001',
      '/ip4/8.8.8.8/udp/4001/quic-v1',
      '/ip4/8.8.8.8/tcp/4001',
      '/dns4/herd.example.org/tcp/4001',
      ...Array.from({ length: 10 }, (_, i) => `/ip4/9.9.9.${i}/tcp/4001`)
    ].map(a => multiaddr(a))
    const onLan = dialableAddresses(announced, true)
    assert.equal(onLan.length, MAX_KNOWN_ADDRESSES)
    assert.deepEqual(onLan.slice(0, 5), ['/ip4/127.0.0.1/tcp/4001', '/ip4/192.168.1.5/tcp/4001', '/ip4/8.8.8.8/tcp/4001', '/dns4/herd.example.org/tcp/4001', '/ip4/9.9.9.0/tcp/4001'])
    const public_ = dialableAddresses(announced, false)
    assert.deepEqual(public_.slice(0, 3), ['/ip4/8.8.8.8/tcp/4001', '/dns4/herd.example.org/tcp/4001', '/ip4/9.9.9.0/tcp/4001'])
    assert.equal(public_.some(a => a.includes('127.0.0.1') || a.includes('192.168')), false)
    assert.deepEqual(dialableAddresses([multiaddr('/ip4/8.8.8.8/udp/1/quic-v1')], false), [])
  })

  it('redials the most recent peers not already connected, a few at a time, and stops when told', async () => {
    const ids = await peerIds(30)
    const peers = ids.map((peerId, i) => ({ peerId, addresses: ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.2/tcp/1'], seenAt: 1_000 - i }))
    const dialed: string[] = []
    let inFlight = 0
    let mostInFlight = 0
    const result = await redialKnownPeers(peers, {
      dial: async (addresses) => {
        assert.equal(addresses.length, 2)
        const peerOf = (address: { toString: () => string }): string | undefined => address.toString().split('/p2p/')[1]
        const id = peerOf(addresses[0] as object) as string
        assert.ok(addresses.every(a => peerOf(a) === id))
        dialed.push(id)
        inFlight++
        mostInFlight = Math.max(mostInFlight, inFlight)
        await new Promise(resolve => setTimeout(resolve, 5))
        inFlight--
        if (ids.indexOf(id) % 3 === 0) throw new Error('ECONNREFUSED')
      },
      isConnected: peerId => peerId === ids[1]
    }, { max: 10 })
    assert.deepEqual(dialed.sort(), [ids[0], ...ids.slice(2, 11)].sort(), 'the ten most recent not connected')
    assert.deepEqual(result, { tried: 10, connected: 6 })
    assert.ok(mostInFlight > 1 && mostInFlight <= 4, `${mostInFlight} dials at once`)

    const controller = new AbortController()
    let calls = 0
    const stopped = await redialKnownPeers(peers, {
      dial: async (_addresses, options) => {
        calls++
        controller.abort()
        options.signal.throwIfAborted()
      },
      isConnected: () => false
    }, { signal: controller.signal })
    assert.ok(calls <= 4, `${calls} dials begun before the stop`)
    assert.equal(stopped.connected, 0)
  })
})
