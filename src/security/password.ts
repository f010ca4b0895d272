/**
 * Media passwords (PS3.15 D.1, password-based key management): generated with at least 100 bits
 * from an alphabet without look-alike characters, grouped for reading aloud over the phone. The
 * grouping hyphens are part of the password, so what is read is what is typed. PS3.15 D.1 restricts
 * password octets to the default repertoire (ISO-IR 6), which every such password is.
 */
import type { Random } from '../util/random.js';

/** 32 symbols (5 bits each): digits and capitals without the look-alikes 0/O and 1/I. */
export const PASSWORD_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const GROUP = 4;

export interface GeneratedPassword {
  readonly password: string;
  readonly bits: number;
}

export function generatePassword(random: Random, minBits = 100): GeneratedPassword {
  const bitsPerSymbol = Math.log2(PASSWORD_ALPHABET.length);
  const symbols = Math.ceil(minBits / bitsPerSymbol / GROUP) * GROUP;
  // 256 is a multiple of 32, so masking a byte picks every symbol with the same probability.
  const bytes = random.bytes(symbols);
  let text = '';
  for (let i = 0; i < symbols; i++) {
    if (i > 0 && i % GROUP === 0) text += '-';
    text += PASSWORD_ALPHABET[(bytes[i] as number) & 31];
  }
  return { password: text, bits: symbols * bitsPerSymbol };
}
