/**
 * Test certificates (RFC 5280) made in process with node:crypto and our DER encoder, so the unit
 * tests need no external tool: a CA, and end-entity certificates it issues (with a
 * subjectKeyIdentifier unless asked otherwise). The interop tests use OpenSSL-made ones instead.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  encode,
  explicit,
  integer,
  nullValue,
  octetString,
  oid,
  primitive,
  raw,
  sequence,
  setOf,
  utcTime,
  type DerNode,
} from '../../../src/security/asn1/der.js';
import { parseBer } from '../../../src/security/asn1/ber.js';
import { seededRandom } from '../../../src/util/random.js';

export interface TestIdentity {
  name: string;
  certificate: Buffer;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const SHA256_RSA = '1.2.840.113549.1.1.11';
const random = seededRandom('dcmsafe test pki');

function name(cn: string): DerNode {
  return sequence(setOf([sequence(oid('2.5.4.3'), primitive(0x0c, Buffer.from(cn, 'utf8')))]), setOf([sequence(oid('2.5.4.10'), primitive(0x0c, Buffer.from('dcmsafe tests')))]));
}

function extension(id: string, value: DerNode, critical = false): DerNode {
  return critical ? sequence(oid(id), primitive(0x01, Buffer.from([0xff])), octetString(encode(value))) : sequence(oid(id), octetString(encode(value)));
}

function keyId(spki: Buffer): Buffer {
  // RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value.
  const bitString = parseBer(spki).children[1];
  return createHash('sha1')
    .update(bitString?.content.subarray(1) ?? Buffer.alloc(0))
    .digest();
}

export function makeIdentity(
  cn: string,
  options: { issuer?: TestIdentity; ca?: boolean; ski?: boolean; bits?: number; keys?: { privateKey: KeyObject; publicKey: KeyObject } } = {},
): TestIdentity {
  const { privateKey, publicKey } = options.keys ?? generateKeyPairSync('rsa', { modulusLength: options.bits ?? 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const issuerName = options.issuer ? parseBer(options.issuer.certificate).children[0]?.children[5]?.raw : undefined;
  const serial = random.bytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01;
  const extensions: DerNode[] = [extension('2.5.29.19', options.ca ? sequence(primitive(0x01, Buffer.from([0xff]))) : sequence(), true)];
  if (options.ski !== false) extensions.push(extension('2.5.29.14', octetString(keyId(spki))));
  if (options.ca) extensions.push(extension('2.5.29.15', primitive(0x03, Buffer.from([0x01, 0x06])), true)); // keyCertSign, cRLSign
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(serial),
    sequence(oid(SHA256_RSA), nullValue()),
    issuerName ? raw(Buffer.from(issuerName)) : name(cn),
    sequence(utcTime(new Date('2024-01-01T00:00:00Z')), utcTime(new Date('2049-01-01T00:00:00Z'))),
    name(cn),
    raw(spki),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', encode(tbs), options.issuer?.privateKey ?? privateKey);
  const certificate = encode(sequence(tbs, sequence(oid(SHA256_RSA), nullValue()), primitive(0x03, Buffer.concat([Buffer.from([0]), signature]))));
  return { name: cn, certificate, privateKey, publicKey };
}

export function toPem(der: Buffer, label = 'CERTIFICATE'): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

/** A small test PKI: a CA, a signer, two recipients (one without SKI) and an outsider. */
export function makeTestPki(): { ca: TestIdentity; signer: TestIdentity; recipient: TestIdentity; recipient2: TestIdentity; outsider: TestIdentity } {
  const ca = makeIdentity('dcmsafe test CA', { ca: true });
  return {
    ca,
    signer: makeIdentity('dcmsafe test signer', { issuer: ca }),
    recipient: makeIdentity('dcmsafe test recipient', { issuer: ca }),
    recipient2: makeIdentity('dcmsafe test recipient 2', { issuer: ca, ski: false }),
    outsider: makeIdentity('dcmsafe test outsider', { issuer: ca }),
  };
}
