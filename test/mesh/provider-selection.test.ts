import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ProviderIndex } from '../../src/mesh/provider-index.js'
import { coordinationWindow, downloaderOrder, MAX_COORDINATION_MS, orderProviders, sharingReaders, sourceStartChunk, walrusReaderOf, walrusShareOf } from '../../src/mesh/provider-selection.js'

describe('provider selection', () => {
  it('splits a blob\'s chunks into contiguous Walrus segments, one per downloader, covering every chunk once', () => {
    for (const chunkCount of [1, 2, 3, 7, 64, 1000]) {
      for (const downloaders of [1, 2, 3, 5, 8, 13]) {
        let next = 0
        for (let rank = 0; rank < downloaders; rank++) {
          const { start, end } = walrusShareOf(rank, downloaders, chunkCount)
          assert.equal(start, next, `${chunkCount} chunks, ${downloaders} downloaders, rank ${rank}`)
          for (let i = start; i < end; i++) assert.equal(walrusReaderOf(i, chunkCount, downloaders), rank)
          next = end
        }
        assert.equal(next, chunkCount)
      }
    }
    assert.deepEqual(walrusShareOf(1, 3, 1), { start: 1, end: 1 }, 'a one-chunk blob: only the first downloader reads')
  })

  it('orders downloaders alike on every node, holders before fetchers, and spreads sources over the blob', () => {
    const r = (peerId: string, since = 1_000): { peerId: string, since: number } => ({ peerId, since })
    assert.deepEqual(downloaderOrder([r('b'), r('c'), r('a'), r('b')]), ['a', 'b', 'c'], 'begun together: by ID')
    assert.deepEqual(downloaderOrder([r('c'), r('b'), r('a')]), downloaderOrder([r('a'), r('c'), r('b')]))
    // By when each download began: a reader that comes late ranks last whatever its ID, and seen from any node alike.
    assert.deepEqual(downloaderOrder([r('b', 900), r('c', 800), r('a', 1_200)]), ['c', 'b', 'a'])
    assert.deepEqual(downloaderOrder([r('a', 1_200), r('b', 900), r('c', 800)]), ['c', 'b', 'a'])
    const ordered = orderProviders([{ peerId: 'x', state: 'fetching' }, { peerId: 'y', state: 'holder' }, { peerId: 'z', state: 'fetching' }])
    assert.deepEqual(ordered.map(p => p.state), ['holder', 'fetching', 'fetching'])
    assert.deepEqual([0, 1, 2, 3].map(p => sourceStartChunk(p, 4, 100)), [0, 25, 50, 75])
  })

  it('the provider index keeps when each peer\'s download began: as announced, else since first heard fetching', () => {
    let now = 10_000
    const index = new ProviderIndex({ now: () => now })
    index.set('a', 'blob', 'fetching', 9_000)
    index.set('b', 'blob', 'fetching')
    now += 500
    // Refreshed by later announcements: a's as it says, b's (a publisher that does not say) as first heard.
    index.set('a', 'blob', 'fetching', 9_000)
    index.set('b', 'blob', 'fetching')
    const since = (peer: string): number | undefined => index.providers('blob').find(p => p.peerId === peer)?.since
    assert.equal(since('a'), 9_000)
    assert.equal(since('b'), 10_000)
    index.set('b', 'blob', 'holder')
    assert.equal(since('b'), undefined, 'a holder has no download')
    index.set('b', 'blob', 'fetching')
    assert.equal(since('b'), 10_500, 'fetching again: a new download')
  })

  it('leaves out of the split the readers that began after the first one\'s window, itself by its own window', () => {
    const readers = [{ peerId: 'a', since: 1_000 }, { peerId: 'b', since: 1_250 }, { peerId: 'c', since: 1_400 }, { peerId: 'self', since: 1_700 }]
    const ids = (rs: Array<{ peerId: string }>): string[] => rs.map(r => r.peerId)
    assert.deepEqual(ids(sharingReaders(readers, 'self', 300, 300)), ['a', 'b'])
    // A window of its own stretched by late gossip counts this node in; the others still count only those within the configured one.
    assert.deepEqual(ids(sharingReaders(readers, 'self', 300, 800)), ['a', 'b', 'self'])
    assert.deepEqual(ids(sharingReaders(readers, 'c', 300, 500)), ['a', 'b', 'c'])
    // Never narrower than the configured window for itself either.
    assert.deepEqual(ids(sharingReaders(readers, 'b', 300, 100)), ['a', 'b'])
    assert.deepEqual(ids(sharingReaders(readers, 'self', 0, 0)), ['a', 'b', 'c', 'self'], 'a window of 0 leaves no one out')
    assert.deepEqual(sharingReaders([], 'self', 300, 300), [])
  })

  it('the provider index remembers a download a peer said it stopped, lists it nowhere, and forgets the mark when the peer fetches again', () => {
    let now = 0
    const index = new ProviderIndex({ ttlMs: 1_000, now: () => now, maxRecords: 3 })
    index.set('a', 'blob', 'fetching', 0)
    index.set('b', 'blob', 'holder')
    index.stopped('a', 'blob')
    index.stopped('b', 'blob')
    assert.deepEqual(index.providers('blob'), [], 'neither is listed')
    assert.deepEqual(index.stoppedReaders('blob'), ['a'], 'only a download is remembered as stopped')
    // Remembered in its record's slot, so a peer saying it stopped downloads it never announced costs nothing.
    index.stopped('c', 'blob')
    assert.deepEqual(index.stoppedReaders('blob'), ['a'])
    assert.equal(index.stats().records, 1)
    now += 500
    index.set('a', 'blob', 'fetching', 400)
    assert.deepEqual(index.stoppedReaders('blob'), [], 'fetching again')
    assert.deepEqual(index.providers('blob').map(p => [p.peerId, p.since]), [['a', 400]])
    index.stopped('a', 'blob')
    now += 1_001
    assert.deepEqual(index.stoppedReaders('blob'), [], 'the mark expires with the record')
    index.prune()
    assert.equal(index.stats().records, 0)
  })

  it('waits to coordinate at least as configured, twice as long as gossip now takes, and never past the cap', () => {
    assert.equal(coordinationWindow(300, undefined), 300)
    assert.equal(coordinationWindow(300, 100), 300)
    assert.equal(coordinationWindow(300, 1_200), 2_400)
    assert.equal(coordinationWindow(300, 1_200.3), 2_401, 'whole milliseconds')
    assert.equal(coordinationWindow(300, 60_000), MAX_COORDINATION_MS)
    assert.equal(coordinationWindow(0, 1_200), 0, 'no window configured: no wait')
  })
})
