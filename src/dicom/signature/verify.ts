/**
 * Checking the DICOM Digital Signatures of an instance (PS3.3 C.12.1.1.3, PS3.15 C.1): every item
 * of the top-level Digital Signatures Sequence (FFFA,FFFA) is matched with its MAC Parameters item
 * (4FFE,0001) by MAC ID Number, its MAC recomputed while the data set streams (pixel data included),
 * and its RSA PKCS#1 v1.5 Signature checked against the Certificate of Signer. All six MAC algorithms
 * of Base RSA are accepted, as validators must. Who the signer is and whether to trust it is for
 * the caller (the same trust rules as CMS signers, security/pki/trust.ts); this module says which
 * signatures hold and what they cover. A malformed signature item is a finding, never a crash.
 */
import { constants, publicDecrypt, X509Certificate } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import { derPrefix } from '../../security/asn1/ber.js';
import type { DataSet } from '../dataset.js';
import type { ByteSource } from '../part10/byte-source.js';
import { encodeHeaderDataSet, openRewrite } from '../reconcile/rewrite.js';
import { formatTag, type Tag } from '../tag.js';
import { T } from '../tags.js';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../transfer-syntax.js';
import { digestInfo, isMacAlgorithm, MAC_PARAMETERS_SEQUENCE, macSignatureItem, newMacHash, signableTag, type MacAlgorithm } from './mac.js';
import { PROFILE_PURPOSE, TAG, type SignatureProfile } from './sign.js';
import { macThroughBody } from './stream.js';

export type SignatureProblem =
  /** A required attribute is missing or unreadable, or the MAC parameters cannot be found. */
  | 'malformed'
  /** A MAC algorithm, MAC transfer syntax or certificate type this validator does not know. */
  | 'unsupported'
  /** The signature does not match the data: altered data, or a wrong key. */
  | 'mismatch';

export interface SignatureCheck {
  readonly macId?: number;
  readonly uid?: string;
  /** Digital Signature DateTime as written. */
  readonly dateTime?: string;
  readonly signingTime?: Date;
  readonly macAlgorithm?: string;
  readonly macTransferSyntaxUID?: string;
  readonly certificateType?: string;
  readonly certificate?: Buffer;
  /** Data Elements Signed, in ascending order. */
  readonly coveredTags: readonly Tag[];
  readonly coversPixelData: boolean;
  /** Top-level elements of the instance that the signature does not cover (group lengths, padding and signatures aside). */
  readonly uncoveredTags: readonly Tag[];
  /** Recognised from the Digital Signature Purpose Code (ASTM-sigpurpose), if any. */
  readonly purpose?: { code: string; meaning?: string };
  readonly profile?: SignatureProfile;
  readonly valid: boolean;
  readonly problem?: { kind: SignatureProblem; message: string };
}

export interface InstanceSignatures {
  readonly signatures: readonly SignatureCheck[];
  readonly sopInstanceUID: string;
}

interface MacParameters {
  readonly algorithm?: string;
  readonly transferSyntaxUID?: string;
  readonly tags: Tag[];
  readonly hash?: Hash;
  /** Beyond MAX_MAC_PARAMETERS: not computed (each MAC hashes the data again, pixel data included). */
  readonly skipped?: boolean;
}

/** MAC Parameters items whose MACs are computed: real files hold one per signature, a handful. */
export const MAX_MAC_PARAMETERS = 64;

const PIXEL_TAGS = new Set<Tag>([T.PixelData, T.FloatPixelData, T.DoubleFloatPixelData]);

/** Data Elements Signed (AT, VM 1-n) as tags; undefined when the value is not whole tags. */
function atTags(value: Buffer | undefined): Tag[] | undefined {
  if (!value || value.length % 4 !== 0) return undefined;
  const tags: Tag[] = [];
  for (let i = 0; i < value.length; i += 4) tags.push(((value.readUInt16LE(i) << 16) | value.readUInt16LE(i + 2)) >>> 0);
  return tags.sort((a, b) => a - b);
}

/** DT (PS3.5 Table 6.2-1) to a Date; undefined when it is not a full date-time. */
export function parseDateTime(dt: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,6}))?([+-]\d{4})?$/.exec(dt.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const ms = frac ? Math.floor(Number(frac.padEnd(6, '0')) / 1000) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (tz) t -= (tz.startsWith('-') ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(3, 5))) * 60000;
  const date = new Date(t);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function macTransferSyntaxUsable(uid: string | undefined, written: string): boolean {
  // The rewrite hands over the data set as Explicit VR Little Endian (encapsulated or not): a MAC
  // calculated in that encoding, under either name, can be recomputed from it.
  return uid === EXPLICIT_VR_LITTLE_ENDIAN || uid === written;
}

function recognise(purposeCode: string | undefined): SignatureProfile | undefined {
  if (purposeCode === undefined) return undefined;
  return (Object.keys(PROFILE_PURPOSE) as SignatureProfile[]).find((p) => PROFILE_PURPOSE[p]?.code === purposeCode);
}

function checkItem(item: DataSet, params: ReadonlyMap<number, MacParameters>, rewriteTS: string, present: readonly Tag[]): SignatureCheck {
  const macId = item.uint16(TAG.MACIDNumber);
  const uid = item.text(TAG.DigitalSignatureUID);
  const dateTime = item.text(TAG.DigitalSignatureDateTime);
  const signingTime = dateTime ? parseDateTime(dateTime) : undefined;
  const certificateType = item.text(TAG.CertificateType);
  // The raw values: OB padding must not be trimmed here, a signature or certificate may end in 0x00.
  const signerValue = item.get(TAG.CertificateOfSigner)?.value;
  const certificate = signerValue ? derPrefix(signerValue) : undefined;
  const signature = item.get(TAG.Signature)?.value;
  const code = item.items(TAG.DigitalSignaturePurposeCodeSequence)[0];
  const purposeCode = code?.text(TAG.CodeValue);
  const p = macId !== undefined ? params.get(macId) : undefined;
  const profile = recognise(purposeCode);
  const covered = new Set(p?.tags ?? []);
  const base = {
    ...(macId !== undefined ? { macId } : {}),
    ...(uid ? { uid } : {}),
    ...(dateTime ? { dateTime } : {}),
    ...(signingTime ? { signingTime } : {}),
    ...(p?.algorithm ? { macAlgorithm: p.algorithm } : {}),
    ...(p?.transferSyntaxUID ? { macTransferSyntaxUID: p.transferSyntaxUID } : {}),
    ...(certificateType ? { certificateType } : {}),
    ...(certificate && certificate.length > 0 ? { certificate } : {}),
    coveredTags: p?.tags ?? [],
    coversPixelData: (p?.tags ?? []).some((t) => PIXEL_TAGS.has(t)),
    uncoveredTags: present.filter((t) => !covered.has(t)),
    ...(purposeCode ? { purpose: { code: purposeCode, ...(code?.text(TAG.CodeMeaning) ? { meaning: code.text(TAG.CodeMeaning) as string } : {}) } } : {}),
    ...(profile ? { profile } : {}),
  };
  const fail = (kind: SignatureProblem, message: string): SignatureCheck => ({ ...base, valid: false, problem: { kind, message } });
  if (macId === undefined) return fail('malformed', 'no MAC ID Number (0400,0005)');
  if (!p) return fail('malformed', `no MAC Parameters item with MAC ID Number ${macId}`);
  if (p.skipped) return fail('unsupported', `more than ${MAX_MAC_PARAMETERS} MAC Parameters items: MAC ID Number ${macId} not checked`);
  if (p.tags.length === 0) return fail('malformed', 'Data Elements Signed (0400,0020) missing or malformed');
  if (!p.algorithm || !isMacAlgorithm(p.algorithm)) return fail('unsupported', `MAC Algorithm ${p.algorithm ?? '(missing)'} is not one of RIPEMD160, MD5, SHA1, SHA256, SHA384, SHA512`);
  if (!macTransferSyntaxUsable(p.transferSyntaxUID, rewriteTS)) return fail('unsupported', `MAC Calculation Transfer Syntax ${p.transferSyntaxUID ?? '(missing)'} is not supported`);
  if (!uid) return fail('malformed', 'no Digital Signature UID (0400,0100)');
  if (!dateTime || !signingTime) return fail('malformed', 'Digital Signature DateTime (0400,0105) missing or malformed');
  if (certificateType !== 'X509_1993_SIG') return fail('unsupported', `Certificate Type ${certificateType ?? '(missing)'} is not X509_1993_SIG`);
  if (!certificate || certificate.length === 0) return fail('malformed', 'no Certificate of Signer (0400,0115)');
  if (!signature || signature.length === 0) return fail('malformed', 'no Signature (0400,0120)');
  let publicKey;
  try {
    publicKey = new X509Certificate(certificate).publicKey;
  } catch {
    return fail('malformed', 'the Certificate of Signer is not an X.509 certificate');
  }
  if (publicKey.asymmetricKeyType !== 'rsa') return fail('unsupported', `the signer's key is ${publicKey.asymmetricKeyType ?? 'unknown'}, not RSA (PS3.15 C.1)`);
  const hash = (p.hash as Hash).copy();
  macSignatureItem(item, (b) => void hash.update(b));
  const expected = digestInfo(p.algorithm as MacAlgorithm, hash.digest());
  let recovered: Buffer;
  try {
    recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return fail('mismatch', 'the Signature does not decrypt with the signer\'s public key');
  }
  if (!recovered.equals(expected)) return fail('mismatch', 'the MAC of the signed data does not match the Signature: the data or the signature was altered');
  return { ...base, valid: true };
}

/**
 * Reads a Part 10 file forward-only from `source` and checks every top-level digital signature.
 * Fails (typed DcmsafeError) only when the file itself cannot be read as DICOM.
 */
export async function checkDicomSignatures(source: ByteSource, name: string): Promise<InstanceSignatures> {
  let header: DataSet | undefined;
  let headerLength = 0;
  let writtenTS = EXPLICIT_VR_LITTLE_ENDIAN;
  const present: Tag[] = [];
  const params = new Map<number, MacParameters>();
  const rewrite = await openRewrite(source, {
    name,
    finalize: (ds, written) => {
      header = ds;
      headerLength = encodeHeaderDataSet(ds).length;
      writtenTS = written.transferSyntaxUID;
      present.push(...[...ds.elements.keys()].filter(signableTag));
      if (written.pixelDataTag !== undefined) present.push(written.pixelDataTag);
      for (const item of ds.items(MAC_PARAMETERS_SEQUENCE)) {
        const id = item.uint16(TAG.MACIDNumber);
        if (id === undefined || params.has(id)) continue;
        const algorithm = item.text(TAG.MACAlgorithm);
        const transferSyntaxUID = item.text(TAG.MACCalculationTransferSyntaxUID);
        const tags = atTags(item.bytes(TAG.DataElementsSigned)) ?? [];
        if (params.size >= MAX_MAC_PARAMETERS) {
          params.set(id, { tags, skipped: true });
          continue;
        }
        params.set(id, {
          ...(algorithm ? { algorithm } : {}),
          ...(transferSyntaxUID ? { transferSyntaxUID } : {}),
          tags,
          ...(algorithm && isMacAlgorithm(algorithm) ? { hash: newMacHash(algorithm) } : {}),
        });
      }
    },
  });
  let trailing: DataSet | undefined;
  const targets = [...params.values()]
    .filter((p) => p.hash)
    .map((p) => {
      const covered = new Set(p.tags);
      return { covers: (tag: Tag) => covered.has(tag), update: (b: Buffer) => void p.hash?.update(b) };
    });
  if (!header) throw new DcmsafeError('INTERNAL', `${name}: header not read`, { file: name });
  for await (const chunk of macThroughBody(rewrite.dataSet, { header, headerLength, name, trailing: (t) => ((trailing = t), Buffer.alloc(0)) }, targets)) void chunk;
  // Without pixel data the whole data set, signatures included, is in the header.
  const items = trailing?.has(T.DigitalSignaturesSequence) ? trailing.items(T.DigitalSignaturesSequence) : header.items(T.DigitalSignaturesSequence);
  if (trailing) present.push(...[...trailing.elements.keys()].filter(signableTag));
  present.sort((a, b) => a - b);
  return { sopInstanceUID: rewrite.sopInstanceUID, signatures: items.map((item) => checkItem(item, params, writtenTS, present)) };
}

export function describeTags(tags: readonly Tag[]): string[] {
  return tags.map(formatTag);
}
