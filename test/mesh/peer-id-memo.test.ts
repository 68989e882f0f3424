import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerIdMemo } from '../../src/mesh/peer-id-memo.js'

describe('PeerIdMemo', () => {
  it('decodes a peer once, keeps at most its bound, and refuses a malformed one without keeping it', async () => {
    const ids = await Promise.all(Array.from({ length: 3 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
    const memo = new PeerIdMemo(2)
    const first = memo.get(ids[0]!)
    assert.equal(first.toString(), ids[0])
    assert.equal(memo.get(ids[0]!), first, 'the same object, not decoded again')
    memo.get(ids[1]!)
    memo.get(ids[2]!)
    assert.notEqual(memo.get(ids[0]!), first, 'the oldest was let go at the bound')
    assert.throws(() => memo.get('not-a-peer-id'))
    assert.throws(() => memo.get('not-a-peer-id'))
  })
})
