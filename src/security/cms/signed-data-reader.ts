/**
 * A small CMS SignedData (RFC 5652 §5) read whole from memory: a ContentInfo of id-signedData with
 * its content encapsulated (id-data), as dcmsafe writes its signed media manifest. DER only: any
 * other encoding of the same values is refused (CMS_MALFORMED), so the file's bytes, not just its
 * content, are what was signed. Signatures are checked as for Secure DICOM Files (signer-info.ts);
 * trust is the caller's business.
 */
import { createHash } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import { absentOrNull, childrenOf, decodeAlgorithmIdentifier, decodeOid, decodeSmallInteger, malformed, octetsOf, parseBer, toDer } from '../asn1/ber.js';
import { OID, digestByOid } from './algorithms.js';
import { verifySignerInfo, type SignerResult } from './signer-info.js';

export interface OpenedSignedData {
  readonly content: Buffer;
  readonly signers: SignerResult[];
  /** Every signer's signature valid over the content (and its certificates bound, when it says which). */
  readonly valid: boolean;
  readonly legacy: string[];
}

export const MAX_SIGNED_DATA = 16 << 20;

export function openSignedData(bytes: Buffer, file: string): OpenedSignedData {
  try {
    if (bytes.length > MAX_SIGNED_DATA) throw malformed(`${file}: ${bytes.length} bytes, more than a signed manifest may have`);
    const root = parseBer(bytes, 'ContentInfo');
    if (!toDer(root).equals(bytes)) throw malformed(`${file}: not DER`);
    const [type, wrapper] = childrenOf(root, 0x30, 'ContentInfo', 2, 2);
    if (decodeOid(type, 'contentType') !== OID.signedData) throw malformed(`${file}: not a CMS SignedData`);
    const [signedData] = childrenOf(wrapper, 0xa0, 'content', 1, 1);
    const fields = childrenOf(signedData, 0x30, 'SignedData', 4, 6);
    const version = decodeSmallInteger(fields[0], 'SignedData version');
    if (version !== 1) throw malformed(`${file}: SignedData version ${version} (1 expected)`);
    const digests = new Map<string, Buffer>();
    const [eType, eContent] = childrenOf(fields[2], 0x30, 'EncapsulatedContentInfo', 2, 2);
    if (decodeOid(eType, 'eContentType') !== OID.data) throw malformed(`${file}: the content is not id-data`);
    const [octets] = childrenOf(eContent, 0xa0, 'eContent', 1, 1);
    const content = octetsOf(octets, 'eContent');
    for (const d of childrenOf(fields[1], 0x31, 'digestAlgorithms', 1, 8)) {
      const alg = decodeAlgorithmIdentifier(d, 'digestAlgorithm');
      const spec = digestByOid(alg.oid);
      if (spec && absentOrNull(alg.parameters)) digests.set(spec.oid, createHash(spec.name).update(content).digest());
    }
    let at = 3;
    const certificates = fields[at]?.tag === 0xa0 ? (fields[at++] as NonNullable<(typeof fields)[number]>).children.filter((c) => c.tag === 0x30).map((c) => Buffer.from(c.raw)) : [];
    if (fields[at]?.tag === 0xa1) throw malformed(`${file}: CRLs in a signed manifest`);
    const signerInfos = childrenOf(fields[at], 0x31, 'signerInfos', 1, 16);
    if (at + 1 !== fields.length) throw malformed(`${file}: stray fields in SignedData`);
    const legacy = new Set<string>();
    const signers = signerInfos.map((si) => {
      const { version: _v, ...r } = verifySignerInfo(si, { certificates, digests, eContentType: OID.data, legacy });
      return r;
    });
    const valid = signers.every((s) => s.signatureValid && s.digestMatches && s.certificatesMatch !== false);
    return { content, signers, valid, legacy: [...legacy] };
  } catch (e) {
    if (e instanceof DcmsafeError) throw e;
    throw new DcmsafeError('CMS_MALFORMED', `${file}: ${e instanceof Error ? e.message : String(e)}`, { file }, { cause: e });
  }
}
