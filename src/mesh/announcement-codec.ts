import { BloomFilter, createBloomFilter, type Filter } from '@libp2p/utils'
import { BLOB_ID_BYTES, blobIdFromBytes, blobIdToBytes, type BlobId } from '../blob/blob-id.js'
import { MAX_ANNOUNCED_IDS, MAX_ANNOUNCEMENT_BYTES, MAX_DIGEST_FILTER_BYTES } from './constants.js'
import { plainBytes } from './bytes.js'
import { MeshProtocolError } from './errors.js'
import { CacheAnnouncement, type CacheDigest, type NodeLoad } from './pb/announcement.js'

const MAX_DIGEST_SEEDS = 32

export interface Announcement {
  seq: bigint
  time: number
  added: BlobId[]
  dropped: BlobId[]
  fetching: BlobId[]
  digest?: { filter: Filter, count: number }
  load?: NodeLoad
}

/** A Bloom filter over blob IDs at about 1% false positives, within the gossip size limit. */
export function digestOf (blobIds: string[]): CacheDigest {
  const filter = createBloomFilter(Math.max(1, blobIds.length), 0.01)
  if (!(filter instanceof BloomFilter)) throw new Error('createBloomFilter returned another kind of filter')
  for (const id of blobIds) filter.add(id)
  if (filter.buffer.byteLength > MAX_DIGEST_FILTER_BYTES) {
    // More blobs than a digest can hold at 1%: a denser filter keeps the message bounded.
    const dense = new BloomFilter({ bits: MAX_DIGEST_FILTER_BYTES * 8, hashes: 7 })
    for (const id of blobIds) dense.add(id)
    return { count: blobIds.length, bits: dense.bits, seeds: dense.seeds, filter: plainBytes(dense.buffer) }
  }
  return { count: blobIds.length, bits: filter.bits, seeds: filter.seeds, filter: plainBytes(filter.buffer) }
}

export function encodeAnnouncement (announcement: Omit<Announcement, 'digest'> & { digest?: CacheDigest }): Uint8Array {
  const bytes = CacheAnnouncement.encode({
    seq: announcement.seq,
    time: BigInt(announcement.time),
    added: announcement.added.map(id => plainBytes(blobIdToBytes(id))),
    dropped: announcement.dropped.map(id => plainBytes(blobIdToBytes(id))),
    fetching: announcement.fetching.map(id => plainBytes(blobIdToBytes(id))),
    ...(announcement.digest != null ? { digest: announcement.digest } : {}),
    ...(announcement.load != null ? { load: announcement.load } : {})
  })
  if (bytes.byteLength > MAX_ANNOUNCEMENT_BYTES) throw new MeshProtocolError(`announcement of ${bytes.byteLength} bytes is over the ${MAX_ANNOUNCEMENT_BYTES}-byte limit`)
  return bytes
}

function blobIds (field: string, list: Uint8Array[]): BlobId[] {
  return list.map((bytes, i) => {
    if (bytes.byteLength !== BLOB_ID_BYTES) throw new MeshProtocolError(`${field}[${i}] is ${bytes.byteLength} bytes, not a ${BLOB_ID_BYTES}-byte blob ID`)
    return blobIdFromBytes(bytes)
  })
}

/** Decodes and checks an announcement from a peer: any violation is a MeshProtocolError that names it. */
export function decodeAnnouncement (data: Uint8Array): Announcement {
  if (data.byteLength > MAX_ANNOUNCEMENT_BYTES) throw new MeshProtocolError(`announcement of ${data.byteLength} bytes is over the ${MAX_ANNOUNCEMENT_BYTES}-byte limit`)
  let message: CacheAnnouncement
  try {
    message = CacheAnnouncement.decode(data, {
      limits: { added: MAX_ANNOUNCED_IDS, dropped: MAX_ANNOUNCED_IDS, fetching: MAX_ANNOUNCED_IDS, digest: { seeds: MAX_DIGEST_SEEDS } }
    })
  } catch (err) {
    throw new MeshProtocolError(`announcement is not a valid CacheAnnouncement: ${(err as Error).message}`)
  }
  const announcement: Announcement = {
    seq: message.seq,
    time: Number(message.time),
    added: blobIds('added', message.added),
    dropped: blobIds('dropped', message.dropped),
    fetching: blobIds('fetching', message.fetching)
  }
  if (message.digest != null) {
    const { bits, seeds, filter, count } = message.digest
    if (filter.byteLength > MAX_DIGEST_FILTER_BYTES) throw new MeshProtocolError(`digest filter of ${filter.byteLength} bytes is over ${MAX_DIGEST_FILTER_BYTES}`)
    if (bits === 0 || Math.ceil(bits / 8) !== filter.byteLength) throw new MeshProtocolError(`digest says ${bits} bits but carries ${filter.byteLength} bytes`)
    if (seeds.length === 0) throw new MeshProtocolError('digest has no hash seeds')
    const bloom = new BloomFilter({ bits, seeds })
    bloom.buffer = filter
    announcement.digest = { filter: bloom, count }
  }
  if (message.load != null) announcement.load = message.load
  return announcement
}
