/**
 * The MAC byte stream of DICOM Digital Signatures (PS3.3 C.12.1.1.3.1.1 Data Elements Signed, PS3.15
 * Annex C): the bytes a signature covers, in the MAC Calculation Transfer Syntax (here always Explicit
 * VR Little Endian, which is what every signer we write uses and what dcmtk's dcmsign writes).
 *
 * Each Data Element Signed contributes, in ascending tag order:
 *   ordinary element           tag, VR, (reserved,) length, value — as it is encoded
 *   sequence (SQ)              tag, VR, reserved bytes, NO length; then for each item the Item tag
 *                              (FFFE,E000) alone, the item's elements, and after the last item the
 *                              Sequence Delimitation tag (FFFE,E0DD) alone: no Item Delimitation tag
 *   encapsulated pixel data    tag, VR, reserved bytes, NO length; each fragment as its Item tag
 *                              alone and its value; the Sequence Delimitation tag alone
 * so the MAC does not depend on whether sequences were written with defined or undefined lengths.
 * This is how dcmtk's dcmsign (the reference these tests check against, its `--dump` option writes
 * the MAC stream) reads the standard; sequences are never written with lengths into the MAC.
 *
 * After the Data Elements Signed come the elements of the Digital Signatures Sequence item itself
 * (MAC ID Number, Digital Signature UID, Digital Signature DateTime, Certificate Type, Digital
 * Signature Purpose Code Sequence...) in tag order, except the Certificate of Signer, the Signature and
 * the Certified Timestamp (which cannot sign themselves).
 */
import { createHash, type Hash } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import type { DataSet, Element } from '../dataset.js';
import { elementHeaderBytes, padValue } from '../part10/writer.js';
import { ITEM, SEQUENCE_DELIMITATION, tagElement, type Tag } from '../tag.js';
import { T } from '../tags.js';
import type { VR } from '../vr.js';

/** The MAC Algorithm (0400,0015) defined terms validators must accept (PS3.15 C.1), with Node's names and the DigestInfo prefix of PKCS#1 v1.5 (RFC 8017 §9.2). */
export const MAC_ALGORITHMS = {
  RIPEMD160: { node: 'ripemd160', digestInfo: '3021300906052b2403020105000414' },
  MD5: { node: 'md5', digestInfo: '3020300c06082a864886f70d020505000410' },
  SHA1: { node: 'sha1', digestInfo: '3021300906052b0e03021a05000414' },
  SHA256: { node: 'sha256', digestInfo: '3031300d060960864801650304020105000420' },
  SHA384: { node: 'sha384', digestInfo: '3041300d060960864801650304020205000430' },
  SHA512: { node: 'sha512', digestInfo: '3051300d060960864801650304020305000440' },
} as const;

export type MacAlgorithm = keyof typeof MAC_ALGORITHMS;

export function isMacAlgorithm(name: string): name is MacAlgorithm {
  return Object.hasOwn(MAC_ALGORITHMS, name);
}

/** The DigestInfo a PKCS#1 v1.5 signature carries for `digest`. */
export function digestInfo(algorithm: MacAlgorithm, digest: Buffer): Buffer {
  return Buffer.concat([Buffer.from(MAC_ALGORITHMS[algorithm].digestInfo, 'hex'), digest]);
}

export function newMacHash(algorithm: MacAlgorithm): Hash {
  return createHash(MAC_ALGORITHMS[algorithm].node);
}

/** Tags a signature never lists at the level it is in: group lengths, the signatures themselves, padding. */
export function signableTag(tag: Tag): boolean {
  return tagElement(tag) !== 0 && tag !== T.DigitalSignaturesSequence && tag !== MAC_PARAMETERS_SEQUENCE && tag !== T.DataSetTrailingPadding;
}

/**
 * Whether an element can be signed at all: a value of VR UN cannot (its encoding depends on a VR
 * nobody knows, so a reader that learns it would compute another MAC), nor a sequence holding one;
 * dcmsign refuses both.
 */
export function signableElement(el: Element): boolean {
  return signableTag(el.tag) && !holdsUN(el);
}

function holdsUN(el: Element): boolean {
  return el.vr === 'UN' || (el.items ?? []).some((item) => [...item.elements.values()].some(holdsUN));
}

export const MAC_PARAMETERS_SEQUENCE = 0x4ffe0001;

/** Tag and VR followed by the two reserved bytes, without a length (sequences and encapsulated values). */
export function tagAndVR(tag: Tag, vr: VR): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(tag >>> 16, 0);
  b.writeUInt16LE(tag & 0xffff, 2);
  b.write(vr, 4, 'latin1');
  return b;
}

/** A tag alone (Item and Sequence Delimitation tags in the MAC stream). */
export function tagOnly(tag: Tag): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(tag >>> 16, 0);
  b.writeUInt16LE(tag & 0xffff, 2);
  return b;
}

export const ITEM_TAG = tagOnly(ITEM);
export const SEQUENCE_DELIMITATION_TAG = tagOnly(SEQUENCE_DELIMITATION);

/** The MAC bytes of an element held in memory in Explicit VR Little Endian (see the file header). */
export function macElement(el: Element, out: (b: Buffer) => void): void {
  if (el.items) {
    out(tagAndVR(el.tag, 'SQ'));
    for (const item of el.items) {
      out(ITEM_TAG);
      for (const inner of item.sorted()) macElement(inner, out);
    }
    out(SEQUENCE_DELIMITATION_TAG);
    return;
  }
  if (el.fragments) {
    const value = el.value;
    if (!value) throw new DcmsafeError('INTERNAL', 'encapsulated value not in memory', {});
    out(tagAndVR(el.tag, 'OB')); // encapsulated values are OB (PS3.5 §A.4), whatever a writer said
    for (const f of el.fragments) {
      // The value holds the fragment items as encoded; their lengths stay out of the MAC.
      const at = f.offset - el.valueOffset;
      out(ITEM_TAG);
      out(value.subarray(at, at + f.length));
    }
    out(SEQUENCE_DELIMITATION_TAG);
    return;
  }
  if (el.bulk) throw new DcmsafeError('INTERNAL', 'value not in memory', {});
  const value = padValue(el.value ?? Buffer.alloc(0), el.vr);
  out(elementHeaderBytes(el.tag, el.vr, value.length));
  out(value);
}

/** The MAC bytes of a data set's elements (all of them, in tag order). */
export function macDataSet(ds: DataSet, out: (b: Buffer) => void): void {
  for (const el of ds.sorted()) macElement(el, out);
}

/** Elements of a Digital Signatures Sequence item that are not part of its own MAC. */
export const UNSIGNED_SIGNATURE_ITEM_TAGS: ReadonlySet<Tag> = new Set([0x04000115, 0x04000120, 0x04000305, 0x04000310]);

/** The MAC bytes of a Digital Signatures Sequence item's own elements (appended after the Data Elements Signed). */
export function macSignatureItem(item: DataSet, out: (b: Buffer) => void): void {
  for (const el of item.sorted()) if (!UNSIGNED_SIGNATURE_ITEM_TAGS.has(el.tag)) macElement(el, out);
}
