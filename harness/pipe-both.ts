import type { Socket } from 'node:net'

/** Pipes two sockets into each other; either one's error or close ends both. */
export function pipeBoth (a: Socket, b: Socket): void {
  a.pipe(b)
  b.pipe(a)
  const close = (): void => { a.destroy(); b.destroy() }
  a.once('error', close)
  b.once('error', close)
  a.once('close', close)
  b.once('close', close)
}
