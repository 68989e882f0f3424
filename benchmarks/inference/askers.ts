// The inference benchmark's askers, each in a child process (asker-process.ts), as peers of a holder in this process.
import type { AskerLoad, AskerRequest } from './asker-process.js'
import { ChildClient } from '../child-ipc.js'

const ASKER_SCRIPT = new URL('./asker-process.js', import.meta.url)
/** Any one request to an asker: a start, a dial, or a load run of up to 10 minutes. */
const REQUEST_MS = 11 * 60_000

export class AskerProcess {
  private readonly child: ChildClient<AskerRequest>
  readonly name: string
  peerId = ''

  constructor (name: string) {
    this.name = name
    this.child = new ChildClient(ASKER_SCRIPT, `asker process ${name}`, REQUEST_MS)
  }

  async start (): Promise<void> {
    this.peerId = await this.child.ask<string>({ op: 'start' })
  }

  async dial (addrs: string[]): Promise<void> {
    await this.child.ask({ op: 'dial', addrs })
  }

  async load (request: Omit<Extract<AskerRequest, { op: 'load' }>, 'op'>): Promise<AskerLoad> {
    return this.child.ask<AskerLoad>({ op: 'load', ...request })
  }

  async stop (): Promise<void> {
    await this.child.stop()
  }
}
