/**
 * Runs inside a network namespace (`ip netns exec NETNS node netns-forward-worker.js SOCKET HOST PORT`):
 * every connection to the Unix socket SOCKET is piped to HOST:PORT as seen
 * from the namespace. A Unix socket lives in the file system, not in a network
 * namespace, so the process outside reaches through it what listens on the
 * namespace's loopback. Prints `ready` once listening; ends when its stdin
 * closes, so it never outlives the process that started it.
 */
import { createConnection, createServer } from 'node:net'
import { pipeBoth } from './pipe-both.js'

const [socketPath, host, portText] = process.argv.slice(2)
const port = Number(portText)
if (socketPath == null || host == null || !Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: netns-forward-worker SOCKET HOST PORT\n')
  process.exit(2)
}

const server = createServer(client => { pipeBoth(client, createConnection({ host, port })) })
server.listen(socketPath, () => { process.stdout.write('ready\n') })
server.once('error', err => {
  process.stderr.write(`netns-forward-worker: ${err.message}\n`)
  process.exit(1)
})
process.stdin.resume()
process.stdin.once('end', () => { process.exit(0) })
process.stdin.once('error', () => { process.exit(0) })
