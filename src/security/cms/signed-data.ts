/**
 * The inner structures of a Secure DICOM File (PS3.15 D.1.1), as written: SignedData (RFC 5652 §5)
 * with one signer, or DigestedData (RFC 5652 §7) when there is none, each encapsulating the whole
 * Part 10 file as id-data. The content is a hole (see der.ts): its length is known, its octets are
 * streamed, and the digest and signature that follow it are fixed-size, so the encoding's size is
 * known before the content is read.
 *
 * Signed attributes (RFC 5652 §11): content-type, signing-time, message-digest, and ESS
 * signing-certificate-v2 (RFC 5035) with the hash of every certificate we embed. The last one is not
 * required by D.1; it makes the certificates part of what is signed, so a certificate altered or
 * swapped inside the file is detected (the certificate set of SignedData is otherwise unprotected).
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import { encode, explicit, hole, integer, nullValue, octetString, oid, raw, sequence, setOf, time, TAG, type DerNode } from '../asn1/der.js';
import { OID, type DigestSpec } from './algorithms.js';
import type { CertificateIds } from './certificate.js';

export interface PreparedSigner {
  readonly cert: CertificateIds;
  /** Signer certificate first, then the chain, without duplicates. */
  readonly certificates: readonly Buffer[];
  readonly privateKey: KeyObject;
  readonly digest: DigestSpec;
  /** Octets of an RSA signature: the modulus size. */
  readonly signatureLength: number;
}

/** AlgorithmIdentifier of a digest: parameters absent (RFC 3370 §2.1, RFC 5754 §2). */
export const digestAlgorithmIdentifier = (d: DigestSpec): DerNode => sequence(oid(d.oid));

const attribute = (type: string, value: DerNode): DerNode => sequence(oid(type), setOf([value]));

/** EncapsulatedContentInfo (RFC 5652 §5.2) of id-data whose OCTET STRING is streamed. */
const encapsulatedData = (contentLength: number): DerNode => sequence(oid(OID.data), explicit(0, hole(TAG.OCTET_STRING, contentLength)));

export function signedAttributes(signer: PreparedSigner, signingTime: Date, messageDigest: Buffer): DerNode[] {
  // ESSCertIDv2 (RFC 5035 §4): hashAlgorithm DEFAULT id-sha256 is left out, issuerSerial is optional.
  const certIds = signer.certificates.map((c) => sequence(octetString(createHash('sha256').update(c).digest())));
  return [
    attribute(OID.contentType, oid(OID.data)),
    attribute(OID.signingTime, time(signingTime)),
    attribute(OID.messageDigest, octetString(messageDigest)),
    attribute(OID.signingCertificateV2, sequence(sequence(...certIds))),
  ];
}

/** RSA PKCS#1 v1.5 (RFC 2313 as D.1 says) over the DER of the signed attributes as a SET OF (RFC 5652 §5.4). */
export function signAttributes(signer: PreparedSigner, attributes: DerNode[]): Buffer {
  const signature = sign(signer.digest.name, encode(setOf(attributes, TAG.SET)), signer.privateKey);
  if (signature.length !== signer.signatureLength) throw new RangeError('RSA signature length differs from the modulus size');
  return signature;
}

/**
 * SignedData, version 1 (RFC 5652 §5.1: issuerAndSerialNumber, id-data, X.509 certificates only).
 * With `messageDigest`/`signature` zero-filled it has the final size and prefix (used for planning).
 */
export function signedDataTree(contentLength: number, signer: PreparedSigner, signingTime: Date, messageDigest: Buffer, signature: Buffer): DerNode {
  const signerInfo = sequence(
    integer(1),
    sequence(raw(signer.cert.issuer), raw(signer.cert.serialNumber)),
    digestAlgorithmIdentifier(signer.digest),
    setOf(signedAttributes(signer, signingTime, messageDigest), 0xa0),
    // rsaEncryption with NULL parameters (RFC 3370 §3.2), the form OpenSSL writes too.
    sequence(oid(OID.rsaEncryption), nullValue()),
    octetString(signature),
  );
  return sequence(
    integer(1),
    setOf([digestAlgorithmIdentifier(signer.digest)]),
    encapsulatedData(contentLength),
    setOf(signer.certificates.map(raw), 0xa0),
    setOf([signerInfo]),
  );
}

/** DigestedData, version 0 (RFC 5652 §7: id-data); the digest follows the content. */
export function digestedDataTree(contentLength: number, digest: DigestSpec, value: Buffer): DerNode {
  return sequence(integer(0), digestAlgorithmIdentifier(digest), encapsulatedData(contentLength), octetString(value));
}
