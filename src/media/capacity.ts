/**
 * Capacities of recordable media (PS3.12 Annexes F, P, X; the figures are the user data areas of the
 * common disc formats), counted in whole 2048-byte blocks. A File-set that does not fit becomes several
 * discs, each a complete File-set (PS3.11 has no multi-volume File-sets).
 */
import type { MediaKind } from '../dicom/profiles/profiles.js';

export const BLOCK = 2048;

export const DISC_CAPACITY = {
  cd: 737_280_000, // CD-R 80 min: 360 000 blocks
  dvd: 4_707_319_808, // DVD±R single layer: 2 298 496 blocks
  'dvd-dl': 8_543_666_176, // DVD±R dual layer: 4 171 712 blocks
  bd: 25_025_314_816, // BD-R single layer: 12 219 392 blocks
} as const;

export type DiscKind = keyof typeof DISC_CAPACITY;

export function isDisc(media: MediaKind): media is 'cd' | 'dvd' | 'bd' {
  return media === 'cd' || media === 'dvd' || media === 'bd';
}

/** Whole blocks of a medium (a capacity that is not a multiple of the block size is rounded down). */
export function capacityBlocks(bytes: number): number {
  return Math.floor(bytes / BLOCK);
}
