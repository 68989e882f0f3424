import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import type { BlobCache, PartialBlob } from '../../src/blob/cache/index.js'
import { chunkTreeOfBytes, toHex } from '../../src/blob/chunk-tree.js'
import type { BlobClient } from '../../src/mesh/blob-client.js'
import { Download, type DownloadContext } from '../../src/mesh/download.js'
import { PeerRefusedError } from '../../src/mesh/errors.js'
import type { BlobDescription, FetchProgress } from '../../src/mesh/fetch-types.js'
import { DEFAULT_DOWNLOAD_TUNING } from '../../src/mesh/fetcher.js'
import { PeerScores } from '../../src/mesh/peer-scores.js'
import type { Provider } from '../../src/mesh/provider-index.js'
import { DeliveryWindow, paceVerdict, WalrusPace } from '../../src/mesh/source-pace.js'
import { startedCache } from '../helpers/cache-blob.js'

const CHUNK = 1024

/** When the downloads of the readers in these tests began, this node's too: together, so they rank by ID. */
const BEGAN = Date.now()

/**
 * The fake peers here answer HAVE polls; unless a test gives its own `watch`, they refuse WATCH as a peer from before it
 * does (BAD_REQUEST), and the download polls them.
 */
function pollingPeer (client: BlobClient): BlobClient {
  const refuse = async (): Promise<never> => { throw new PeerRefusedError('peer answered BAD_REQUEST: unknown request kind', 'BAD_REQUEST') }
  return Object.assign({ watch: refuse }, client)
}

/** A download's context with the parts most tests here leave as they are; each test gives what it is about. */
async function downloadContext (parts: Pick<DownloadContext, 'client' | 'walrus' | 'providers' | 'tuning'> & Partial<DownloadContext>): Promise<DownloadContext> {
  const { client, ...rest } = parts
  return {
    selfId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(),
    scores: new PeerScores(),
    walrusPace: new WalrusPace(),
    extraHolders: new Set(),
    announcedAt: Date.now(),
    meshPeers: () => 1,
    onProgress: () => {},
    signal: AbortSignal.timeout(60_000),
    ...rest,
    client: pollingPeer(client)
  }
}

/** A peer's call that ends only when the download aborts it (already aborted: at once). */
async function untilAborted (signal: AbortSignal): Promise<never> {
  signal.throwIfAborted()
  return new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) })
}

/** A peer's chunk request whose chunks never come (a full link): it ends only when the download aborts it. */
async function chunksThatNeverCome (_peer: unknown, _id: string, _first: number, _count: number, _onChunk: unknown, options: { signal: AbortSignal }): Promise<never> {
  return untilAborted(options.signal)
}

/** This node and one other reader of an 8-chunk blob: their IDs, the first in reader order, and this node's half. */
async function twoReaders (): Promise<{ selfId: string, other: string, firstReader: string, mine: { start: number, end: number } }> {
  const selfId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const [firstReader] = [selfId, other].sort() as [string, string]
  const mine = firstReader === selfId ? { start: 0, end: 4 * CHUNK } : { start: 4 * CHUNK, end: 8 * CHUNK }
  return { selfId, other, firstReader, mine }
}

/** A Walrus read as the tests below record it: its chunks, and why it was ended if it was. */
interface RecordedRead { first: number, last: number, abandoned?: string }

/** What the first read of walrusWithHeldFirstRead sends, from `start` of the blob's `bytes`. */
type HeldFirstRead = (onData: (data: Uint8Array, offset: number) => void, start: number, bytes: Uint8Array) => void

/**
 * A Walrus whose reads are recorded: the first one hands on what `first`
 * sends through its onData and then waits until it is ended; later ones
 * return their bytes.
 */
function walrusWithHeldFirstRead (bytes: Uint8Array, reads: RecordedRead[], first: HeldFirstRead): DownloadContext['walrus'] {
  return {
    readRange: async (_id, range, options) => {
      const read: RecordedRead = { first: range.start / CHUNK, last: (range.end + 1) / CHUNK - 1 }
      reads.push(read)
      if (reads.length > 1) return bytes.slice(range.start, range.end + 1)
      first((data, offset) => { options?.onData?.(data, offset) }, range.start, bytes)
      const signal = options?.signal as AbortSignal
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => { read.abandoned = (signal.reason as Error).message; reject(signal.reason) })
      })
    }
  }
}

/** A Walrus whose reads are recorded, each held until `release` hands the latest its bytes; a read ended meanwhile records why. */
function walrusHeldUntilReleased (bytes: Uint8Array): { walrus: DownloadContext['walrus'], reads: RecordedRead[], release: () => void } {
  const reads: RecordedRead[] = []
  let release = (): void => {}
  return {
    reads,
    release: () => { release() },
    walrus: {
      readRange: async (_id, range, options) => {
        const read: RecordedRead = { first: range.start / CHUNK, last: (range.end + 1) / CHUNK - 1 }
        reads.push(read)
        const signal = options?.signal as AbortSignal
        return new Promise((resolve, reject) => {
          release = () => { resolve(bytes.slice(range.start, range.end + 1)) }
          signal.addEventListener('abort', () => { read.abandoned = (signal.reason as Error).message; reject(signal.reason) })
        })
      }
    }
  }
}

/** A blob of `chunks` random chunks, its description, and its download opened in `cache`. */
async function blobToDownload (cache: BlobCache, chunks: number, chunkSize = CHUNK): Promise<{ bytes: Uint8Array, description: BlobDescription, partial: PartialBlob }> {
  const bytes = new Uint8Array(randomBytes(chunks * chunkSize))
  const tree = chunkTreeOfBytes(bytes, chunkSize)
  const blobId = blobIdFromBytes(randomBytes(32))
  const description: BlobDescription = { blobId, size: bytes.byteLength, chunkSize, chunkRoot: toHex(tree.root), chunkHashesBlobId: blobIdFromBytes(randomBytes(32)) }
  const partial = await cache.partial(blobId, { size: bytes.byteLength, chunkSize, chunkRoot: description.chunkRoot, leaves: tree.leaves })
  return { bytes, description, partial }
}

/**
 * An 8-chunk download by the last of three readers that began together,
 * one of them not heard of yet: this node's share is chunks 4-7 among the
 * two it knows of, 6-7 once it hears of the third (hearLateReader, once
 * chunk 4 has landed). Its first Walrus read does as `first` says
 * (walrusWithHeldFirstRead).
 */
async function lateReaderDownload (cache: BlobCache, first: HeldFirstRead): Promise<{ bytes: Uint8Array, partial: PartialBlob, download: Download, running: Promise<void>, reads: RecordedRead[], hearLateReader: () => Promise<void> }> {
  const { bytes, description, partial } = await blobToDownload(cache, 8)
  const [early, late, selfId] = (await Promise.all([0, 1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))).sort() as [string, string, string]
  const client = { have: async () => ({ size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array(1) }) } as unknown as BlobClient
  const reads: RecordedRead[] = []
  let listed: Provider[] = [{ peerId: early, state: 'fetching', since: BEGAN }]
  const download = new Download(description, partial, await downloadContext({
    selfId,
    announcedAt: BEGAN,
    client,
    walrus: walrusWithHeldFirstRead(bytes, reads, first),
    providers: () => listed,
    // One fault would end the download: an ended read must not count as one.
    tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 4 * CHUNK, coordinationMs: 0, stallMs: 200, maxWalrusFaults: 1 }
  }))
  const hearLateReader = async (): Promise<void> => {
    for (let waited = 0; !partial.has(4) && waited < 10_000; waited += 20) await sleep(20)
    assert.ok(partial.has(4), 'the first chunk of the share read landed')
    listed = [...listed, { peerId: late, state: 'fetching', since: BEGAN }]
  }
  return { bytes, partial, download, running: download.run(), reads, hearLateReader }
}

describe('Download with fakes of its context', () => {
  it('asks for providers once per scheduling pass, ranks a fetching peer among the Walrus readers, and reports running totals', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 12)
    // Another node downloading the same blob that holds nothing yet: it takes a share of the Walrus reads until the stall.
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const listed: Provider[] = [{ peerId: other, state: 'fetching', since: BEGAN }]
    let providerCalls = 0
    let passes = 0
    const walrusRanges: Array<[number, number]> = []
    const client = {
      have: async () => ({ size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array(2) })
    } as unknown as BlobClient
    const events: FetchProgress[] = []
    const download = new Download(description, partial, await downloadContext({
      client,
      walrus: { readRange: async (_id, range) => { walrusRanges.push([range.start, range.end]); return bytes.slice(range.start, range.end + 1) } },
      providers: () => { providerCalls++; return listed },
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 2 * CHUNK, coordinationMs: 60_000, stallMs: 300 },
      meshPeers: () => { passes++; return 0 },
      onProgress: event => { events.push(event) }
    }))
    await download.run()
    assert.equal(providerCalls, passes, 'one provider lookup per pass')
    assert.equal(download.bytesFrom.walrus, bytes.byteLength)
    const chunks = events.filter(e => e.type === 'fetch:chunk')
    assert.equal(chunks.length, 12)
    const last = chunks.at(-1)
    assert.equal(last?.type === 'fetch:chunk' ? last.bytesFromWalrus : -1, bytes.byteLength)
    // Before the stall this node read only its own half: the first read started at one end of the blob, not both.
    const first = walrusRanges[0]
    assert.ok(first != null && (first[0] === 0 || first[0] === 6 * CHUNK), `first read ${String(first)}`)
    await partial.commit()
  })

  it('declares no stall while its own share read is in flight, however long it takes, and reads a missing share after it', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 8)
    // Another reader that never sends: its half is read by the stall fallback, but only once this node's own half is in.
    const { selfId, other, mine } = await twoReaders()
    const client = { have: async () => ({ size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array(1) }) } as unknown as BlobClient
    let release!: () => void
    const ownShareHeld = new Promise<void>(resolve => { release = resolve })
    const readsWhileHeld: Array<[number, number]> = []
    let held = true
    const download = new Download(description, partial, await downloadContext({
      selfId,
      announcedAt: BEGAN,
      client,
      walrus: {
        readRange: async (_id, range) => {
          const own = range.start >= mine.start && range.end < mine.end
          if (held && !own) readsWhileHeld.push([range.start, range.end])
          // Under a capped link a share read lands whole, seconds after the stall time.
          if (own) await ownShareHeld
          return bytes.slice(range.start, range.end + 1)
        }
      },
      providers: () => [{ peerId: other, state: 'fetching', since: BEGAN }],
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 4 * CHUNK, coordinationMs: 0, stallMs: 200 }
    }))
    const running = download.run()
    // Five stall times with the own share in flight: before the fix the fallback read the other reader's half meanwhile.
    await sleep(1_000)
    held = false
    release()
    await running
    assert.deepEqual(readsWhileHeld, [], 'nothing outside its own share read while that was in flight')
    assert.equal(download.bytesFrom.walrus, bytes.byteLength, 'the silent reader\'s half came from the fallback afterwards')
    await partial.commit()
  })
  it('does not count time its own event loop was frozen toward a stall: what a peer sent meanwhile is read before the fallback is judged', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 8)
    const { selfId, other, firstReader, mine } = await twoReaders()
    // The other reader's half, as its HAVE answer shows it once it arrives.
    const theirs = new Uint8Array([firstReader === selfId ? 0x0f : 0xf0])
    let answer!: () => void
    const answered = new Promise<void>(resolve => { answer = resolve })
    const client = {
      have: async () => {
        await answered
        return { size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: theirs }
      },
      chunks: async (_peer: unknown, _id: string, first: number, count: number, onChunk: (index: number, data: Uint8Array) => Promise<void>) => {
        const received: number[] = []
        for (let index = first; index < first + count; index++) {
          await onChunk(index, bytes.slice(index * CHUNK, (index + 1) * CHUNK))
          received.push(index)
        }
        return received
      }
    } as unknown as BlobClient
    const othersReadFromWalrus: Array<[number, number]> = []
    const download = new Download(description, partial, await downloadContext({
      selfId,
      announcedAt: BEGAN,
      client,
      walrus: {
        readRange: async (_id, range) => {
          if (!(range.start >= mine.start && range.end < mine.end)) othersReadFromWalrus.push([range.start, range.end])
          return bytes.slice(range.start, range.end + 1)
        }
      },
      providers: () => [{ peerId: other, state: 'fetching', since: BEGAN }],
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 4 * CHUNK, coordinationMs: 0, stallMs: 1_000 }
    }))
    const running = download.run()
    // Its own half lands at once. Then the process does not run for longer than the stall time (a starved CPU), and the other
    // reader's answer arrives meanwhile: it is handed on only after the download's own timer, overdue since before it came.
    await sleep(100)
    setImmediate(() => {
      setTimeout(answer, 500)
      const frozenUntil = Date.now() + 1_500
      while (Date.now() < frozenUntil) { /* the frozen process */ }
    })
    await running
    assert.deepEqual(othersReadFromWalrus, [], 'the other reader\'s half came from it, not from a stall read')
    assert.equal(download.bytesFrom.walrus, 4 * CHUNK)
    assert.equal(download.bytesFrom.peer, 4 * CHUNK)
    await partial.commit()
  })

  it('lands its share read chunk by chunk as the bytes arrive, one share read at a time while others share the blob', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 8)
    const { selfId, other, mine } = await twoReaders()
    const client = { have: async () => ({ size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array(1) }) } as unknown as BlobClient
    let release!: () => void
    const held = new Promise<void>(resolve => { release = resolve })
    let ownReads = 0
    let mostOwnReads = 0
    const download = new Download(description, partial, await downloadContext({
      selfId,
      announcedAt: BEGAN,
      client,
      walrus: {
        readRange: async (_id, range, options) => {
          const own = range.start >= mine.start && range.end < mine.end
          if (own) mostOwnReads = Math.max(mostOwnReads, ++ownReads)
          try {
            // The first chunk's bytes arrive in two pieces; the rest of the run is held, as through a capped link.
            const half = range.start + CHUNK / 2
            options?.onData?.(bytes.slice(range.start, half), range.start)
            options?.onData?.(bytes.slice(half, range.start + CHUNK), half)
            if (own) await held
            return bytes.slice(range.start, range.end + 1)
          } finally {
            if (own) ownReads--
          }
        }
      },
      providers: () => [{ peerId: other, state: 'fetching', since: BEGAN }],
      // Two runs in this node's share, and room for both at once.
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 2 * CHUNK, walrusReads: 4, coordinationMs: 0, stallMs: 200 }
    }))
    const running = download.run()
    const firstOwn = mine.start / CHUNK
    for (let waited = 0; !partial.has(firstOwn) && waited < 10_000; waited += 20) await sleep(20)
    assert.ok(partial.has(firstOwn), 'the share read\'s first chunk landed while the rest of its run was still on the way')
    assert.equal(mostOwnReads, 1, 'one share read at a time')
    release()
    await running
    assert.equal(download.bytesFrom.walrus, bytes.byteLength)
    await partial.commit()
  })

  it('ends a share read once a late reader makes its next chunk another reader\'s share, keeps what landed, and reads its new share', async () => {
    await using cache = await startedCache()
    // The first read lands its first chunk, and the rest is on the way until the read is ended.
    const { bytes, partial, download, running, reads, hearLateReader } = await lateReaderDownload(cache, (onData, start, bytes) => { onData(bytes.slice(start, start + CHUNK), start) })
    await hearLateReader()
    await running
    assert.deepEqual(reads[0], { first: 4, last: 7, abandoned: 'chunk 5 is now another reader\'s share' })
    assert.deepEqual(reads[1], { first: 6, last: 7 }, 'then its new share, not the late reader\'s chunk 5')
    assert.equal(download.bytesFrom.walrus, bytes.byteLength, 'what the stall fallback read later included, every chunk came once')
    await partial.commit()
  })

  it('keeps its share read when a reader whose download began later is heard of: the late reader takes the last share, whatever its ID', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 8)
    // The late reader's ID sorts first: ranked by ID, it would take chunks 0-3 from under this node's read.
    const [late, selfId] = (await Promise.all([0, 1].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))).sort() as [string, string]
    const client = { have: async () => ({ size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array(1) }) } as unknown as BlobClient
    const held = walrusHeldUntilReleased(bytes)
    const { reads } = held
    let listed: Provider[] = []
    const controller = new AbortController()
    const download = new Download(description, partial, await downloadContext({
      selfId,
      announcedAt: BEGAN,
      signal: controller.signal,
      client,
      walrus: held.walrus,
      providers: () => listed,
      // Alone, this node reads its whole blob in runs of 4 chunks, 4 reads at once; its first run is chunks 0-3.
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 4 * CHUNK, walrusReads: 1, coordinationMs: 0, stallMs: 60_000, maxWalrusFaults: 1 }
    }))
    const running = download.run()
    try {
      for (let waited = 0; reads.length === 0 && waited < 10_000; waited += 20) await sleep(20)
      assert.deepEqual(reads[0], { first: 0, last: 3 })
      listed = [{ peerId: late, state: 'fetching', since: BEGAN + 1_000 }]
      await sleep(300)
      assert.equal(reads[0]?.abandoned, undefined, 'the read of chunks 0-3 is still this node\'s share')
      held.release()
      // The late reader's share (4-7) never comes here: the test ends the download.
      for (let waited = 0; !partial.has(3) && waited < 10_000; waited += 20) await sleep(20)
      assert.ok([0, 1, 2, 3].every(i => partial.has(i)))
      assert.equal(reads.length, 1, 'no read of the late reader\'s share')
    } finally {
      controller.abort(new Error('the test is done'))
      await assert.rejects(running, /the test is done/)
    }
  })

  it('reads to its end a chunk whose bytes are arriving when a late reader makes it another reader\'s share, then ends the read', async () => {
    await using cache = await startedCache()
    let sendRestOfChunk5: (() => void) | undefined
    // Chunk 4 lands and half of chunk 5 is in when the late reader is heard of; the rest of 5 comes after, and 6-7 never.
    const { bytes, partial, download, running, reads, hearLateReader } = await lateReaderDownload(cache, (onData, start, bytes) => {
      const half = start + CHUNK + CHUNK / 2
      onData(bytes.slice(start, half), start)
      sendRestOfChunk5 = () => { onData(bytes.slice(half, start + 2 * CHUNK), half) }
    })
    await hearLateReader()
    // Several scheduling passes (100 ms apart at most) with chunk 5 half in: the read is kept.
    await sleep(300)
    assert.equal(reads[0]?.abandoned, undefined, 'the read is not ended while chunk 5\'s bytes are arriving')
    sendRestOfChunk5?.()
    await running
    assert.deepEqual(reads[0], { first: 4, last: 7, abandoned: 'chunk 6 is now another reader\'s share' })
    assert.ok(reads.slice(1).every(r => r.first > 5 || r.last < 5), `chunk 5 was read once, not again by a later read: ${JSON.stringify(reads)}`)
    assert.deepEqual(reads[1], { first: 6, last: 7 }, 'then its new share')
    assert.equal(download.bytesFrom.walrus, bytes.byteLength, 'every chunk came once')
    await partial.commit()
  })

  it('reads no share of a blob whose first reader began more than a window before it, and its share of one that began within it', async () => {
    for (const [startedBefore, expected] of [[5_000, []], [100, [{ first: 4, last: 7 }]]] as const) {
      await using cache = await startedCache()
      const { bytes, description, partial } = await blobToDownload(cache, 8)
      // The first reader's ID sorts after this node's: by ID alone this node would read the first half.
      const [selfId, first] = (await Promise.all([0, 1].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))).sort() as [string, string]
      const client = { have: async () => ({ size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array(1) }), chunks: chunksThatNeverCome } as unknown as BlobClient
      const reads: RecordedRead[] = []
      const controller = new AbortController()
      const announcedAt = Date.now()
      const download = new Download(description, partial, await downloadContext({
        selfId,
        announcedAt,
        signal: controller.signal,
        client,
        walrus: {
          readRange: async (_id, range) => {
            reads.push({ first: range.start / CHUNK, last: (range.end + 1) / CHUNK - 1 })
            return bytes.slice(range.start, range.end + 1)
          }
        },
        providers: () => [{ peerId: first, state: 'fetching', since: announcedAt - startedBefore }],
        tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 4 * CHUNK, coordinationMs: 300, stallMs: 60_000 }
      }))
      const running = download.run()
      // Well past this node's window (300 ms from its announcement), with several scheduling passes.
      await sleep(800)
      controller.abort(new Error('the test is done'))
      await assert.rejects(running, /the test is done/)
      assert.deepEqual(reads, expected, `first reader began ${startedBefore} ms before`)
      await partial.close()
    }
  })

  it('a late reader stalled behind a first reader that never reads starts its fallback where its place among all the readers falls', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 8)
    const [liar, selfId, later] = (await Promise.all([0, 1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))) as [string, string, string]
    const client = { have: async () => ({ size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array(1) }), chunks: chunksThatNeverCome } as unknown as BlobClient
    const reads: RecordedRead[] = []
    const controller = new AbortController()
    const announcedAt = Date.now()
    const download = new Download(description, partial, await downloadContext({
      selfId,
      announcedAt,
      signal: controller.signal,
      client,
      walrus: {
        // Recorded, then held: the next fallback read comes only once this one has landed.
        readRange: async (_id, range, options) => {
          reads.push({ first: range.start / CHUNK, last: (range.end + 1) / CHUNK - 1 })
          const signal = options?.signal as AbortSignal
          return new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) })
        }
      },
      // The liar claims its download began a minute ago; another reader began just after this node.
      providers: () => [{ peerId: liar, state: 'fetching', since: announcedAt - 60_000 }, { peerId: later, state: 'fetching', since: announcedAt + 10 }],
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 4 * CHUNK, coordinationMs: 300, stallMs: 300 }
    }))
    const running = download.run()
    for (let waited = 0; reads.length === 0 && waited < 10_000; waited += 20) await sleep(20)
    controller.abort(new Error('the test is done'))
    await assert.rejects(running, /the test is done/)
    // Second of three readers by start: its fallback begins at the second third of the blob, not where every late reader's would.
    assert.deepEqual(reads[0], { first: 3, last: 3 })
    await partial.close()
  })

  it('reads the share of a reader that said it stopped at once, not after the stall time', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 8)
    const { selfId, other, mine } = await twoReaders()
    const client = { have: async () => ({ size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array(1) }) } as unknown as BlobClient
    let listed: Provider[] = [{ peerId: other, state: 'fetching', since: BEGAN }]
    let stopped: string[] = []
    const download = new Download(description, partial, await downloadContext({
      selfId,
      announcedAt: BEGAN,
      client,
      walrus: { readRange: async (_id, range) => bytes.slice(range.start, range.end + 1) },
      providers: () => listed,
      stoppedReaders: () => stopped,
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 4 * CHUNK, coordinationMs: 0, stallMs: 60_000 }
    }))
    const running = download.run()
    for (let waited = 0; !partial.has(mine.start / CHUNK) && waited < 10_000; waited += 20) await sleep(20)
    await sleep(200)
    assert.equal(partial.heldCount(), 4, 'its own half only, while the other reader reads the rest')
    listed = []
    stopped = [other]
    await Promise.race([running, sleep(5_000).then(() => { throw new Error('the stopped reader\'s share was not read within 5 s') })])
    assert.equal(download.bytesFrom.walrus, bytes.byteLength)
    await partial.commit()
  })

  it('reads a one-chunk blob at once, window or not, and keeps the read when a reader that began earlier is heard of', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 1)
    // The earlier reader's ID sorts first too: by either rule the chunk would be its share.
    const [early, selfId] = (await Promise.all([0, 1].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))).sort() as [string, string]
    const client = { have: async () => ({ size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array(1) }) } as unknown as BlobClient
    const held = walrusHeldUntilReleased(bytes)
    const { reads } = held
    let listed: Provider[] = []
    const download = new Download(description, partial, await downloadContext({
      selfId,
      announcedAt: Date.now(),
      client,
      walrus: held.walrus,
      providers: () => listed,
      // A window far longer than the test: a blob of more chunks would not be read before it ends.
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, coordinationMs: 60_000, stallMs: 60_000, maxWalrusFaults: 1 }
    }))
    const running = download.run()
    for (let waited = 0; reads.length === 0 && waited < 5_000; waited += 20) await sleep(20)
    assert.deepEqual(reads, [{ first: 0, last: 0 }], 'read within 5 s of a 60 s window')
    listed = [{ peerId: early, state: 'fetching', since: BEGAN - 1_000 }]
    await sleep(300)
    assert.equal(reads[0]?.abandoned, undefined, 'the read is kept for the earlier reader')
    held.release()
    await running
    assert.equal(download.bytesFrom.walrus, bytes.byteLength)
    assert.equal(reads.length, 1)
    await partial.commit()
  })

  it('asks a downloading peer what it holds less often while it shows nothing new, and not while it holds chunks not yet asked for', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 8)
    const idle = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const busy = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const asks = new Map<string, number[]>([[idle, []], [busy, []]])
    const client = {
      // One peer holds nothing, ever; the other holds the first half, and its chunks never come (a full link).
      have: async (peer: { toString: () => string }) => {
        asks.get(peer.toString())?.push(Date.now())
        return { size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array([peer.toString() === busy ? 0xf0 : 0]) }
      },
      chunks: chunksThatNeverCome
    } as unknown as BlobClient
    const controller = new AbortController()
    const download = new Download(description, partial, await downloadContext({
      client,
      walrus: { readRange: async () => { throw new Error('not read in this test') } },
      providers: () => [{ peerId: idle, state: 'fetching' }, { peerId: busy, state: 'fetching' }],
      // No Walrus read, no stall and no pace verdict within the test: only the HAVE asks are watched.
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, haveIntervalMs: 100, coordinationMs: 60_000, stallMs: 60_000, paceWindowMs: 60_000 },
      signal: controller.signal
    }))
    const running = download.run()
    for (let waited = 0; (asks.get(idle)?.length ?? 0) < 5 && waited < 20_000; waited += 20) await sleep(20)
    controller.abort(new Error('test over'))
    await assert.rejects(running, /test over/)
    const idleAsks = asks.get(idle) ?? []
    assert.ok(idleAsks.length >= 5, `asked the idle peer ${idleAsks.length} times`)
    // Timers fire late, never early: each gap is at least the backed-off wait (100, 200, 400, 800 ms).
    const gaps = idleAsks.slice(1).map((at, i) => at - (idleAsks[i] as number))
    assert.ok((gaps[3] ?? 0) >= 700, `the waits between asks grew: ${gaps.join(', ')} ms`)
    assert.equal(asks.get(busy)?.length, 1, 'the busy peer was asked once: it still held chunks not yet asked for, its pipeline full')
  })

  it('asks a busy downloading peer again near a stall, before the fallback reads what no peer is known to hold', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 8)
    const busy = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    let asks = 0
    const client = {
      // It holds the first half, and its chunks never come: it always holds a chunk not yet asked for.
      have: async () => { asks++; return { size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array([0xf0]) } },
      chunks: chunksThatNeverCome
    } as unknown as BlobClient
    const controller = new AbortController()
    const download = new Download(description, partial, await downloadContext({
      client,
      walrus: { readRange: async () => { throw new Error('not read in this test') } },
      providers: () => [{ peerId: busy, state: 'fetching' }],
      // Nothing ever arrives, so a stall nears after 200 ms; the coordination window keeps Walrus out of the test.
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, haveIntervalMs: 100, coordinationMs: 60_000, stallMs: 400, paceWindowMs: 60_000 },
      signal: controller.signal
    }))
    const running = download.run()
    for (let waited = 0; asks < 3 && waited < 20_000; waited += 20) await sleep(20)
    controller.abort(new Error('test over'))
    await assert.rejects(running, /test over/)
    assert.ok(asks >= 3, `asked ${asks} times`)
  })

  it('follows a downloading peer through its WATCH, asking no HAVE, and takes each of its chunks as the watch shows it landed', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 8)
    const { selfId, other, firstReader, mine } = await twoReaders()
    const theirHalf = firstReader === selfId ? [4, 5, 6, 7] : [0, 1, 2, 3]
    const theirs = new Uint8Array(1)
    let haveAsks = 0
    let watches = 0
    const requested: number[] = []
    const client = {
      have: async () => { haveAsks++; return { size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: theirs.slice() } },
      // The other reader lands its half a chunk every 50 ms and pushes its bitfield each time, until the watch is reset.
      watch: async (_peer: unknown, _id: string, onHave: (reply: { size: number, chunkSize: number, complete: boolean, have: Uint8Array }) => void, options: { signal: AbortSignal }) => {
        watches++
        const push = (): void => { onHave({ size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: theirs.slice() }) }
        push()
        for (const index of theirHalf) {
          await sleep(50, undefined, { signal: options.signal })
          theirs[0] = (theirs[0] ?? 0) | (0x80 >> index)
          push()
        }
        await untilAborted(options.signal)
      },
      chunks: async (_peer: unknown, _id: string, first: number, count: number, onChunk: (index: number, data: Uint8Array) => Promise<void>) => {
        const received: number[] = []
        for (let index = first; index < first + count; index++) {
          assert.ok(((theirs[0] ?? 0) & (0x80 >> index)) !== 0, `chunk ${index} asked for before the watch showed it held`)
          requested.push(index)
          await onChunk(index, bytes.slice(index * CHUNK, (index + 1) * CHUNK))
          received.push(index)
        }
        return received
      }
    } as unknown as BlobClient
    const othersReadFromWalrus: number[] = []
    const download = new Download(description, partial, await downloadContext({
      selfId,
      announcedAt: BEGAN,
      client,
      walrus: {
        readRange: async (_id, range) => {
          if (!(range.start >= mine.start && range.end < mine.end)) othersReadFromWalrus.push(range.start / CHUNK)
          return bytes.slice(range.start, range.end + 1)
        }
      },
      providers: () => [{ peerId: other, state: 'fetching', since: BEGAN }],
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 4 * CHUNK, haveIntervalMs: 10, coordinationMs: 0, stallMs: 5_000, watchPeers: true }
    }))
    await download.run()
    assert.equal(watches, 1, 'one watch for the whole download')
    assert.equal(haveAsks, 0, 'no HAVE asked of a peer whose watch runs')
    assert.deepEqual([...requested].sort((a, b) => a - b), theirHalf, 'its half came from it, each chunk once')
    assert.deepEqual(othersReadFromWalrus, [], 'nothing of its half read from Walrus')
    await partial.commit()
  })

  for (const via of ['watch', 'have'] as const) {
    it(`drops and scores a peer whose bitfield (by ${via}) is not the blob's length, and asks it nothing more`, async () => {
      await using cache = await startedCache()
      const { bytes, description, partial } = await blobToDownload(cache, 8)
      const liar = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      // Two bytes with every bit set, for a blob of 8 chunks: it claims chunks past the blob's end.
      const answer = { size: bytes.byteLength, chunkSize: CHUNK, complete: false, have: new Uint8Array([0xff, 0xff]) }
      let haveAsks = 0
      let chunkAsks = 0
      const client = {
        have: async () => { haveAsks++; return answer },
        ...(via === 'watch'
          ? {
              watch: async (_peer: unknown, _id: string, onHave: (reply: typeof answer) => void, options: { signal: AbortSignal }) => {
                onHave(answer)
                // Dropped in onHave: the signal has ended already.
                await untilAborted(options.signal)
              }
            }
          : {}),
        chunks: async () => { chunkAsks++; return [] }
      } as unknown as BlobClient
      const scores = new PeerScores()
      const download = new Download(description, partial, await downloadContext({
        scores,
        client,
        walrus: { readRange: async (_id, range) => bytes.slice(range.start, range.end + 1) },
        providers: () => [{ peerId: liar, state: 'fetching' }],
        tuning: { ...DEFAULT_DOWNLOAD_TUNING, haveIntervalMs: 10, coordinationMs: 0, stallMs: 300, watchPeers: via === 'watch' }
      }))
      await download.run()
      assert.ok(scores.score(liar) < 0, 'scored down')
      assert.equal(haveAsks, via === 'have' ? 1 : 0, 'no HAVE asked after its bitfield')
      assert.equal(chunkAsks, 0, 'no chunk asked of it')
      assert.equal(download.bytesFrom.walrus, bytes.byteLength)
      await partial.commit()
    })
  }

  it('asks a holder again after its stream failed, rather than leaving it out for the whole download', async () => {
    await using cache = await startedCache()
    const { bytes, description, partial } = await blobToDownload(cache, 8)
    const holder = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    let requests = 0
    const client = {
      chunks: async (_peer: unknown, _id: string, first: number, count: number, onChunk: (index: number, data: Uint8Array) => Promise<void>) => {
        // The first request fails as a stream does when its connection is lost under a full link.
        if (requests++ === 0) throw new Error('The stream has been reset')
        for (let index = first; index < first + count; index++) await onChunk(index, bytes.slice(index * CHUNK, (index + 1) * CHUNK))
        return []
      }
    } as unknown as BlobClient
    const download = new Download(description, partial, await downloadContext({
      client,
      walrus: { readRange: async (_id, range) => bytes.slice(range.start, range.end + 1) },
      providers: () => [{ peerId: holder, state: 'holder' }],
      // Walrus only after 10 s: the holder rests 0.5 s after its failure, so it is asked again well before (on a loaded machine too).
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 8 * CHUNK, requestsPerPeer: 1, coordinationMs: 10_000, stallMs: 60_000 }
    }))
    await download.run()
    assert.ok(requests >= 2, `asked the holder ${requests} times`)
    assert.equal(download.bytesFrom.peer, bytes.byteLength, 'every chunk from the holder, none from Walrus')
    await partial.commit()
  })
  it('counts a peer\'s bytes as they arrive: a holder whose chunks land whole seconds apart through a shared link is neither silent nor a stall', async () => {
    await using cache = await startedCache()
    const chunk = 16 * 1024
    const piece = 256
    const { bytes, description, partial } = await blobToDownload(cache, 4, chunk)
    const holder = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const client = {
      // A chunk's bytes trickle in, a piece every 20 ms: it lands after at least 1.28 s, longer than the stall time and the
      // pace judgement (3 windows) below, while its bytes keep well above the least pace.
      chunks: async (_peer: unknown, _id: string, first: number, count: number, onChunk: (index: number, data: Uint8Array) => Promise<void>, options: { signal: AbortSignal, onBytes?: (bytes: number) => void }) => {
        const received: number[] = []
        for (let index = first; index < first + count; index++) {
          for (let sent = 0; sent < chunk; sent += piece) {
            await sleep(20, undefined, { signal: options.signal })
            options.onBytes?.(piece)
          }
          await onChunk(index, bytes.slice(index * chunk, (index + 1) * chunk))
          received.push(index)
        }
        return received
      }
    } as unknown as BlobClient
    const download = new Download(description, partial, await downloadContext({
      client,
      walrus: { readRange: async (_id, range) => bytes.slice(range.start, range.end + 1) },
      providers: () => [{ peerId: holder, state: 'holder' }],
      // One piece in a window (500 ms) keeps the pace: a timer late by most of a window on a loaded machine does not fail it.
      tuning: { ...DEFAULT_DOWNLOAD_TUNING, requestBytes: 4 * chunk, requestsPerPeer: 1, coordinationMs: 60_000, stallMs: 1_000, paceWindowMs: 500, minSourceBytesPerSec: 512 },
      // About 5 s here; the code that counted landed chunks alone did not finish within this bound.
      signal: AbortSignal.timeout(30_000)
    }))
    await download.run()
    assert.equal(download.bytesFrom.walrus, 0, 'nothing from Walrus')
    assert.equal(download.bytesFrom.peer, bytes.byteLength)
    await partial.commit()
  })
})

describe('paceVerdict', () => {
  const windowMs = 1_000
  const base = { holder: false, otherSources: 2, minBytesPerSec: 256 * 1024, chunkBytes: 1024 * 1024, windowMs }

  it('keeps a peer still downloading that sent a chunk a window ago, with nothing from any peer since: a shared capped link', () => {
    const now = 100_000
    const source = new DeliveryWindow(windowMs)
    source.add(1024 * 1024, now - 1_500)
    const download = new DeliveryWindow(windowMs)
    download.add(1024 * 1024, now - 1_500)
    assert.equal(paceVerdict({ ...base, demandSince: now - 10_000, source, lastDeliveryAt: now - 1_500, download, now }), 'on-pace')
    // Idle for the whole judgement time since its last chunk: dropped, as before.
    assert.equal(paceVerdict({ ...base, demandSince: now - 10_000, source, lastDeliveryAt: now - 3_000, download, now }), 'slow')
  })

  it('still judges a holder from when it was first asked: a slow liar claiming the whole blob loses its chunks', () => {
    const now = 100_000
    const source = new DeliveryWindow(windowMs)
    source.add(1024 * 1024, now - 1_500)
    assert.equal(paceVerdict({ ...base, holder: true, demandSince: now - 10_000, source, lastDeliveryAt: now - 1_500, download: new DeliveryWindow(windowMs), now }), 'slow')
  })
})
