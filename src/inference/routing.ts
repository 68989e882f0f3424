/**
 * Where to run a model this node does not hold: fetch it and run here, or
 * forward the request to a holder. Pure, so the simulation can use it as is.
 *
 * The expected time of each choice:
 *   fetch   = model bytes / fetch throughput + load time + local queue wait
 *   forward = 2 × RTT to the holder + its queue wait + (load time if not warm)
 * and the smaller wins. A request already forwarded `maxHops` times runs here.
 */
export interface HolderView {
  peerId: string
  /** Requests queued or running there, from its gossiped load. */
  queue: number
  rttMs: number
  /** Whether the holder is known to have a session for the model loaded. */
  warm: boolean
}

export interface RouteInput {
  modelBytes: number
  /** Requests queued or running here. */
  localQueue: number
  holders: HolderView[]
  hops: number
  maxHops: number
  /** Expected fetch throughput: peers if any hold the model, Walrus otherwise. */
  fetchBytesPerSec: number
  /** Expected session load throughput (bytes of model per second). */
  loadBytesPerSec: number
  /** Expected time of one run, for queue waits. */
  runMs: number
}

export type Route =
  | { kind: 'fetch', expectedMs: number }
  | { kind: 'forward', peerId: string, expectedMs: number }

export function chooseRoute (input: RouteInput): Route {
  const loadMs = input.modelBytes / input.loadBytesPerSec * 1000
  const fetchMs = input.modelBytes / input.fetchBytesPerSec * 1000 + loadMs + (input.localQueue + 1) * input.runMs
  const fetch: Route = { kind: 'fetch', expectedMs: fetchMs }
  if (input.hops >= input.maxHops) return fetch
  let best: Route = fetch
  for (const holder of input.holders) {
    const expectedMs = 2 * holder.rttMs + (holder.queue + 1) * input.runMs + (holder.warm ? 0 : loadMs)
    if (expectedMs < best.expectedMs) best = { kind: 'forward', peerId: holder.peerId, expectedMs }
  }
  return best
}
