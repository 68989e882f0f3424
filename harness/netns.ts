/**
 * Linux network namespaces for swarms under real link caps: creates, removes
 * and cleans up after crashes. Nothing else.
 *
 * Shape: one hub namespace holding a bridge, and one namespace per endpoint
 * (a herd node, or the origin: the devnet's Walrus and ledger), each joined to
 * the bridge by a veth pair created directly inside the two namespaces, so no
 * interface, address or route ever exists in the host's own namespace. Every
 * address comes from 198.18.0.0/15 (RFC 2544, benchmarking) and lives only in
 * these namespaces. An endpoint's cap is a `tbf` on both ends of its veth: its
 * own end shapes what it sends, the hub's end what it receives (netem is not
 * in these kernels, and tc shapes only egress).
 *
 * Names are `herd-sw-PID-…`, PID being the process that made them, so a
 * later run removes what a crashed one left (its PID no longer runs) without
 * touching a run still going.
 */

import { execFile, execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { logger } from '@libp2p/logger'

const log = logger('herd:harness:netns')
const run = promisify(execFile)

export const NETNS_PREFIX = 'herd-sw-'
/** The subnet every endpoint is addressed from: the first /24 of 198.18.0.0/15. */
export const SWARM_SUBNET = '198.18.0.0/24'
/** Endpoints per swarm: the /24 less the network and broadcast addresses. */
export const MAX_ENDPOINTS = 254
/** tc's rate is a 32-bit byte count per second in older kernels' tbf; far above any cap a test or benchmark sets. */
export const MAX_CAP_BYTES_PER_SEC = 2 ** 31
const COMMAND_TIMEOUT_MS = 15_000
const NAME = /^[a-z][a-z0-9]{0,15}$/

/** A swarm's shape or the host's tools are not what this module needs. */
export class NetnsError extends Error {
  override readonly name = 'NetnsError'
}

export interface EndpointInit {
  /** Short name (`origin`, `n0`): lower-case letters and digits, at most 16. */
  name: string
  /** Cap on each direction of the endpoint's link, bytes per second; 0 for none. */
  capBytesPerSec: number
}

export interface Endpoint {
  name: string
  /** The namespace the endpoint's processes run in (`ip netns exec NETNS …`). */
  netns: string
  /** Its address on the bridge, from SWARM_SUBNET. */
  address: string
  capBytesPerSec: number
  /** Its veth's end in the hub namespace: that end's transmit counter is what the endpoint received, its receive counter what it sent. */
  hubPort: string
}

export interface Swarm {
  /** The namespace of the bridge. */
  hub: string
  endpoints: Endpoint[]
  /** Endpoint by name. */
  endpoint: (name: string) => Endpoint
}

/** `ip netns exec NETNS FILE ARGS…` as a command and its arguments, for spawn. */
export function netnsCommand (netns: string, file: string, args: readonly string[]): { command: string, args: string[] } {
  return { command: 'ip', args: ['netns', 'exec', netns, file, ...args] }
}

async function ip (args: string[], signal?: AbortSignal): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: COMMAND_TIMEOUT_MS, ...(signal != null ? { signal } : {}) })
  return stdout
}

async function tc (args: string[], signal?: AbortSignal): Promise<void> {
  await run('tc', args, { timeout: COMMAND_TIMEOUT_MS, ...(signal != null ? { signal } : {}) })
}

/**
 * Why namespaces cannot be made here (not root, no `ip` or `tc`, no
 * permission in a container), or undefined when they can: checked by making
 * and removing one.
 */
export async function netnsUnavailable (): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux, not ${process.platform}`
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  const probe = `${NETNS_PREFIX}${process.pid}-probe`
  try {
    await run('tc', ['-V'], { timeout: COMMAND_TIMEOUT_MS })
    await ip(['netns', 'add', probe])
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message.split('\n')[0] ?? ''}`
  }
  await ip(['netns', 'del', probe]).catch(() => {})
  return undefined
}

/** Namespaces named by this module, by anyone. */
export async function listHerdNamespaces (): Promise<string[]> {
  const out = await ip(['netns', 'list'])
  return out.split('\n').map(line => line.split(' ')[0] ?? '').filter(name => name.startsWith(NETNS_PREFIX))
}

/** Links in the host's namespace whose name starts with the prefix: there should never be any. */
export async function listHerdHostLinks (): Promise<string[]> {
  const out = await ip(['-o', 'link', 'show'])
  return out.split('\n').map(line => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '').filter(name => name.startsWith(NETNS_PREFIX))
}

function ownerPid (netns: string): number | undefined {
  const pid = Number(/^herd-sw-(\d+)-/.exec(netns)?.[1])
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
}

function running (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Kills what still runs in a namespace (the processes a crashed run started
 * there: a namespace lives on, and keeps its veths, while a process is in it)
 * and deletes it. Synchronous, so it also works from an exit handler.
 */
function deleteNamespaceSync (netns: string): void {
  let pids: number[] = []
  try {
    pids = execFileSync('ip', ['netns', 'pids', netns], { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }).split('\n').map(Number).filter(pid => Number.isSafeInteger(pid) && pid > 0)
  } catch {}
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
  try {
    execFileSync('ip', ['netns', 'del', netns], { timeout: COMMAND_TIMEOUT_MS, stdio: 'ignore' })
  } catch (err) {
    log.error('could not delete namespace %s: %e', netns, err)
  }
}

/**
 * Removes what earlier runs left: namespaces of this prefix whose owning
 * process no longer runs (with `all`, every one of them) and any host link of
 * the prefix. Returns the namespaces removed.
 */
export async function cleanLeftovers (options: { all?: boolean } = {}): Promise<string[]> {
  const stale = (await listHerdNamespaces()).filter(netns => {
    const pid = ownerPid(netns)
    return options.all === true || pid == null || (pid !== process.pid && !running(pid))
  })
  for (const netns of stale) deleteNamespaceSync(netns)
  for (const link of await listHerdHostLinks()) {
    await ip(['link', 'del', link]).catch(err => { log.error('could not delete link %s: %e', link, err) })
  }
  if (stale.length > 0) log('removed leftover namespaces %s', stale.join(', '))
  return stale
}

// Namespaces this process made and has not removed: an exit or a signal removes them.
const owned = new Set<string>()
let hooksInstalled = false

function installHooks (): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.once('exit', () => { for (const netns of owned) deleteNamespaceSync(netns) })
  // A signal nobody handles ends Node without 'exit' handlers: then remove the namespaces and exit as the signal would have.
  // Where the program handles it (bench:swarm, herd sim), it stops its run, whose finally removes the swarm, and exits itself.
  for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    if (process.listenerCount(signal) > 0) continue
    process.once(signal, () => {
      for (const netns of owned) deleteNamespaceSync(netns)
      owned.clear()
      process.exit(128 + number)
    })
  }
}

let swarmCount = 0

function checkInit (endpoints: readonly EndpointInit[]): void {
  if (endpoints.length === 0 || endpoints.length > MAX_ENDPOINTS) throw new NetnsError(`a swarm has 1 to ${MAX_ENDPOINTS} endpoints, not ${endpoints.length}`)
  const seen = new Set<string>()
  for (const e of endpoints) {
    if (!NAME.test(e.name) || e.name === 'hub') throw new NetnsError(`endpoint name ${JSON.stringify(e.name)}: lower-case letters and digits, at most 16, starting with a letter, not "hub"`)
    if (seen.has(e.name)) throw new NetnsError(`endpoint name ${e.name} is given twice`)
    seen.add(e.name)
    if (!Number.isSafeInteger(e.capBytesPerSec) || e.capBytesPerSec < 0 || e.capBytesPerSec > MAX_CAP_BYTES_PER_SEC) {
      throw new NetnsError(`endpoint ${e.name}: capBytesPerSec must be an integer from 0 (none) to ${MAX_CAP_BYTES_PER_SEC}, not ${e.capBytesPerSec}`)
    }
  }
}

/**
 * How a capped link queues what waits for the cap: `drop-tail`, one FIFO for
 * everything (a TCP flow's acknowledgements wait behind the other
 * direction's data); `small-first`, packets under 128 bytes (acknowledgements,
 * window updates, small messages) ahead of the rest, as routers that
 * prioritise acknowledgements do. Flow-queueing qdiscs (fq_codel, fq, sfq)
 * are not in these kernels.
 */
export const LINK_QUEUES = ['drop-tail', 'small-first'] as const
export type LinkQueue = typeof LINK_QUEUES[number]

/**
 * A cap of `bytesPerSec` on DEV's egress in NETNS: its bucket holds 20 ms of
 * traffic (at least 64 KiB: a GSO packet on a veth can be that large) and its
 * queue 100 ms, deep enough that a few TCP flows sharing the link do not lose
 * packets to it, shallow enough that gossip is not late behind bulk. A `tbf`
 * for `drop-tail`; for `small-first` an `htb` whose two classes share the cap,
 * small packets (a u32 filter on the IP total length) served first.
 */
async function cap (netns: string, dev: string, bytesPerSec: number, queue: LinkQueue, signal?: AbortSignal): Promise<void> {
  const burst = String(Math.max(64 * 1024, Math.ceil(bytesPerSec / 50)))
  const limit = String(Number(burst) + Math.ceil(bytesPerSec / 10))
  const rate = `${bytesPerSec * 8}bit`
  const n = ['-n', netns]
  if (queue === 'drop-tail') {
    await tc([...n, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', burst, 'limit', limit], signal)
    return
  }
  const share = (tenths: number): string => `${Math.max(8, Math.floor(bytesPerSec * 8 * tenths / 10))}bit`
  await tc([...n, 'qdisc', 'replace', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '20'], signal)
  await tc([...n, 'class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', rate, 'ceil', rate, 'burst', burst, 'cburst', burst], signal)
  await tc([...n, 'class', 'add', 'dev', dev, 'parent', '1:1', 'classid', '1:10', 'htb', 'rate', share(1), 'ceil', rate, 'burst', burst, 'cburst', burst, 'prio', '0'], signal)
  await tc([...n, 'class', 'add', 'dev', dev, 'parent', '1:1', 'classid', '1:20', 'htb', 'rate', share(9), 'ceil', rate, 'burst', burst, 'cburst', burst, 'prio', '1'], signal)
  await tc([...n, 'qdisc', 'add', 'dev', dev, 'parent', '1:10', 'handle', '10:', 'pfifo', 'limit', '1000'], signal)
  await tc([...n, 'qdisc', 'add', 'dev', dev, 'parent', '1:20', 'handle', '20:', 'bfifo', 'limit', limit], signal)
  // IP total length (bytes 2-3 of the header) under 128.
  await tc([...n, 'filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'u16', '0x0000', '0xff80', 'at', '2', 'flowid', '1:10'], signal)
}

const CONGESTION_CONTROL = /^[a-z][a-z0-9_]{0,15}$/

/** The TCP congestion control of a namespace's sockets (a new namespace takes the host's). */
export async function congestionControlOf (netns: string, signal?: AbortSignal): Promise<string> {
  return (await ip(['netns', 'exec', netns, 'sysctl', '-n', 'net.ipv4.tcp_congestion_control'], signal)).trim()
}

/**
 * Sets a namespace's TCP congestion control. Outside the host's namespace
 * the kernel takes only those the host allows
 * (net.ipv4.tcp_allowed_congestion_control), and says so.
 */
async function setCongestionControl (netns: string, name: string, signal?: AbortSignal): Promise<void> {
  try {
    await ip(['netns', 'exec', netns, 'sysctl', '-qw', `net.ipv4.tcp_congestion_control=${name}`], signal)
  } catch (err) {
    const allowed = await readFile('/proc/sys/net/ipv4/tcp_allowed_congestion_control', 'utf8').then(s => s.trim(), () => 'unknown')
    throw new NetnsError(`cannot set TCP congestion control ${name} in ${netns} (this host allows in namespaces: ${allowed}): ${(err as Error).message.split('\n')[0] ?? ''}`)
  }
}

/**
 * Makes the hub and one namespace per endpoint, each capped as asked (its
 * queue `linkQueue`, drop-tail unless given), its sockets on
 * `congestionControl` if given (the host's otherwise). On any
 * failure what was made is removed before the error is thrown. The caller
 * removes the swarm with `removeSwarm` (and an exit or a signal does too).
 */
export async function createSwarm (endpoints: readonly EndpointInit[], options: { signal?: AbortSignal, congestionControl?: string, linkQueue?: LinkQueue } = {}): Promise<Swarm> {
  checkInit(endpoints)
  const { congestionControl } = options
  const linkQueue = options.linkQueue ?? 'drop-tail'
  if (!(LINK_QUEUES as readonly string[]).includes(linkQueue)) throw new NetnsError(`link queue ${JSON.stringify(linkQueue)}: one of ${LINK_QUEUES.join(', ')}`)
  if (congestionControl != null && !CONGESTION_CONTROL.test(congestionControl)) throw new NetnsError(`congestion control ${JSON.stringify(congestionControl)}: a kernel module's name (reno, cubic, bbr), lower-case letters, digits and _`)
  installHooks()
  const { signal } = options
  const base = `${NETNS_PREFIX}${process.pid}-${swarmCount++}`
  const hub = `${base}-hub`
  const made: Endpoint[] = endpoints.map((e, i) => ({ name: e.name, netns: `${base}-${e.name}`, address: `198.18.0.${i + 1}`, capBytesPerSec: e.capBytesPerSec, hubPort: `v${i}` }))
  const swarm: Swarm = {
    hub,
    endpoints: made,
    endpoint: name => {
      const found = made.find(e => e.name === name)
      if (found == null) throw new NetnsError(`no endpoint ${name} in this swarm`)
      return found
    }
  }
  try {
    owned.add(hub)
    await ip(['netns', 'add', hub], signal)
    await ip(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge'], signal)
    await ip(['-n', hub, 'link', 'set', 'br0', 'up'], signal)
    for (const e of made) {
      const port = e.hubPort
      owned.add(e.netns)
      await ip(['netns', 'add', e.netns], signal)
      await ip(['-n', e.netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', hub], signal)
      await ip(['-n', e.netns, 'addr', 'add', `${e.address}/24`, 'dev', 'eth0'], signal)
      if (congestionControl != null) await setCongestionControl(e.netns, congestionControl, signal)
      await ip(['-n', e.netns, 'link', 'set', 'lo', 'up'], signal)
      await ip(['-n', e.netns, 'link', 'set', 'eth0', 'up'], signal)
      await ip(['-n', hub, 'link', 'set', port, 'master', 'br0'], signal)
      await ip(['-n', hub, 'link', 'set', port, 'up'], signal)
      if (e.capBytesPerSec > 0) {
        await cap(e.netns, 'eth0', e.capBytesPerSec, linkQueue, signal)
        await cap(hub, port, e.capBytesPerSec, linkQueue, signal)
      }
    }
    log('swarm %s: %d endpoints', base, made.length)
    return swarm
  } catch (err) {
    await removeSwarm(swarm)
    throw err
  }
}

/**
 * Deletes the swarm's namespaces (their veths go with them), killing what
 * still runs in them: stop the processes first to let them end cleanly. Safe
 * to call twice.
 */
export async function removeSwarm (swarm: Swarm): Promise<void> {
  for (const netns of [...swarm.endpoints.map(e => e.netns), swarm.hub]) {
    if (!owned.delete(netns)) continue
    deleteNamespaceSync(netns)
  }
}
