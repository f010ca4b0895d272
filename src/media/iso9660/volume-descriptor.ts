/**
 * Volume Descriptors, ECMA-119 §8.1 (the common header: type, "CD001", version), §8.3 (the Volume
 * Descriptor Set Terminator) and §8.5 (the Supplementary Volume Descriptor, which Joliet uses with its
 * UCS-2 escape sequences in BP 89-120). The set starts at logical sector 16 (§6.2.1, §6.7.1) and every
 * descriptor is one 2048-byte sector.
 */

export const SECTOR_SIZE = 2048;
/** §6.2.1: logical sectors 0-15 are the System Area. */
export const SYSTEM_AREA_SECTORS = 16;
export const STANDARD_IDENTIFIER = 'CD001';

/** §8.1.1 Volume Descriptor Type. */
export const VOLUME_DESCRIPTOR_TYPE = {
  BOOT_RECORD: 0,
  PRIMARY: 1,
  SUPPLEMENTARY: 2,
  PARTITION: 3,
  TERMINATOR: 255,
} as const;

export interface VolumeDescriptorHeader {
  type: number;
  standardIdentifier: string;
  version: number;
}

export function encodeVolumeDescriptorHeader(type: number, version: number, buf: Buffer): void {
  buf[0] = type; // BP 1 volume descriptor type
  buf.write(STANDARD_IDENTIFIER, 1, 'latin1'); // BP 2-6 standard identifier
  buf[6] = version; // BP 7 volume descriptor version
}

export function decodeVolumeDescriptorHeader(buf: Buffer): VolumeDescriptorHeader {
  return { type: buf[0] ?? 0, standardIdentifier: buf.toString('latin1', 1, 6), version: buf[6] ?? 0 };
}

/** §8.3: type 255, "CD001", version 1, the rest zero. */
export function encodeVolumeDescriptorSetTerminator(): Buffer {
  const buf = Buffer.alloc(SECTOR_SIZE);
  encodeVolumeDescriptorHeader(VOLUME_DESCRIPTOR_TYPE.TERMINATOR, 1, buf); // BP 1-7; BP 8-2048 reserved, zero
  return buf;
}

/** Joliet's escape sequences (BP 89-91 of a supplementary descriptor): UCS-2 levels 1, 2 and 3. */
const JOLIET_ESCAPES = ['%/@', '%/C', '%/E'];

/** Whether a supplementary volume descriptor (§8.5, version 1) is a Joliet one. */
export function isJolietDescriptor(buf: Buffer): boolean {
  const h = decodeVolumeDescriptorHeader(buf);
  return h.type === VOLUME_DESCRIPTOR_TYPE.SUPPLEMENTARY && h.version === 1 && JOLIET_ESCAPES.includes(buf.toString('latin1', 88, 91));
}
