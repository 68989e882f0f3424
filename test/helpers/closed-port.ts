import { createServer } from 'node:net'

/** A loopback port with nothing listening on it: a connection there is refused at once, as to a service out of reach. */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}
