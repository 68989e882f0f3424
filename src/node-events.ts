import type { InferenceTiming } from './inference/inference-service.js'
import type { FetchTiming } from './mesh/fetch-timing.js'
import type { ProofTiming } from './proof/proof-timing.js'

/**
 * What happens in a node that an operator wants to see as it happens: one
 * feed for the terminal (`herd start`) and the API, so neither reaches into
 * the node's parts. Each event is a `CustomEvent<NodeEvent>` named `'event'`;
 * the detail's `type` says which.
 */
export type NodeEvent =
  | { type: 'peer:joined', at: number, peerId: string }
  | { type: 'peer:left', at: number, peerId: string }
  | { type: 'download:started', at: number, blobId: string, size: number, chunks: number, held: number }
  | { type: 'download:finished', at: number, blobId: string, size: number, bytesFromPeers: number, bytesFromWalrus: number, peers: number, ms: number }
  /** A download ended without the blob: it failed, or the node is stopping (what it got stays on disk, resumable). */
  | { type: 'download:stopped', at: number, blobId: string }
  | { type: 'cache:removed', at: number, blobId: string, reason: string }
  | { type: 'model:loaded', at: number, blobId: string }
  | { type: 'bundle:anchored', at: number, bundleBlobId: string, receipts: number }
  | { type: 'bundle:refused', at: number, receipts: number, status: number, reason: string, setAside: boolean }
  /** The node paid to keep a blob it is responsible for on Walrus (a model it pushed, a pin, a proof bundle) past `toEpoch`. */
  | { type: 'storage:renewed', at: number, blobId: string, fromEpoch: number, toEpoch: number, cost?: number }
  /** A blob lost, one the node cannot extend, or the spending ceiling reached (src/storage/keeper.ts, StorageWarning). */
  | { type: 'storage:warning', at: number, kind: string, blobId?: string, message: string }
  | { type: 'funds:blocked', at: number, address: string, error: string }
  | { type: 'proofs:failed', at: number, error: string }

/** Events that mean something needs the operator; the rest are news. */
export const WARNING_EVENTS: ReadonlySet<NodeEvent['type']> = new Set(['download:stopped', 'bundle:refused', 'storage:warning', 'funds:blocked', 'proofs:failed'])

/** A duration one of the node's parts measured: the detail of a `'timing'` event on the same feed, for the API's histograms. */
export type NodeTiming = FetchTiming | InferenceTiming | ProofTiming

type Listener<T> = ((event: CustomEvent<T>) => void) | { handleEvent: (event: CustomEvent<T>) => void } | null

type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

type AddOptions = Parameters<EventTarget['addEventListener']>[2]
type RemoveOptions = Parameters<EventTarget['removeEventListener']>[2]

interface NodeFeedEvents {
  event: NodeEvent
  timing: NodeTiming
}

// Typed listeners on a plain EventTarget, as the cache's.
export interface NodeEventFeed {
  addEventListener: (<K extends keyof NodeFeedEvents>(type: K, listener: Listener<NodeFeedEvents[K]>, options?: AddOptions) => void) & EventTarget['addEventListener']
  removeEventListener: (<K extends keyof NodeFeedEvents>(type: K, listener: Listener<NodeFeedEvents[K]>, options?: RemoveOptions) => void) & EventTarget['removeEventListener']
}

export class NodeEventFeed extends EventTarget {
  /** Stamps an event with the time and hands it to every listener. */
  emit (event: Without<NodeEvent, 'at'>): void {
    this.dispatchEvent(new CustomEvent<NodeEvent>('event', { detail: { ...event, at: Date.now() } as NodeEvent }))
  }

  /** A duration measured, for the metrics; not news for the operator's lines. */
  timing (timing: NodeTiming): void {
    this.dispatchEvent(new CustomEvent<NodeTiming>('timing', { detail: timing }))
  }
}
