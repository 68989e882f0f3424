import { BLOB_ID_BYTES, blobIdFromBytes, blobIdToBytes, type BlobId } from '../blob/blob-id.js'
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { MAX_ANNOUNCED_ADDRESS_BYTES, MAX_ANNOUNCED_ADDRESSES, MAX_ANNOUNCED_IDS, MAX_ANNOUNCEMENT_BYTES, MAX_DIGEST_COUNT, MAX_DIGEST_FILTER_BYTES, MAX_FETCHING_AGE_MS, MAX_WARM_IDS } from './constants.js'
import { BlobDigest, MAX_DIGEST_HASHES } from './blob-digest.js'
import { plainBytes } from './bytes.js'
import { MeshProtocolError } from './errors.js'
import { CacheAnnouncement, type CacheDigest } from './pb/announcement.js'
import type { PeerLoad } from './provider-index.js'

/**
 * An honest filter's estimated count strays from its true count by a few
 * percent; these bounds leave room for that and for nothing like a full filter.
 */
const DIGEST_COUNT_SLACK = 1.5
const DIGEST_COUNT_MARGIN = 16

export interface Announcement {
  seq: bigint
  time: number
  added: BlobId[]
  dropped: BlobId[]
  fetching: BlobId[]
  /** When each download in `fetching` began, at the publisher; absent from publishers that do not say. */
  fetchingSince?: number[]
  digest?: { filter: BlobDigest, count: number }
  load?: PeerLoad
  /** The publisher's listen addresses, without its peer ID; absent from publishers that do not say. */
  addresses?: Multiaddr[]
}

/** A Bloom filter over blob IDs at about 1% false positives, within the gossip size limit. */
export function digestOf (blobIds: string[]): CacheDigest {
  // Past the count peers believe, a digest of some of the cache: the rest is still announced one by one.
  const ids = blobIds.slice(0, MAX_DIGEST_COUNT)
  const digest = BlobDigest.forCount(ids.length, 0.01, MAX_DIGEST_FILTER_BYTES)
  for (const id of ids) digest.add(id)
  return { count: ids.length, bits: digest.bits, hashes: digest.hashes, filter: plainBytes(digest.filter) }
}

export function encodeAnnouncement (announcement: Omit<Announcement, 'digest'> & { digest?: CacheDigest }): Uint8Array {
  const bytes = CacheAnnouncement.encode({
    seq: announcement.seq,
    time: BigInt(announcement.time),
    added: announcement.added.map(id => plainBytes(blobIdToBytes(id))),
    dropped: announcement.dropped.map(id => plainBytes(blobIdToBytes(id))),
    fetching: announcement.fetching.map(id => plainBytes(blobIdToBytes(id))),
    fetchingSince: (announcement.fetchingSince ?? []).map(time => BigInt(time)),
    ...(announcement.digest != null ? { digest: announcement.digest } : {}),
    ...(announcement.load != null ? { load: { ...announcement.load, warm: announcement.load.warm.slice(0, MAX_WARM_IDS).map(id => plainBytes(blobIdToBytes(id))) } } : {}),
    addresses: (announcement.addresses ?? []).slice(0, MAX_ANNOUNCED_ADDRESSES).map(address => address.bytes)
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

/** The publisher's addresses: each a multiaddr that names no peer (the signer is the peer), within the size bound. */
function addresses (list: Uint8Array[]): Multiaddr[] {
  return list.map((bytes, i) => {
    if (bytes.byteLength > MAX_ANNOUNCED_ADDRESS_BYTES) throw new MeshProtocolError(`addresses[${i}] is ${bytes.byteLength} bytes, over ${MAX_ANNOUNCED_ADDRESS_BYTES}`)
    let address: Multiaddr
    try {
      address = multiaddr(bytes)
    } catch (err) {
      throw new MeshProtocolError(`addresses[${i}] is not a multiaddr: ${(err as Error).message}`)
    }
    if (address.getComponents().some(c => c.code === CODE_P2P)) throw new MeshProtocolError(`addresses[${i}] names a peer: a publisher announces only its own addresses, without /p2p`)
    return address
  })
}

/** The start of each announced download: one per `fetching` entry, none after the announcement nor more than MAX_FETCHING_AGE_MS before it. */
function fetchingSince (message: CacheAnnouncement): number[] {
  if (message.fetchingSince.length !== message.fetching.length) throw new MeshProtocolError(`fetchingSince has ${message.fetchingSince.length} entries for ${message.fetching.length} in fetching`)
  return message.fetchingSince.map((since, i) => {
    if (since > message.time) throw new MeshProtocolError(`fetchingSince[${i}] is after the announcement's time`)
    if (message.time - since > BigInt(MAX_FETCHING_AGE_MS)) throw new MeshProtocolError(`fetchingSince[${i}] is more than ${MAX_FETCHING_AGE_MS} ms before the announcement's time`)
    return Number(since)
  })
}

/** Decodes and checks an announcement from a peer: any violation is a MeshProtocolError that names it. */
export function decodeAnnouncement (data: Uint8Array): Announcement {
  if (data.byteLength > MAX_ANNOUNCEMENT_BYTES) throw new MeshProtocolError(`announcement of ${data.byteLength} bytes is over the ${MAX_ANNOUNCEMENT_BYTES}-byte limit`)
  let message: CacheAnnouncement
  try {
    message = CacheAnnouncement.decode(data, {
      limits: { added: MAX_ANNOUNCED_IDS, dropped: MAX_ANNOUNCED_IDS, fetching: MAX_ANNOUNCED_IDS, fetchingSince: MAX_ANNOUNCED_IDS, addresses: MAX_ANNOUNCED_ADDRESSES, load: { warm: MAX_WARM_IDS } }
    })
  } catch (err) {
    throw new MeshProtocolError(`announcement is not a valid CacheAnnouncement: ${(err as Error).message}`)
  }
  if (message.seq === 0n || message.time === 0n) throw new MeshProtocolError('announcement has no sequence number or time')
  const announcement: Announcement = {
    seq: message.seq,
    time: Number(message.time),
    added: blobIds('added', message.added),
    dropped: blobIds('dropped', message.dropped),
    fetching: blobIds('fetching', message.fetching)
  }
  if (message.fetchingSince.length > 0) announcement.fetchingSince = fetchingSince(message)
  if (message.digest != null) {
    const { bits, hashes, filter, count } = message.digest
    if (filter.byteLength > MAX_DIGEST_FILTER_BYTES) throw new MeshProtocolError(`digest filter of ${filter.byteLength} bytes is over ${MAX_DIGEST_FILTER_BYTES}`)
    if (bits === 0 || Math.ceil(bits / 8) !== filter.byteLength) throw new MeshProtocolError(`digest says ${bits} bits but carries ${filter.byteLength} bytes`)
    if (hashes < 1 || hashes > MAX_DIGEST_HASHES) throw new MeshProtocolError(`digest uses ${hashes} hashes; from 1 to ${MAX_DIGEST_HASHES} are allowed`)
    if (count > MAX_DIGEST_COUNT) throw new MeshProtocolError(`digest claims ${count} blobs; at most ${MAX_DIGEST_COUNT} are believed`)
    const digest = new BlobDigest({ bits, hashes, filter })
    // A filter fuller than its count explains claims blobs its sender never added (all bits set claims every blob).
    const estimated = digest.estimatedCount()
    if (estimated > count * DIGEST_COUNT_SLACK + DIGEST_COUNT_MARGIN) throw new MeshProtocolError(`digest of ${count} blobs has bits set for about ${Number.isFinite(estimated) ? Math.round(estimated) : 'every blob'}`)
    announcement.digest = { filter: digest, count }
  }
  if (message.load != null) announcement.load = { ...message.load, warm: blobIds('load.warm', message.load.warm) }
  if (message.addresses.length > 0) announcement.addresses = addresses(message.addresses)
  return announcement
}
