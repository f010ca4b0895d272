/**
 * Signing a Part 10 file with a DICOM Digital Signature (PS3.3 C.12.1.1.3, PS3.15 C.1 Base RSA,
 * C.2 Creator RSA, C.3 Authorization RSA), forward-only: the file is rewritten (reconcile/rewrite.ts,
 * Explicit VR Little Endian or its encapsulated transfer syntax), a MAC Parameters Sequence
 * (4FFE,0001) item naming every top-level element written is added to the header, the MAC is
 * computed while the data set streams (pixel data included), and the Digital Signatures Sequence
 * (FFFA,FFFA) item goes last. Data Set Trailing Padding is dropped; signatures already there are kept
 * and the new item is added after them, with a MAC ID Number of its own.
 *
 * String values are written in their canonical encoding (canonical.ts): padding PS3.5 §6.2 (Table
 * 6.2-1) calls insignificant is removed and each value padded to even length with one space (one NUL
 * for UI), at the top level and in sequence items, before the MAC is computed and the file written.
 * The signer attests to an encoding every verifier reads the same: a reader that normalises values as
 * it reads them (dcmtk drops all trailing padding of a string value, e.g. a CS of 26 bytes ending in
 * three spaces is read as 24 bytes) would otherwise compute another MAC than one over the padding as
 * stored in the source. Only files being signed are changed so; values of VR UN are left as they are.
 *
 * Every profile signs every top-level element (a superset of what C.2 and C.3 require). The Creator
 * and Authorization profiles add a Digital Signature Purpose Code (ASTM E1762): "Source Signature"
 * for the creator of the instances, "Verification Signature" for an approving person.
 * Signatures are RSA PKCS#1 v1.5 (RFC 8017 §8.2) over the DigestInfo of the MAC, which is what
 * Base RSA asks; the certificate is X509_1993_SIG. Everything depends on the key, the clock and the
 * random stream given: the same inputs give the same bytes, so the size can be found by a dry run.
 */
import { constants, privateEncrypt, type KeyObject } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import type { Random } from '../../util/random.js';
import type { DataSet } from '../dataset.js';
import { FileReader } from '../../media/io/random-access-reader.js';
import { ReaderByteSource, type ByteSource } from '../part10/byte-source.js';
import { buildDataSet, encodeFileMeta, makeElement } from '../part10/writer.js';
import { encodeHeaderDataSet, openRewrite } from '../reconcile/rewrite.js';
import type { Tag } from '../tag.js';
import { T } from '../tags.js';
import { digestInfo, MAC_PARAMETERS_SEQUENCE, macSignatureItem, newMacHash, signableElement, type MacAlgorithm } from './mac.js';
import { canonicalElement, canonicaliseInPlace } from './canonical.js';
import { macThroughBody } from './stream.js';

export type SignatureProfile = 'base' | 'creator' | 'authorization';

export const SIGNATURE_PROFILES: readonly SignatureProfile[] = ['base', 'creator', 'authorization'];

export const TAG = {
  MACIDNumber: 0x04000005,
  MACCalculationTransferSyntaxUID: 0x04000010,
  MACAlgorithm: 0x04000015,
  DataElementsSigned: 0x04000020,
  DigitalSignatureUID: 0x04000100,
  DigitalSignatureDateTime: 0x04000105,
  CertificateType: 0x04000110,
  CertificateOfSigner: 0x04000115,
  Signature: 0x04000120,
  DigitalSignaturePurposeCodeSequence: 0x04000401,
  CodeValue: 0x00080100,
  CodingSchemeDesignator: 0x00080102,
  CodeMeaning: 0x00080104,
} as const;

/** ASTM E1762 signature purposes the profiles use (Coding Scheme Designator ASTM-sigpurpose). */
export const PROFILE_PURPOSE: Readonly<Record<SignatureProfile, { code: string; meaning: string } | undefined>> = {
  base: undefined,
  creator: { code: '14', meaning: 'Source Signature' },
  authorization: { code: '5', meaning: 'Verification Signature' },
};

export interface DicomSigner {
  readonly certificate: Buffer;
  readonly privateKey: KeyObject;
  readonly algorithm: MacAlgorithm;
  readonly profile: SignatureProfile;
}

export interface SignOptions {
  readonly name: string;
  readonly signer: DicomSigner;
  readonly now: Date;
  /** Digital Signature UID (0400,0100); see signatureUID(). */
  readonly signatureUID: string;
  /** Decode encapsulated pixel data (the create profile's 'decode' kind). */
  readonly decodePixelData?: boolean;
}

/** DT with microseconds and the UTC offset, as PS3.5 Table 6.2-1 allows. */
export function signatureDateTime(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds() * 1000, 6)}+0000`;
}

/** A UUID-derived UID (PS3.5 B.2) from the injected random stream, for the Digital Signature UID. */
export function signatureUID(random: Random): string {
  const b = Buffer.from(random.bytes(16));
  // The top bit set makes the number 39 digits long whatever the draw: the signed file's size is
  // then known before the random stream is (a system random stream differs between runs).
  b[0] = (b[0] ?? 0) | 0x80;
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  return `2.25.${BigInt(`0x${b.toString('hex')}`).toString()}`;
}

export function atValue(tags: readonly Tag[]): Buffer {
  const b = Buffer.alloc(tags.length * 4);
  tags.forEach((t, i) => {
    b.writeUInt16LE(t >>> 16, i * 4);
    b.writeUInt16LE(t & 0xffff, i * 4 + 2);
  });
  return b;
}

/** RSASSA-PKCS1-v1_5 over an already computed digest. */
export function signDigest(key: KeyObject, algorithm: MacAlgorithm, digest: Buffer): Buffer {
  return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo(algorithm, digest));
}

export interface SignedFile {
  readonly transferSyntaxUID: string;
  /** Preamble, File Meta Information and the signed data set; readable once. */
  part10(): AsyncGenerator<Buffer>;
}

/** Opens `source` (a Part 10 file at its first byte) for signing; errors in the header surface here. */
export async function openSigned(source: ByteSource, options: SignOptions): Promise<SignedFile> {
  const { signer } = options;
  if (signer.privateKey.asymmetricKeyType !== 'rsa') {
    throw new DcmsafeError('USAGE', 'DICOM digital signatures need an RSA key (PS3.15 C.1 Base RSA profile)', {});
  }
  let header: DataSet | undefined;
  let headerLength = 0;
  let macId = 0;
  let signed = new Set<Tag>();
  let earlier: DataSet[] = [];
  const rewrite = await openRewrite(source, {
    name: options.name,
    ...(options.decodePixelData ? { decodePixelData: true } : {}),
    finalize: (ds, { pixelDataTag, transferSyntaxUID }) => {
      // Without pixel data the whole data set is the header: signatures and padding move to the end.
      earlier = ds.items(T.DigitalSignaturesSequence);
      ds.delete(T.DigitalSignaturesSequence);
      ds.delete(T.DataSetTrailingPadding);
      // What is signed and written is the canonical encoding of the string values (canonical.ts).
      canonicaliseInPlace(ds);
      const existing = ds.get(MAC_PARAMETERS_SEQUENCE)?.items ?? [];
      macId = existing.reduce((n, item) => Math.max(n, (item.uint16(TAG.MACIDNumber) ?? -1) + 1), 0);
      if (macId > 0xffff) throw new DcmsafeError('USAGE', `${options.name}: no MAC ID Number left`, { file: options.name });
      const tags = [...ds.elements.values()].filter(signableElement).map((e) => e.tag);
      if (pixelDataTag !== undefined) tags.push(pixelDataTag);
      tags.sort((a, b) => a - b);
      // Data Elements Signed is AT with a 16-bit length in Explicit VR: 16383 tags at most.
      if (tags.length * 4 > 0xfffe) {
        throw new DcmsafeError('PART10_LIMIT', `${options.name}: ${tags.length} top-level elements, more than Data Elements Signed (0400,0020) can list`, { file: options.name });
      }
      signed = new Set(tags);
      const item = buildDataSet([
        [TAG.MACIDNumber, 'US', macId],
        // The data set's own transfer syntax: always explicit VR little endian in its encoding, and a
        // compressed one cannot be turned into another without decoding (dcmsign refuses that).
        [TAG.MACCalculationTransferSyntaxUID, 'UI', transferSyntaxUID],
        [TAG.MACAlgorithm, 'CS', signer.algorithm],
        [TAG.DataElementsSigned, 'AT', atValue(tags)],
      ]);
      ds.set(makeElement(MAC_PARAMETERS_SEQUENCE, 'SQ', [...existing, item]));
      header = ds;
      headerLength = encodeHeaderDataSet(ds).length;
    },
  });
  const hash = newMacHash(signer.algorithm);
  const target = { covers: (tag: Tag) => signed.has(tag), update: (b: Buffer) => void hash.update(b) };

  const prepareTrailing = (tail: DataSet): void => {
    for (const el of tail.sorted()) if (el.tag !== T.DigitalSignaturesSequence) tail.set(canonicalElement(el, tail));
  };
  const trailing = (tail: DataSet): Buffer => {
    tail.delete(T.DataSetTrailingPadding);
    const purpose = PROFILE_PURPOSE[signer.profile];
    const item = buildDataSet([
      [TAG.MACIDNumber, 'US', macId],
      [TAG.DigitalSignatureUID, 'UI', options.signatureUID],
      [TAG.DigitalSignatureDateTime, 'DT', signatureDateTime(options.now)],
      [TAG.CertificateType, 'CS', 'X509_1993_SIG'],
    ]);
    if (purpose) {
      const code = buildDataSet([
        [TAG.CodeValue, 'SH', purpose.code],
        [TAG.CodingSchemeDesignator, 'SH', 'ASTM-sigpurpose'],
        [TAG.CodeMeaning, 'LO', purpose.meaning],
      ]);
      item.set(makeElement(TAG.DigitalSignaturePurposeCodeSequence, 'SQ', [code]));
    }
    macSignatureItem(item, (b) => void hash.update(b));
    item.set(makeElement(TAG.CertificateOfSigner, 'OB', signer.certificate));
    item.set(makeElement(TAG.Signature, 'OB', signDigest(signer.privateKey, signer.algorithm, hash.digest())));
    const existing = tail.get(T.DigitalSignaturesSequence)?.items ?? [];
    tail.set(makeElement(T.DigitalSignaturesSequence, 'SQ', [...earlier, ...existing, item]));
    return encodeHeaderDataSet(tail);
  };

  return {
    transferSyntaxUID: rewrite.transferSyntaxUID,
    part10: async function* () {
      if (!header) throw new DcmsafeError('INTERNAL', `${options.name}: header not finalized`, { file: options.name });
      yield encodeFileMeta({ sopClassUID: rewrite.sopClassUID, sopInstanceUID: rewrite.sopInstanceUID, transferSyntaxUID: rewrite.transferSyntaxUID });
      yield* macThroughBody(rewrite.dataSet, { header, headerLength, name: options.name, prepareTrailing, trailing }, [target]);
    },
  };
}

/** The signed form of the file at `path`, its size found by a dry run (the bytes do not depend on the run). */
export interface SignedOutput {
  readonly size: number;
  stream(): AsyncGenerator<Buffer>;
  close(): Promise<void>;
}

/**
 * Prepares the signed output of the file at `path`. `size` comes from signing once without keeping
 * anything (the file is read twice, never held in memory); `stream()` signs again, giving the same bytes.
 */
export async function prepareSignedOutput(path: string, options: Omit<SignOptions, 'name' | 'signatureUID'> & { name?: string; random: Random }): Promise<SignedOutput> {
  const name = options.name ?? path;
  // Drawn once: the dry run and the real one write the same bytes.
  const uid = signatureUID(options.random);
  const open = async (): Promise<{ reader: FileReader; file: SignedFile }> => {
    const reader = await FileReader.open(path);
    try {
      return { reader, file: await openSigned(new ReaderByteSource(reader, 0), { signer: options.signer, now: options.now, name, signatureUID: uid, ...(options.decodePixelData ? { decodePixelData: true } : {}) }) };
    } catch (e) {
      await reader.close();
      throw e;
    }
  };
  const dry = await open();
  let size = 0;
  try {
    for await (const chunk of dry.file.part10()) size += chunk.length;
  } finally {
    await dry.reader.close();
  }
  const run = await open();
  return { size, stream: () => run.file.part10(), close: () => run.reader.close() };
}
