/**
 * The child side of a benchmark's helper process (an asker, a peer, the
 * devnet): answers the parent's requests over IPC, and exits when the
 * parent goes. A parent killed outright (SIGKILL, a crash) closes the
 * channel without a `stop`; a child with servers or a libp2p node open
 * would otherwise run on, holding the shared cores.
 */
export type ChildAnswer = { id: number, ok: true, value: unknown } | { id: number, ok: false, error: string }

export function serveParent<R extends { op: string }> (handle: (request: R) => Promise<unknown>): void {
  process.on('disconnect', () => { process.exit(0) })
  process.on('message', (message: R & { id: number }) => {
    handle(message).then(
      value => { process.send?.({ id: message.id, ok: true, value } satisfies ChildAnswer) },
      (err: unknown) => { process.send?.({ id: message.id, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) } satisfies ChildAnswer) }
    ).finally(() => { if (message.op === 'stop') process.disconnect() })
  })
}
