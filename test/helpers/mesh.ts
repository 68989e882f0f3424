import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { HerdNode } from '../../src/node.js'
import type { NodeConfigInput } from '../../src/node-config.js'
import { connectAll, quickNodeConfig, startNode, stopNodes, type Devnet } from '../../harness/in-process-mesh.js'

export { startDevnet, stopNodes, waitFor, type Devnet } from '../../harness/in-process-mesh.js'

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
