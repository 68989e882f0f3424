import { createServer } from 'node:net'

/**
 * A loopback port where every connection is reset at once, as by a service
 * out of reach. The port stays held until the process exits: a port given
 * back to the OS can be handed to another test's server in the meantime,
 * which then answers in place of the dead service.
 */
export async function closedPort (): Promise<number> {
  const server = createServer(socket => { socket.resetAndDestroy() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  server.unref()
  return (server.address() as { port: number }).port
}
