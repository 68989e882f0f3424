import { InvalidArgumentError } from '../errors.js'

/** Which chunks of a blob are held: bit i is chunk i, most significant bit first, as peers exchange it. */
export class Bitfield {
  readonly length: number
  private readonly bytes: Uint8Array
  private held = 0

  constructor (length: number, bytes?: Uint8Array) {
    this.length = length
    this.bytes = new Uint8Array(Math.ceil(length / 8))
    if (bytes != null) {
      if (bytes.length !== this.bytes.length) throw new InvalidArgumentError(`a bitfield of ${length} bits has ${this.bytes.length} bytes, got ${bytes.length}`)
      for (let i = 0; i < length; i++) {
        if (((bytes[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) this.set(i)
      }
    }
  }

  has (index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return false
    return ((this.bytes[index >> 3] as number) & (0x80 >> (index & 7))) !== 0
  }

  set (index: number): void {
    if (this.has(index)) return
    this.bytes[index >> 3] = (this.bytes[index >> 3] as number) | (0x80 >> (index & 7))
    this.held++
  }

  clear (index: number): void {
    if (!this.has(index)) return
    this.bytes[index >> 3] = (this.bytes[index >> 3] as number) & ~(0x80 >> (index & 7))
    this.held--
  }

  count (): number {
    return this.held
  }

  full (): boolean {
    return this.held === this.length
  }

  /** A copy, so a caller cannot change what is held. */
  toBytes (): Uint8Array {
    return this.bytes.slice()
  }

  clone (): Bitfield {
    return new Bitfield(this.length, this.bytes)
  }
}
