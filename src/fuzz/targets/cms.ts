/**
 * Fuzz target: the CMS/BER readers of Secure DICOM Files (PS3.15 D.1, RFC 5652): openSecureFile read to
 * the end (recipients, decryption, the inner SignedData or DigestedData, digests, signatures), parseBer
 * and the streaming BerStream, and the certificate reader.
 *
 * The first byte of an input picks what reads the rest (so mutations reach every reader):
 *   0  a whole Secure DICOM File, opened with a certificate's key and a password;
 *   1  a decrypted SignedData, 2  a decrypted DigestedData, 3  decrypted id-data (a wrapped ContentInfo):
 *      put into an EnvelopedData for a password recipient here, then opened as 0 (mutating a ciphertext
 *      only tests the padding check; this way the inner structures get the mutations);
 *   4  any BER: parseBer, the value decoders on every element, and a BerStream walk to the end;
 *   5  a DER certificate (the CMS certificate reader).
 * Fields: every BER identifier and length octet (ber-fields.ts). Besides typed errors, integrity is
 * checked: a file read as valid must hold the seeds' content (mutations cannot sign). And one input in
 * ten is not a mutation but the same valid file or inner structure in other BER (indefinite and
 * long-form lengths, strings in segments; BER_VARIANT_MAGIC in front): it must read valid, with the
 * same content; refusing it or calling it altered is a failure (an interoperability bug).
 */
import fc from 'fast-check';
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import { BufferReader } from '../../media/io/random-access-reader.js';
import { childrenOf, decodeAlgorithmIdentifier, decodeOid, decodeSmallInteger, decodeTime, octetsOf, parseBer, toDer, type BerElement } from '../../security/asn1/ber.js';
import { BerStream } from '../../security/asn1/ber-stream.js';
import { ByteCursor } from '../../security/asn1/cursor.js';
import { encode, explicit, integer, octetString, oid, primitive, raw, sequence, setOf } from '../../security/asn1/der.js';
import { CIPHERS, OID, cipherByOid } from '../../security/cms/algorithms.js';
import { readCertificate } from '../../security/cms/certificate.js';
import { derivePasswordKek, decodePasswordRecipientInfo, passwordRecipientInfo, unwrapKey, wrapKey, type PasswordKek } from '../../security/cms/pwri.js';
import { openSecureFile, type DecryptionKeys, type SecureFileResult } from '../../security/cms/reader.js';
import { planSecureFile, type SecureWriteOptions } from '../../security/cms/writer.js';
import { issueCertificate } from '../../security/pki/issue.js';
import { seededRandom } from '../../util/random.js';
import { berFields } from '../ber-fields.js';
import { CA_KEY, RECIPIENT_KEY, SIGNER_KEY } from '../cms-keys.js';
import type { Seed } from '../mutate.js';
import { mutationsOf, type FuzzInput, type FuzzTarget } from '../target.js';

const PASSWORD = 'fuzz-password';
/** The reader accepts any count from 1; 10 000 is the writer's minimum and keeps a derivation near 3 ms. */
const ITERATIONS = 10_000;

export const MODE = { file: 0, signed: 1, digested: 2, data: 3, ber: 4, certificate: 5 } as const;
const MODES = 6;

interface Identity {
  certificate: Buffer;
  privateKey: KeyObject;
}

interface Material {
  ca: Identity;
  signer: Identity;
  recipient: Identity;
  kek: PasswordKek;
  keys: DecryptionKeys;
  /** The EnvelopedData parts around decrypted inner bytes (modes 1-3). */
  envelope: { recipientInfo: Buffer; cek: Buffer; iv: Buffer };
}

let material: Material | undefined;

function identity(cn: string, pem: string, serial: number, issuer?: Identity): Identity {
  const privateKey = createPrivateKey(pem);
  const certificate = issueCertificate({
    subject: { O: 'dcmsafe fuzz', CN: cn },
    ...(issuer ? { issuer } : { signingKey: privateKey }),
    publicKey: createPublicKey(privateKey),
    serialNumber: BigInt(serial),
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2045-01-01T00:00:00Z'),
    isCA: issuer === undefined,
    keyUsage: issuer ? ['digitalSignature', 'keyEncipherment'] : ['keyCertSign', 'cRLSign'],
  });
  return { certificate, privateKey };
}

function getMaterial(): Material {
  if (material) return material;
  const ca = identity('Fuzz CA', CA_KEY, 1);
  const signer = identity('Fuzz Signer', SIGNER_KEY, 2, ca);
  const recipient = identity('Fuzz Recipient', RECIPIENT_KEY, 3, ca);
  const kek = derivePasswordKek(PASSWORD, { random: seededRandom('fuzz kek'), iterations: ITERATIONS });
  const random = seededRandom('fuzz envelope');
  const cek = random.bytes(16);
  const wrapIv = random.bytes(16);
  const wrapped = wrapKey(CIPHERS[kek.wrapCipher], kek.key, wrapIv, cek, random);
  const recipientInfo = encode(passwordRecipientInfo(kek, wrapIv, wrapped));
  material = {
    ca,
    signer,
    recipient,
    kek,
    keys: { certificates: [{ certificate: recipient.certificate, privateKey: recipient.privateKey }], passwords: [PASSWORD] },
    envelope: { recipientInfo, cek, iv: random.bytes(16) },
  };
  return material;
}

/** Inner bytes (mode 1-3) in an EnvelopedData (version 3: a password recipient) that the fuzz keys open. */
export function envelopeAround(innerType: string, inner: Buffer): Buffer {
  const m = getMaterial();
  const c = createCipheriv('aes-128-cbc', m.envelope.cek, m.envelope.iv);
  const ciphertext = Buffer.concat([c.update(inner), c.final()]);
  return encode(
    sequence(
      oid(OID.envelopedData),
      explicit(0, sequence(integer(3), setOf([raw(m.envelope.recipientInfo)]), sequence(oid(innerType), sequence(oid(CIPHERS.aes128.oid), octetString(m.envelope.iv)), primitive(0x80, ciphertext)))),
    ),
  );
}

/** The decrypted inner bytes of a Secure DICOM File that has a password recipient for the fuzz password. */
function decryptInner(file: Buffer): Buffer {
  const m = getMaterial();
  const enveloped = parseBer(file).children[1]?.children[0];
  const [, recipientInfos, eci] = childrenOf(enveloped, 0x30, 'EnvelopedData', 3);
  const pwri = decodePasswordRecipientInfo(recipientInfos!.children.find((r) => r.tag === 0xa3)!);
  const cek = unwrapKey(pwri.wrap, m.kek.key, pwri.iv, pwri.encryptedKey)!;
  const alg = decodeAlgorithmIdentifier(eci!.children[1], 'cea');
  const d = createDecipheriv(cipherByOid(alg.oid)!.name, cek, alg.parameters!.content);
  return Buffer.concat([d.update(eci!.children[2]!.content), d.final()]);
}

/** Preamble, DICM and deterministic filler: all CMS sees of a Part 10 file. */
function part10Like(length: number): Buffer {
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), seededRandom('fuzz content').bytes(length - 132)]);
}

async function write(options: Omit<SecureWriteOptions, 'signingTime' | 'random'>, content: Buffer, seed: string): Promise<Buffer> {
  const plan = planSecureFile(content.length, { ...options, signingTime: new Date('2025-06-01T00:00:00Z'), random: seededRandom(seed) });
  const parts: Buffer[] = [];
  async function* one(): AsyncGenerator<Buffer> {
    yield content;
  }
  for await (const b of plan.stream(one())) parts.push(b);
  return Buffer.concat(parts);
}

function seed(name: string, mode: number, bytes: Buffer): Seed {
  return { name, bytes: Buffer.concat([Buffer.from([mode]), bytes]), fields: [{ offset: 0, size: 1, endian: 'be' }, ...berFields(bytes, 1)] };
}

/** The content of every seed: a file that reads as valid must hold exactly this. */
const CONTENT = part10Like(1200);

/**
 * Reads a Secure DICOM File to the end, as verify does: content, then the verdict. Integrity is checked
 * too: mutations cannot sign or digest, so a file read as valid with other content than the seeds'
 * is a failure of the reader (reported as INTERNAL, a crash).
 */
async function readSecure(bytes: Buffer, keys: DecryptionKeys): Promise<number> {
  const opened = await openSecureFile(new BufferReader(bytes, 'fuzz.p7m'), keys);
  const parts: Buffer[] = [];
  for await (const c of opened.content) parts.push(Buffer.from(c));
  const result = await opened.result;
  const content = Buffer.concat(parts);
  if (result.valid && !content.equals(CONTENT)) {
    throw new DcmsafeError('INTERNAL', `read as valid (${result.structure}) with altered content: ${content.length} bytes, ${CONTENT.length} signed`);
  }
  return content.length + result.signers.length + (result.valid ? 1 : 0);
}

/** The value decoders on every element of a tree: typed errors are fine, and the walk goes on. */
function decodeValues(el: BerElement, depth = 0): number {
  let n = 0;
  const attempt = (f: () => unknown): void => {
    try {
      f();
      n++;
    } catch (e) {
      if (!(e instanceof DcmsafeError) || e.code === 'INTERNAL') throw e;
    }
  };
  if (el.tag === 0x06) attempt(() => decodeOid(el, 'OID'));
  if (el.tag === 0x02) attempt(() => decodeSmallInteger(el, 'INTEGER'));
  if (el.tag === 0x17 || el.tag === 0x18) attempt(() => decodeTime(el));
  if (el.tag === 0x04 || el.tag === 0x24) attempt(() => octetsOf(el, 'OCTET STRING'));
  if (el.tag === 0x30) attempt(() => decodeAlgorithmIdentifier(el, 'AlgorithmIdentifier'));
  if (depth === 0) attempt(() => toDer(el));
  for (const c of el.children) n += decodeValues(c, depth + 1);
  return n;
}

/** Walks a BER stream to its end: every constructed element entered and left, every value streamed. */
async function walkStream(bytes: Buffer): Promise<number> {
  const ber = new BerStream(ByteCursor.fromReader(new BufferReader(bytes, 'fuzz.ber'), 0, 4096));
  let n = 0;
  const walk = async (): Promise<void> => {
    while (!(await ber.atEnd('element'))) {
      const h = await ber.readHeader('element');
      n++;
      if (h.constructed) {
        ber.enter(h, 'element');
        await walk();
        await ber.leave();
      } else {
        for await (const c of ber.octets(h, 'value', 4096)) n += c.length > 0 ? 1 : 0;
      }
    }
  };
  await walk();
  return n;
}

// ---- BER re-encodings of valid files and inner structures (what streaming encoders write) ----------

/** Inputs made by berVariants start with this (mutations cannot make it): they must still read valid. */
export const BER_VARIANT_MAGIC = Buffer.from('\xb5BER-VARIANT\x00', 'latin1');

function encodeLength(n: number, longForm: boolean): Buffer {
  if (!longForm && n < 0x80) return Buffer.from([n]);
  const out = Buffer.alloc(5);
  out[0] = 0x84; // four length octets, minimal or not: BER allows either (X.690 §8.1.3.5)
  out.writeUInt32BE(n, 1);
  return out;
}

/**
 * `el` encoded again with BER choices drawn from `choose`: definite lengths made indefinite or long
 * form, OCTET STRINGs split into constructed segments. Certificates (`keep`) stay byte for byte: their
 * own signatures and the ESS hashes cover their encoding.
 */
export function berVariant(el: BerElement, choose: () => number, keep: (el: BerElement) => boolean): Buffer {
  if (el.tagNumber >= 31 || keep(el)) return Buffer.from(el.raw);
  const id = el.raw[0] as number;
  const c = choose();
  if (!el.constructed) {
    if (el.tag === 0x04 && el.content.length > 1 && c % 4 === 0) {
      const cut = 1 + (choose() % (el.content.length - 1));
      const parts = [el.content.subarray(0, cut), el.content.subarray(cut)].map((p) => Buffer.concat([Buffer.from([0x04]), encodeLength(p.length, choose() % 2 === 0), p]));
      return c % 8 === 0 ? Buffer.concat([Buffer.from([0x24, 0x80]), ...parts, Buffer.from([0, 0])]) : Buffer.concat([Buffer.from([0x24]), encodeLength(parts[0]!.length + parts[1]!.length, false), ...parts]);
    }
    return Buffer.concat([Buffer.from([id]), encodeLength(el.content.length, c % 3 === 0), el.content]);
  }
  const inner = Buffer.concat(el.children.map((child) => berVariant(child, choose, keep)));
  if (c % 3 === 0) return Buffer.concat([Buffer.from([id, 0x80]), inner, Buffer.from([0, 0])]);
  return Buffer.concat([Buffer.from([id]), encodeLength(inner.length, c % 3 === 1), inner]);
}

/** The certificates of a SignedData (its [0] field's children), wherever the SignedData is in `root`. */
function certificatesOf(root: BerElement): Set<BerElement> {
  const signedData = root.children[0]?.tag === 0x02 ? root : root.children[1]?.children[0];
  const field = signedData?.children.find((c) => c.tag === 0xa0 && c !== signedData.children[2]);
  return new Set(field?.children ?? []);
}

const INNER_TYPES = [OID.signedData, OID.digestedData, OID.data] as const;

function berVariants(seeds: readonly Seed[]): fc.Arbitrary<FuzzInput> {
  // The inner seeds (modes 1-3): their structures are not encrypted here, so every part can vary;
  // and the whole files (mode 0): their unencrypted envelope (recipients, algorithms, lengths).
  const inner = seeds.filter((s) => s.bytes[0] === MODE.file || s.bytes[0] === MODE.signed || s.bytes[0] === MODE.digested || s.bytes[0] === MODE.data);
  return fc.record({ seed: fc.nat(inner.length - 1), choices: fc.array(fc.nat(255), { minLength: 16, maxLength: 64 }) }).map(({ seed, choices }) => {
    const s = inner[seed] as Seed;
    const tree = parseBer(s.bytes.subarray(1));
    const keep = certificatesOf(tree);
    let i = 0;
    const bytes = berVariant(tree, () => choices[i++ % choices.length] as number, (el) => keep.has(el));
    return { bytes: Buffer.concat([BER_VARIANT_MAGIC, s.bytes.subarray(0, 1), bytes]), how: `${s.name}: BER variant (${choices.slice(0, 8).join(',')}...)` };
  });
}

export const cmsTarget: FuzzTarget = {
  name: 'cms',
  description: 'Secure DICOM File (openSecureFile to the end), decrypted SignedData/DigestedData, parseBer, BerStream, certificates',
  async seeds() {
    const m = getMaterial();
    const content = CONTENT;
    const signer = { certificate: m.signer.certificate, chain: [m.ca.certificate], privateKey: m.signer.privateKey, digest: 'sha256' as const };
    const certRecipient = { kind: 'certificate' as const, certificate: m.recipient.certificate };
    const passwordRecipient = { kind: 'password' as const, kek: m.kek };
    const signedCert = await write({ recipients: [certRecipient], signer }, content, 's1');
    const signedBoth = await write({ recipients: [passwordRecipient, { ...certRecipient, padding: 'oaep' }], signer: { ...signer, chain: [], digest: 'sha1' }, cipher: 'des-ede3' }, content, 's2');
    const signedPassword = await write({ recipients: [passwordRecipient], signer, cipher: 'aes128' }, content, 's3');
    const digested = await write({ recipients: [passwordRecipient], digest: 'sha384', cipher: 'aes192' }, content, 's4');
    const signedInner = decryptInner(signedPassword);
    const digestedInner = decryptInner(digested);
    const wrapped = encode(sequence(oid(OID.signedData), explicit(0, raw(signedInner))));
    return [
      seed('ours:signed, certificate recipient', MODE.file, signedCert),
      seed('ours:signed sha1 3des, password and OAEP recipients', MODE.file, signedBoth),
      seed('ours:signed, password recipient', MODE.file, signedPassword),
      seed('ours:digested, password recipient', MODE.file, digested),
      seed('ours:inner SignedData', MODE.signed, signedInner),
      seed('ours:inner DigestedData', MODE.digested, digestedInner),
      seed('ours:inner id-data holding a ContentInfo', MODE.data, wrapped),
      seed('ours:BER, a whole file', MODE.ber, signedCert),
      seed('ours:BER, the signer certificate', MODE.ber, m.signer.certificate),
      seed('ours:certificate, CA', MODE.certificate, m.ca.certificate),
      seed('ours:certificate, recipient', MODE.certificate, m.recipient.certificate),
    ];
  },
  arbitrary(seeds) {
    return fc.oneof({ weight: 9, arbitrary: mutationsOf(seeds) }, { weight: 1, arbitrary: berVariants(seeds) });
  },
  async run(input) {
    const m = getMaterial();
    if (input.subarray(0, BER_VARIANT_MAGIC.length).equals(BER_VARIANT_MAGIC)) {
      // Another encoding of a valid structure (BER allows it, OpenSSL writes it) must read valid.
      const variantMode = input[BER_VARIANT_MAGIC.length] ?? 1;
      const body = input.subarray(BER_VARIANT_MAGIC.length + 1);
      const type = variantMode === MODE.file ? OID.signedData : (INNER_TYPES[(variantMode + 2) % 3] as string);
      const file = variantMode === MODE.file ? body : envelopeAround(type, body);
      const parts: Buffer[] = [];
      let result: SecureFileResult;
      try {
        const opened = await openSecureFile(new BufferReader(file, 'variant.p7m'), m.keys);
        for await (const c of opened.content) parts.push(Buffer.from(c));
        result = await opened.result;
      } catch (e) {
        // Refusing it is as wrong as misreading it.
        if (e instanceof DcmsafeError) throw new DcmsafeError('INTERNAL', `a BER encoding of a valid file is refused: ${e.code}: ${e.message}`);
        throw e;
      }
      // id-data holds the seed's wrapped ContentInfo of SignedData; one whole file holds DigestedData.
      const expected = type === OID.digestedData ? 'digested' : variantMode === MODE.file ? result.structure : 'signed';
      if (!result.valid || !Buffer.concat(parts).equals(CONTENT) || result.structure !== expected) {
        throw new DcmsafeError('INTERNAL', `a BER encoding of a valid ${expected} structure reads as ${result.structure}, valid ${String(result.valid)}: ${JSON.stringify(result.signers.map((x) => [x.signatureValid, x.digestMatches, x.certificatesMatch]))}`);
      }
      return parts.length;
    }
    const mode = (input[0] ?? 0) % MODES;
    const body = input.subarray(1);
    switch (mode) {
      case MODE.file:
        return readSecure(body, m.keys);
      case MODE.signed:
        return readSecure(envelopeAround(OID.signedData, body), m.keys);
      case MODE.digested:
        return readSecure(envelopeAround(OID.digestedData, body), m.keys);
      case MODE.data:
        return readSecure(envelopeAround(OID.data, body), m.keys);
      case MODE.ber: {
        // Both readers must end the same way: read, or a typed error (the first is rethrown).
        let first: unknown;
        let n = 0;
        try {
          n += decodeValues(parseBer(body, 'fuzz BER'));
        } catch (e) {
          first = e;
        }
        try {
          n += await walkStream(body);
        } catch (e) {
          first ??= e;
        }
        if (first !== undefined) throw first;
        return n;
      }
      default:
        return readCertificate(body, 'fuzz certificate').serialValue.length;
    }
  },
};
