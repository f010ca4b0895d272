/**
 * UID generation (PS3.5 §9). Without an organisational root, UIDs are UUID-derived under 2.25
 * (PS3.5 §B.2). With a root (`--uid-root`), the suffix is a large random number. Either way the
 * randomness is injected, so a seeded run makes the same UIDs.
 */
import { DcmsafeError } from '../errors/index.js';
import { createHash } from 'node:crypto';
import type { Random } from './random.js';

const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;
export const MAX_UID_LENGTH = 64;

export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= MAX_UID_LENGTH && UID_PATTERN.test(uid);
}

export interface UidGenerator {
  next(): string;
}

export function uidGenerator(random: Random, root?: string): UidGenerator {
  if (root !== undefined && (!isValidUid(root) || root.length > 40)) {
    throw new DcmsafeError('USAGE', `UID root ${root} is not a valid UID prefix of at most 40 characters`, { root });
  }
  return {
    next(): string {
      const b = random.bytes(16);
      if (root === undefined) {
        // A version 4 UUID as one integer (PS3.5 §B.2).
        b[6] = ((b[6] as number) & 0x0f) | 0x40;
        b[8] = ((b[8] as number) & 0x3f) | 0x80;
        return `2.25.${BigInt(`0x${b.toString('hex')}`).toString()}`;
      }
      const room = MAX_UID_LENGTH - root.length - 1;
      const digits = BigInt(`0x${b.toString('hex')}`).toString().slice(0, room).replace(/^0+/, '') || '1';
      return `${root}.${digits}`;
    },
  };
}

/**
 * A UID derived from a name (RFC 9562 version 8 UUID from SHA-256, under 2.25; or the digits of the
 * hash under `root`). The same name always gives the same UID, different names practically never
 * the same: used where identical inputs must give identical output (the File-set UID).
 */
export function nameBasedUid(name: string, root?: string): string {
  if (root !== undefined && (!isValidUid(root) || root.length > 40)) {
    throw new DcmsafeError('USAGE', `UID root ${root} is not a valid UID prefix of at most 40 characters`, { root });
  }
  const b = createHash('sha256').update(name).digest().subarray(0, 16);
  if (root === undefined) {
    b[6] = ((b[6] as number) & 0x0f) | 0x80;
    b[8] = ((b[8] as number) & 0x3f) | 0x80;
    return `2.25.${BigInt(`0x${b.toString('hex')}`).toString()}`;
  }
  const digits = BigInt(`0x${b.toString('hex')}`).toString().slice(0, MAX_UID_LENGTH - root.length - 1).replace(/^0+/, '') || '1';
  return `${root}.${digits}`;
}
