/** protons' types want ArrayBuffer-backed arrays; most already are, the rest are copied. */
export function plainBytes (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : new Uint8Array(bytes)
}
