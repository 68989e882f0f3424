import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { HerdNode } from '../../src/node.js'
import type { NodeConfigInput } from '../../src/node-config.js'
import { after, before } from 'node:test'
import { connectAll, quickNodeConfig, startDevnet, startNode, stopNodes, type Devnet } from '../../harness/in-process-mesh.js'
import { tempDir } from './devnet.js'

export { startDevnet, stopNodes, waitFor, type Devnet } from '../../harness/in-process-mesh.js'

/** A temp dir and a devnet for the enclosing describe block: started before its tests, stopped and removed after them. */
export function devnetForSuite (): { readonly dir: string, readonly devnet: Devnet } {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let devnet: Devnet | undefined
  before(async () => {
    dir = await tempDir()
    devnet = await startDevnet(join(dir.path, 'devnet'))
  })
  after(async () => {
    await devnet?.stop()
    await dir?.[Symbol.asyncDispose]()
  })
  const started = <T>(value: T | undefined): T => {
    if (value == null) throw new Error('the suite\'s devnet is not started: use it inside its tests')
    return value
  }
  return {
    get dir () { return started(dir).path },
    get devnet () { return started(devnet) }
  }
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
