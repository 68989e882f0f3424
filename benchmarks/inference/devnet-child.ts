// The child side of DevnetProcess (devnet-process.ts): a devnet (harness/in-process-mesh.ts) driven by the parent over IPC.
import { startDevnet, type Devnet } from '../../harness/in-process-mesh.js'
import type { DevnetRequest } from './devnet-process.js'
import { serveParent } from '../child-ipc.js'

let devnet: Devnet | undefined

function need (): Devnet {
  if (devnet == null) throw new Error('the devnet is not started')
  return devnet
}

async function handle (request: DevnetRequest): Promise<unknown> {
  switch (request.op) {
    case 'start': {
      if (devnet != null) throw new Error('the devnet is already started')
      const started = devnet = await startDevnet(request.dir)
      return { walrus: started.walrus.url, ledger: started.ledgerUrl }
    }
    case 'publishFile':
      return need().publishFile(request.path, request.options)
    case 'cpu': {
      const used = process.cpuUsage()
      return (used.user + used.system) / 1e6
    }
    case 'walrusStats':
      return need().walrus.stats
    case 'blockBytes':
      return (await need().store.blockBytes(request.height)).length
    case 'stop':
      await devnet?.stop()
      devnet = undefined
      return null
  }
}

serveParent<DevnetRequest>(handle)
