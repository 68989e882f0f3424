/** The gossipsub topic of cache announcements. */
export const CACHE_TOPIC = 'herd/cache/1'
export const BLOB_PROTOCOL = '/herd/blob/1.0.0'
export const KAD_PROTOCOL = '/herd/kad/1.0.0'

/** Gossip carries hints, not bytes: an announcement larger than this is rejected by the topic validator. */
export const MAX_ANNOUNCEMENT_BYTES = 64 * 1024
/** Blob IDs listed in one announcement's added, dropped or fetching field. */
export const MAX_ANNOUNCED_IDS = 256
/** A download's start, as announced, is at most this long before the announcement: older is no honest download's. */
export const MAX_FETCHING_AGE_MS = 24 * 60 * 60 * 1000
/** Listen addresses a publisher announces: room for a few transports over IPv4 and IPv6, half what hearsay-bound.ts lets a peer known by hearsay keep. */
export const MAX_ANNOUNCED_ADDRESSES = 8
/** One announced address, binary: an IPv6 TCP address takes 21 bytes, a DNS name of 253 characters with its port about 260. */
export const MAX_ANNOUNCED_ADDRESS_BYTES = 300
/** Warm models one announcement lists: a node keeps few sessions loaded, and a hint past these is not worth the bytes. */
export const MAX_WARM_IDS = 32
/** The digest's Bloom filter: at most this many bytes. */
export const MAX_DIGEST_FILTER_BYTES = 32 * 1024
/**
 * A digest claiming more blobs than this is refused: the filter holds about
 * 27,000 at 1% false positives, and past that it would claim a large share
 * of every blob ID.
 */
export const MAX_DIGEST_COUNT = 30_000
export const DIGEST_INTERVAL_MS = 30_000
/** A provider record not refreshed by an announcement or digest within this time is forgotten. */
export const PROVIDER_TTL_MS = 90_000
/**
 * Provider records (a peer holds or is fetching a blob) kept from one signer
 * within a TTL: an honest node announces the blobs it added in the last
 * minute or two, and its digest covers the rest. A valid announcement names
 * up to 512 new blobs, so without a bound a peer publishing as fast as
 * gossip verifies could grow the index by millions of records a second.
 */
export const MAX_PROVIDER_RECORDS_PER_PEER = 4096
/** Provider records kept in all, whatever the signers (keys cost nothing): about 40 MB at most. */
export const MAX_PROVIDER_RECORDS = 262_144
/** Digests kept, one per signer: at most MAX_DIGEST_FILTER_BYTES each, 32 MiB in all. */
export const MAX_DIGESTS = 1024

/** A request is one small message. */
export const MAX_BLOB_REQUEST_BYTES = 256
/** A response carries at most the chunk hashes of a 64 GiB blob at 1 MiB chunks. */
export const MAX_BLOB_RESPONSE_BYTES = 2 * 1024 * 1024 + 1024
/** At most this many chunks per CHUNKS request, and this many bytes of them. */
export const MAX_CHUNKS_PER_REQUEST = 64
export const MAX_BYTES_PER_REQUEST = 64 * 1024 * 1024
/** Per connection, on /herd/blob/1.0.0. */
export const MAX_INBOUND_BLOB_STREAMS = 16
export const MAX_OUTBOUND_BLOB_STREAMS = 16
/** Silence on a blob stream longer than this aborts it. */
export const BLOB_STREAM_IDLE_TIMEOUT_MS = 20_000
/** A WATCH stream's updates come this far apart at least: a peer landing chunks fast sends one bitfield per interval, not one per chunk. */
export const WATCH_INTERVAL_MS = 250
/** ...and at most this far apart, changed or not, so that neither end's idle timeout ends a watch of a download that is slow. */
export const WATCH_REFRESH_MS = BLOB_STREAM_IDLE_TIMEOUT_MS / 2
/** WATCH streams a node serves at once, and to one peer: past them it answers BUSY, and the asker polls with HAVE. */
export const MAX_WATCHES = 256
export const MAX_WATCHES_PER_PEER = 4
/**
 * A HAVE or WATCH of a blob this node announced fetching but has no partial
 * of yet waits this long at most for it (a chunk-hash read is one Walrus
 * latency; under load, seconds), looking every PENDING_BLOB_POLL_MS: well
 * inside both ends' idle timeout.
 */
export const PENDING_BLOB_WAIT_MS = BLOB_STREAM_IDLE_TIMEOUT_MS / 2
export const PENDING_BLOB_POLL_MS = 50

/** identify's own default, given explicitly so that the prefix guard and identify agree. */
export const IDENTIFY_MAX_MESSAGE_BYTES = 8 * 1024
/** kad-dht reads with no limit of its own: its reader's buffer (4 MiB) is what bounds a message. */
export const KAD_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
/** Per connection, on the DHT protocol (kad-dht's own default, given explicitly). */
export const KAD_MAX_INBOUND_STREAMS = 32

/**
 * Connections one IP may hold with a node, in either direction (those of
 * `mesh.allow` aside): more than honest peers behind one NAT need, and far
 * below libp2p's bound for the whole node (300).
 */
export const MAX_CONNECTIONS_PER_IP = 16
/**
 * Streams a peer may hold open on one connection, whatever their protocol:
 * the protocols' own bounds add up to about 60 (blob 16, infer 8, DHT 32,
 * identify, ping, gossip); yamux's default, 1,000, let one connection keep a
 * thousand streams in negotiation.
 */
export const MAX_INBOUND_STREAMS_PER_CONNECTION = 128

/** Herd peers kept across restarts (DATA_DIR/peers): the most recently met. */
export const MAX_KNOWN_PEERS = 64
/** Known peers dialed after a start unless mesh.redialKnownPeers says otherwise: enough to rejoin the mesh, far below libp2p's connection limit. */
export const REDIAL_KNOWN_PEERS = 16
