/**
 * What a Blob object's owner signs (as a Sui personal message) to extend its
 * storage on the local Walrus, standing in for the `extend_blob` transaction
 * only the owner can send on Walrus. The current end epoch is in it, so a
 * signature extends once: after that the blob's end epoch has moved on and
 * the same signature names a stale one.
 */
export function extendMessage (blobId: string, currentEndEpoch: number, endEpoch: number): Uint8Array {
  return new TextEncoder().encode(`herd walrus extend v1\nblob ${blobId}\nfrom end epoch ${currentEndEpoch}\nto end epoch ${endEpoch}`)
}
