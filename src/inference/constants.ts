/** The inference layer's defaults: the node config (`inference.*`) and the layer's classes start from these. */

const MIB = 1024 * 1024

/** Runs at once on the inference threads... */
export const DEFAULT_CONCURRENCY = 2
/** ...and runs waiting for them; past the queue a request is answered BUSY. */
export const DEFAULT_QUEUE_DEPTH = 32
/** A request without its own deadline gets this one. */
export const DEFAULT_DEADLINE_MS = 60_000
/** No request, whatever deadline it asks for, holds a queue slot or a caller longer. */
export const DEFAULT_MAX_DEADLINE_MS = 10 * 60_000
/** A request is forwarded to a holder at most this many times. */
export const DEFAULT_MAX_HOPS = 1
/** What the routing policy expects a fetch to achieve, from peers and from Walrus. */
export const DEFAULT_PEER_FETCH_BYTES_PER_SEC = 100 * MIB
export const DEFAULT_WALRUS_FETCH_BYTES_PER_SEC = 20 * MIB
/** What the routing policy expects loading a model file into a session to achieve. */
export const DEFAULT_LOAD_BYTES_PER_SEC = 200 * MIB

/** Estimated memory of open onnxruntime sessions; the least useful idle one is closed past it. */
export const DEFAULT_MEMORY_BUDGET_BYTES = 2 * 1024 * MIB
export const DEFAULT_INTRA_OP_THREADS = 1
export const DEFAULT_INTER_OP_THREADS = 1
export const DEFAULT_GRAPH_OPTIMIZATION_LEVEL = 'all'

/**
 * What one run may use by default (`inference.maxRunBytes`): with the default two runs at once, 1 GiB
 * beside the 2 GiB of sessions. The MLP (16 → 512 → 512 → 8) gets about 106,000 rows.
 */
export const DEFAULT_MAX_RUN_BYTES = 512 * MIB
/**
 * A session whose run was estimated, or seen, to take this much is closed after it. onnxruntime's
 * CPU arena keeps what a run grew it to for the session's life (a [156250, 16] batch on a 512-wide
 * MLP left 650 MB), and onnxruntime-node has no per-run shrinkage option; closing the session
 * returns it (RSS back to within ~20 MB), and the next run pays a reload (4 ms for that MLP, 56 ms
 * for PaddleOCR detection). Small runs keep the arena, which is what makes them fast (without it
 * PaddleOCR detection ran 17% slower on a 64×64 image).
 */
export const DEFAULT_RELEASE_AFTER_RUN_BYTES = 64 * MIB
/**
 * Such a session is closed this long after the last run that grew it, not at once: runs of that size
 * in a row (PaddleOCR detection on 960×960 pages) reuse its arena instead of paying a reload each
 * (367 ms a run against 272 with the session kept), and the memory goes back a second after they stop.
 */
export const DEFAULT_RELEASE_IDLE_MS = 1_000

/**
 * A run measured at most this long goes on the event loop instead of an
 * inference thread (`inference.inlineMaxRunMs`): the hop there and back (a
 * message each way, tensors copied as protobuf) takes longer than such a run,
 * and blocking the loop for this long costs less than the hop.
 */
export const DEFAULT_INLINE_MAX_RUN_MS = 0.5
