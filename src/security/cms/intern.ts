/**
 * Shared copies of the small DER parts every file of a medium repeats: the signer's certificate and
 * chain, the IssuerAndSerialNumber that names the signer. A verifier keeps each file's signer result
 * until its report is made; before, each file kept its own copies, and a copy under 4 KiB is a slice
 * of one of Node's 8 KiB pool slabs, which it then keeps alive whole (1 500 slabs, 12 MB, on a
 * medium of 3 000 files). Identical bytes now give the same Buffer, which has its own small memory.
 *
 * The copies are never written to (certificates and names are not secrets and are only read). The
 * table is bounded: a medium whose every file names a different certificate gets one copy per file,
 * each still the size of the bytes, never a slab.
 */
const MAX_INTERNED = 256;
const interned = new Map<string, Buffer>();

export function internBytes(bytes: Uint8Array): Buffer {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const key = view.toString('latin1');
  const hit = interned.get(key);
  if (hit) return hit;
  const copy = Buffer.allocUnsafeSlow(view.length);
  view.copy(copy);
  if (interned.size >= MAX_INTERNED) interned.delete(interned.keys().next().value as string);
  interned.set(key, copy);
  return copy;
}
