/**
 * Verifying a SignerInfo (RFC 5652 §5.3-§5.6, §11) against the digest of the content computed while
 * it streamed: message-digest and content-type attributes, the RSA signature (PKCS#1 v1.5 as PS3.15
 * D.1 says, under rsaEncryption or sha*WithRSAEncryption, RFC 3370 §3.2 / RFC 5754 §3.2), and, when
 * present, the ESS signing-certificate(-v2) attribute (RFC 2634 §5.4, RFC 5035 §4) that binds the
 * embedded certificates to the signature.
 *
 * Verification failures are results, not exceptions: a reader reports altered files, it does not
 * crash on them. Only structure that cannot be parsed throws (CMS_MALFORMED).
 */
import { constants, createHash, publicDecrypt, verify, type KeyObject } from 'node:crypto';
import {
  absentOrNull,
  childrenOf,
  decodeAlgorithmIdentifier,
  decodeOid,
  decodeSmallInteger,
  decodeTime,
  malformed,
  octetsOf,
  parseBer,
  toDer,
  type BerElement,
} from '../asn1/ber.js';
import { OID, algorithmName, digestByOid, digestByRsaOid, DIGESTS, type DigestSpec } from './algorithms.js';
import { certificateIds, certificatePublicKey, matchesIssuerAndSerial, type CertificateIds } from './certificate.js';
import { internBytes } from './intern.js';

export interface SignerResult {
  /** All certificates in the SignedData. */
  certificates: Buffer[];
  /** The certificate matching sid, if present. */
  signerCertificate?: Buffer;
  sid: { issuer: Buffer; serialNumber: Buffer } | { subjectKeyIdentifier: Buffer };
  signingTime?: Date;
  digestAlgorithm: string;
  signatureAlgorithm: string;
  signatureValid: boolean;
  digestMatches: boolean;
  /**
   * Present when the signer included an ESS signing-certificate(-v2) attribute: true when the first
   * certificate it names is the signer certificate and every one it names is in the SignedData.
   */
  certificatesMatch?: boolean;
}

export interface SignerContext {
  /** Every certificate choice of SignedData.certificates that is an X.509 certificate. */
  readonly certificates: readonly Buffer[];
  /** Digests of the content computed while streaming, by digest OID. */
  readonly digests: ReadonlyMap<string, Buffer>;
  readonly eContentType: string;
  readonly legacy: Set<string>;
}

interface ParsedCert {
  der: Buffer;
  ids?: CertificateIds;
}

/**
 * Per file (per SignerContext): the certificates parsed once, and their digests computed once per hash
 * algorithm. Before, every SignerInfo parsed them all again and every ESSCertID hashed them all again:
 * 64 signers naming 64 certificates each over 16 MiB of certificates hashed 64 GiB (near a minute per file).
 */
interface FileCache {
  readonly certs: ParsedCert[];
  readonly digests: Map<string, Set<string>>;
}

const fileCaches = new WeakMap<SignerContext, FileCache>();

function cacheOf(ctx: SignerContext): FileCache {
  let c = fileCaches.get(ctx);
  if (!c) {
    c = { certs: parseCerts(ctx.certificates), digests: new Map() };
    fileCaches.set(ctx, c);
  }
  return c;
}

function parseCerts(ders: readonly Buffer[]): ParsedCert[] {
  return ders.map((der) => {
    try {
      return { der, ids: certificateIds(der) };
    } catch {
      return { der }; // unparseable: kept in the list, matched by nothing
    }
  });
}

interface Attributes {
  byType: Map<string, BerElement[][]>;
  duplicates: boolean;
}

function decodeAttributes(el: BerElement): Attributes {
  const byType = new Map<string, BerElement[][]>();
  let duplicates = false;
  for (const a of childrenOf(el, el.tag, 'signedAttrs', 1)) {
    const [type, values] = childrenOf(a, 0x30, 'Attribute', 2, 2);
    const t = decodeOid(type, 'attribute type');
    const v = childrenOf(values, 0x31, 'attribute values', 1);
    const list = byType.get(t);
    if (list) {
      list.push([...v]);
      duplicates = true;
    } else {
      byType.set(t, [[...v]]);
    }
  }
  return { byType, duplicates };
}

/** The single value of an attribute that must occur once with one value (RFC 5652 §11.1-§11.3). */
function single(attrs: Attributes, type: string): BerElement | undefined | null {
  const occurrences = attrs.byType.get(type);
  if (!occurrences) return undefined;
  if (occurrences.length !== 1 || occurrences[0]?.length !== 1) return null;
  return occurrences[0][0];
}

/** ESS signing-certificate check; undefined when no such attribute is present. */
function checkSigningCertificates(attrs: Attributes, cache: FileCache, signer: ParsedCert | undefined): boolean | undefined {
  const v2 = single(attrs, OID.signingCertificateV2);
  const v1 = single(attrs, OID.signingCertificate);
  if (v2 === undefined && v1 === undefined) return undefined;
  if (v2 === null || v1 === null) return false;
  const check = (value: BerElement, v2form: boolean): boolean => {
    const [list] = childrenOf(value, 0x30, 'SigningCertificate', 1, 2);
    const ids = childrenOf(list, 0x30, 'ESSCertID list', 1, 64);
    return ids.every((id, i) => {
      const f = childrenOf(id, 0x30, 'ESSCertID', 1, 3);
      let hash: DigestSpec | undefined = v2form ? DIGESTS.sha256 : DIGESTS.sha1;
      let at = 0;
      if (v2form && f[0]?.tag === 0x30) {
        const alg = decodeAlgorithmIdentifier(f[at++], 'ESSCertIDv2 hashAlgorithm');
        hash = digestByOid(alg.oid);
      }
      const certHash = octetsOf(f[at], 'ESSCertID certHash');
      if (!hash) return false;
      const h = hash;
      if (i === 0) return signer !== undefined && createHash(h.name).update(signer.der).digest().equals(certHash);
      let all = cache.digests.get(h.name);
      if (!all) {
        all = new Set(cache.certs.map((c) => createHash(h.name).update(c.der).digest('hex')));
        cache.digests.set(h.name, all);
      }
      return all.has(certHash.toString('hex'));
    });
  };
  return (v2 === undefined || check(v2, true)) && (v1 === undefined || check(v1, false));
}

/** Signature over the content digest when there are no signed attributes: the DigestInfo inside. */
function verifyDigestInfo(publicKey: KeyObject, signature: Buffer, digest: DigestSpec, value: Buffer): boolean {
  try {
    const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    const [alg, octets] = childrenOf(parseBer(recovered, 'DigestInfo'), 0x30, 'DigestInfo', 2, 2);
    const a = decodeAlgorithmIdentifier(alg, 'DigestInfo algorithm');
    return a.oid === digest.oid && absentOrNull(a.parameters) && octetsOf(octets, 'DigestInfo digest').equals(value);
  } catch {
    return false;
  }
}

export function verifySignerInfo(el: BerElement, ctx: SignerContext): SignerResult & { version: number } {
  const f = childrenOf(el, 0x30, 'SignerInfo', 5, 7);
  const version = decodeSmallInteger(f[0], 'SignerInfo version');
  const sidEl = f[1] as BerElement;
  const cache = cacheOf(ctx);
  const certs = cache.certs;
  let sid: SignerResult['sid'];
  let signer: ParsedCert | undefined;
  // RFC 5652 §5.3: version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
  if (sidEl.tag === 0x30) {
    if (version !== 1) throw malformed('SignerInfo with issuerAndSerialNumber must be version 1');
    const [issuer, serial] = childrenOf(sidEl, 0x30, 'IssuerAndSerialNumber', 2, 2) as [BerElement, BerElement];
    sid = { issuer: internBytes(issuer.raw), serialNumber: internBytes(serial.content) };
    signer = certs.find((c) => c.ids && matchesIssuerAndSerial(sidEl, c.ids));
  } else if (sidEl.tag === 0x80 || sidEl.tag === 0xa0) {
    if (version !== 3) throw malformed('SignerInfo with subjectKeyIdentifier must be version 3');
    const ski = octetsOf(sidEl, 'SignerInfo subjectKeyIdentifier', 0x80);
    sid = { subjectKeyIdentifier: internBytes(ski) };
    signer = certs.find((c) => c.ids?.subjectKeyIdentifier?.equals(ski));
  } else {
    throw malformed('SignerInfo: unknown signer identifier');
  }
  const digestAlg = decodeAlgorithmIdentifier(f[2], 'SignerInfo digestAlgorithm');
  if (!absentOrNull(digestAlg.parameters)) throw malformed('digest algorithm parameters must be NULL or absent');
  const digest = digestByOid(digestAlg.oid);
  let at = 3;
  const signedAttrs = f[at]?.tag === 0xa0 ? f[at++] : undefined;
  const sigAlg = decodeAlgorithmIdentifier(f[at++], 'signatureAlgorithm');
  const signature = octetsOf(f[at++], 'signature');
  if (f[at]?.tag === 0xa1) at++; // unsignedAttrs: not covered by the signature, not used
  if (at !== f.length) throw malformed('SignerInfo: unexpected fields');

  if (digest?.legacy) ctx.legacy.add(digest.name);
  const computed = digest ? ctx.digests.get(digest.oid) : undefined;

  // Which hash the signature uses: the digest algorithm under rsaEncryption, or the one the
  // sha*WithRSAEncryption OID names, which must then be the same.
  let sigHash: DigestSpec | undefined;
  if (absentOrNull(sigAlg.parameters)) {
    if (sigAlg.oid === OID.rsaEncryption) sigHash = digest;
    else {
      const d = digestByRsaOid(sigAlg.oid);
      if (d?.legacy) ctx.legacy.add(d.name);
      if (d && d === digest) sigHash = d;
    }
  }

  let publicKey: KeyObject | undefined;
  if (signer?.ids) {
    try {
      publicKey = certificatePublicKey(signer.ids);
      const bits = publicKey.asymmetricKeyDetails?.modulusLength;
      if (bits && bits < 2048) ctx.legacy.add(`rsa-${bits}`);
    } catch {
      publicKey = undefined;
    }
  }
  const rsa = publicKey?.asymmetricKeyType === 'rsa' ? publicKey : undefined;

  let signatureValid = false;
  let digestMatches = false;
  let signingTime: Date | undefined;
  let certificatesMatch: boolean | undefined;
  if (signedAttrs) {
    const attrs = decodeAttributes(signedAttrs);
    const ct = single(attrs, OID.contentType);
    const md = single(attrs, OID.messageDigest);
    const st = single(attrs, OID.signingTime);
    const contentTypeOk = ct !== undefined && ct !== null && ct.tag === 0x06 && decodeOid(ct, 'content-type') === ctx.eContentType;
    const mdValue = md ? octetsOf(md, 'message-digest') : undefined;
    digestMatches = !attrs.duplicates && contentTypeOk && st !== null && computed !== undefined && mdValue !== undefined && mdValue.equals(computed);
    if (st) signingTime = decodeTime(st);
    certificatesMatch = checkSigningCertificates(attrs, cache, signer);
    if (rsa && sigHash) {
      // RFC 5652 §5.4: the signature covers the DER of the attributes with an EXPLICIT SET OF tag,
      // whatever encoding they came in (a definite length can hold BER inside: long-form lengths,
      // constructed strings); re-encoded as OpenSSL does. DER comes back unchanged.
      const der = toDer(signedAttrs, 0xa0);
      der[0] = 0x31;
      try {
        signatureValid = verify(sigHash.name, der, { key: rsa, padding: constants.RSA_PKCS1_PADDING }, signature);
      } catch {
        signatureValid = false;
      }
    }
  } else if (rsa && sigHash && computed && ctx.eContentType === OID.data) {
    // Without signed attributes the signature is over the content digest itself (RFC 5652 §5.4),
    // which is only allowed for id-data.
    signatureValid = verifyDigestInfo(rsa, signature, sigHash, computed);
    digestMatches = signatureValid;
  }

  return {
    version,
    certificates: [...ctx.certificates],
    ...(signer ? { signerCertificate: signer.der } : {}),
    sid,
    ...(signingTime ? { signingTime } : {}),
    digestAlgorithm: digest?.name ?? digestAlg.oid,
    signatureAlgorithm: algorithmName(sigAlg.oid),
    signatureValid,
    digestMatches,
    ...(certificatesMatch !== undefined ? { certificatesMatch } : {}),
  };
}
