import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { ApiServer, type ApiServerInit } from '../../src/api/server.js'
import type { HerdNode } from '../../src/node.js'
import type { NodeConfigInput } from '../../src/node-config.js'
import { after, before } from 'node:test'
import { connectAll, quickNodeConfig, startDevnet, startNode, stopNodes, type Devnet } from '../../harness/in-process-mesh.js'
import { tempDir } from './devnet.js'

export { startDevnet, stopNodes, waitFor, type Devnet } from '../../harness/in-process-mesh.js'

export interface MeshSuiteInit {
  /** Nodes with the quick settings, connected to each other (default none). */
  nodes?: number
  overrides?: Partial<NodeConfigInput>
  /** On the started devnet, before the nodes start: what they should find registered, files beside them. */
  setup?: (suite: { dir: string, devnet: Devnet }) => Promise<void>
}

export interface MeshSuite {
  readonly dir: string
  readonly devnet: Devnet
  readonly nodes: HerdNode[]
  /** The first node. */
  readonly node: HerdNode
  /** Stops something the suite's tests or hooks started on the nodes (an API, a client peer) before the nodes stop; the last deferred first. */
  defer: (stop: () => Promise<unknown> | unknown) => void
  /** An HTTP API on a node (the first unless `init.node`), on a free port, stopped before the nodes. */
  startApi: (init?: Partial<ApiServerInit>) => Promise<ApiServer>
}

/**
 * A temp dir, a devnet and `init.nodes` nodes for the enclosing describe
 * block: started before its tests, and after them stopped in reverse order
 * (what was deferred, the nodes, the devnet) and removed.
 */
export function meshForSuite (init: MeshSuiteInit = {}): MeshSuite {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let devnet: Devnet | undefined
  let nodes: HerdNode[] | undefined
  const deferred: Array<() => Promise<unknown> | unknown> = []
  before(async () => {
    dir = await tempDir()
    devnet = await startDevnet(join(dir.path, 'devnet'))
    await init.setup?.({ dir: dir.path, devnet })
    nodes = await startNodes(init.nodes ?? 0, join(dir.path, 'nodes'), devnet, init.overrides)
  })
  // Every step runs even when one before it fails, so a failed stop leaves no node or devnet running; the first failure is thrown.
  after(async () => {
    const failures: unknown[] = []
    const steps = [...deferred.splice(0).reverse(), async () => stopNodes(nodes ?? []), async () => devnet?.stop(), async () => dir?.[Symbol.asyncDispose]()]
    for (const step of steps) {
      try { await step() } catch (err) { failures.push(err) }
    }
    if (failures.length > 0) throw failures[0]
  })
  const started = <T>(value: T | undefined): T => {
    if (value == null) throw new Error('the suite\'s devnet is not started: use it inside its tests and hooks')
    return value
  }
  return {
    get dir () { return started(dir).path },
    get devnet () { return started(devnet) },
    get nodes () { return started(nodes) },
    get node () { return started(started(nodes)[0]) },
    defer: stop => { deferred.push(stop) },
    startApi: async (apiInit = {}) => {
      const api = new ApiServer({ node: started(started(nodes)[0]), port: 0, ...apiInit })
      deferred.push(async () => api.stop())
      await api.start()
      return api
    }
  }
}

/** A temp dir and a devnet for the enclosing describe block: started before its tests, stopped and removed after them. */
export function devnetForSuite (): MeshSuite {
  return meshForSuite()
}

export function randomModel (bytes: number): Uint8Array {
  return new Uint8Array(randomBytes(bytes))
}

/** `count` nodes with the quick settings, in `dir`/node-i, all connected to each other; none left running if one fails. */
export async function startNodes (count: number, dir: string, devnet: Devnet, overrides: Partial<NodeConfigInput> = {}): Promise<HerdNode[]> {
  const nodes: HerdNode[] = []
  try {
    for (let i = 0; i < count; i++) nodes.push(await startNode(quickNodeConfig(join(dir, `node-${i}`), devnet, overrides)))
    await connectAll(nodes)
  } catch (err) {
    await stopNodes(nodes)
    throw err
  }
  return nodes
}
