/**
 * Runs inside a swarm endpoint's network namespace (`ip netns exec NETNS node
 * tcp-baseline-worker.js ADDRESS PORT SECONDS PEER…`): listens on
 * ADDRESS:PORT and prints `ready`; on a `go AT` line on stdin (AT in epoch
 * ms) it sends bulk TCP to every PEER's PORT from AT for 1 s of warm-up and
 * SECONDS more, counts the bytes it receives in those SECONDS, prints
 * `{"bytes":N,"ms":M}` and exits. It exits when stdin closes, so it never
 * outlives the process that started it.
 */
import { createServer, connect, type Socket } from 'node:net'
import { createInterface } from 'node:readline'

const WARM_UP_MS = 1_000
/** What one write hands the socket: large enough that the sender is never the limit. */
const WRITE_BYTES = 256 * 1024
/** The worker ends by itself this long after its window, whatever happens. */
const GRACE_MS = 5_000

const [address, portText, secondsText, ...peers] = process.argv.slice(2)
const port = Number(portText)
const seconds = Number(secondsText)
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/
if (address == null || !IPV4.test(address) || !Number.isInteger(port) || port < 1 || port > 65535 || !(seconds > 0 && seconds <= 600) || peers.some(p => !IPV4.test(p))) {
  process.stderr.write('usage: tcp-baseline-worker ADDRESS PORT SECONDS PEER…\n')
  process.exit(2)
}

let windowStart = Infinity
let windowEnd = Infinity
let counted = 0
const sockets = new Set<Socket>()
const keep = (socket: Socket): void => {
  sockets.add(socket)
  socket.on('error', () => {})
  socket.once('close', () => { sockets.delete(socket) })
}

const server = createServer(socket => {
  keep(socket)
  socket.on('data', (data: Buffer) => {
    const now = Date.now()
    if (now >= windowStart && now < windowEnd) counted += data.byteLength
  })
})
server.once('error', err => {
  process.stderr.write(`tcp-baseline-worker: ${err.message}\n`)
  process.exit(1)
})
server.listen(port, address, () => { process.stdout.write('ready\n') })

function send (peer: string, until: number): void {
  const payload = Buffer.alloc(WRITE_BYTES, 0x5a)
  const socket = connect({ host: peer, port })
  keep(socket)
  const fill = (): void => {
    while (Date.now() < until) {
      if (!socket.write(payload)) return
    }
    socket.end()
  }
  socket.once('connect', fill)
  socket.on('drain', fill)
}

function go (at: number): void {
  windowStart = at + WARM_UP_MS
  windowEnd = windowStart + seconds * 1000
  setTimeout(() => { for (const peer of peers) send(peer, windowEnd) }, Math.max(0, at - Date.now()))
  setTimeout(() => {
    process.stdout.write(`${JSON.stringify({ bytes: counted, ms: windowEnd - windowStart })}\n`)
    for (const socket of sockets) socket.destroy()
    process.exit(0)
  }, Math.max(0, windowEnd - Date.now()) + 100)
  setTimeout(() => { process.exit(1) }, Math.max(0, windowEnd - Date.now()) + GRACE_MS).unref()
}

const lines = createInterface({ input: process.stdin })
lines.on('line', line => {
  const match = /^go (\d+)$/.exec(line.trim())
  if (match != null && windowStart === Infinity) go(Number(match[1]))
})
lines.once('close', () => { if (windowStart === Infinity) process.exit(0) })
