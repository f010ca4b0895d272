/**
 * Character sets and fixed-width identifiers, ECMA-119 §7.4 (d-characters, a-characters) and §8.4
 * (identifier fields are left-justified and padded with SPACE).
 */

/** d-characters, §7.4.1: A-Z, 0-9 and LOW LINE. */
export const D_CHARACTERS = /^[A-Z0-9_]*$/;
/** a-characters, §7.4.1 and Annex A: the d-characters, SPACE and ! " % & ' ( ) * + , - . / : ; < = > ? */
export const A_CHARACTERS = /^[A-Z0-9_ !"%&'()*+,\-./:;<=>?]*$/;

/** `text` (ASCII) left-justified in `width` bytes, padded with SPACE (0x20). */
export function padField(text: string, width: number): Buffer {
  const out = Buffer.alloc(width, 0x20);
  out.write(text, 0, 'latin1');
  return out;
}

/** A fixed-width field read back: the bytes as Latin-1, trailing SPACE and NUL removed. */
export function readField(buf: Buffer, offset: number, width: number): string {
  return buf.toString('latin1', offset, offset + width).replace(/[ \0]+$/, '');
}
