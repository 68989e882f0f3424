/**
 * Live mode's requests to a node's HTTP API: one model fetch read to the end
 * of its NDJSON, and one inference run.
 */

import { forEachLine } from '../harness/ndjson-lines.js'

export interface FetchOutcome {
  ok: boolean
  /** The node answered `source: 'local'`: it held the model. */
  cachedAtNode: boolean
  /** This request saw the download start (fetch:start): its events are the download's. */
  sawStart: boolean
  peerBytes: number
  walrusBytes: number
  ms: number
  /**
   * From the request to its download's start (`fetch:start`: the blob
   * described, its chunk hashes read, room made in the cache). Absent when
   * the node held the model or the request joined a download already running.
   */
  startMs?: number
  error?: string
}

/** POSTs the fetch and reads its NDJSON to the end. */
export async function fetchModel (api: string, blobId: string, timeoutMs: number, signal: AbortSignal): Promise<FetchOutcome> {
  const started = performance.now()
  const outcome: FetchOutcome = { ok: false, cachedAtNode: false, sawStart: false, peerBytes: 0, walrusBytes: 0, ms: 0 }
  try {
    const response = await fetch(`${api}/v1/blobs/${blobId}/fetch`, { method: 'POST', signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) })
    if (!response.ok || response.body == null) {
      outcome.error = `fetch: HTTP ${response.status} ${(await response.text().catch(() => '')).slice(0, 200)}`
      return outcome
    }
    const onLine = (line: string): void => {
      if (line.trim() === '') return
      let event: any
      try { event = JSON.parse(line) } catch { return }
      switch (event?.type) {
        case 'fetch:start':
          outcome.sawStart = true
          outcome.startMs = performance.now() - started
          break
        case 'fetch:chunk':
          if (event.source === 'peer') outcome.peerBytes += event.bytes ?? 0
          else if (event.source === 'walrus') outcome.walrusBytes += event.bytes ?? 0
          break
        case 'fetch:done':
          outcome.ok = true
          outcome.cachedAtNode = event.source === 'local'
          outcome.ms = performance.now() - started
          break
        case 'error':
          outcome.error = `fetch: ${event.error?.name ?? 'Error'}: ${event.error?.message ?? ''}`.slice(0, 300)
          break
      }
    }
    await forEachLine(response.body as unknown as AsyncIterable<Uint8Array>, onLine)
    if (!outcome.ok && outcome.error == null) outcome.error = 'fetch: the stream ended without fetch:done'
  } catch (err) {
    outcome.ok = false
    outcome.error = `fetch: ${(err as Error).name}: ${(err as Error).message}`.slice(0, 300)
  }
  return outcome
}

/** Runs the model once on a small input; the latency in ms, or an error. */
export async function inferOnce (api: string, blobId: string, inputSize: number, timeoutMs: number, signal: AbortSignal): Promise<{ ms: number } | { error: string }> {
  const started = performance.now()
  try {
    const data = Array.from({ length: inputSize }, (_, i) => ((i % 7) - 3) / 4)
    const response = await fetch(`${api}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: blobId, inputs: { x: { type: 'float32', dims: [1, inputSize], data } }, deadlineMs: timeoutMs }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
    })
    const body = await response.text()
    if (!response.ok) return { error: `infer: HTTP ${response.status} ${body.slice(0, 200)}` }
    return { ms: performance.now() - started }
  } catch (err) {
    return { error: `infer: ${(err as Error).name}: ${(err as Error).message}`.slice(0, 300) }
  }
}
