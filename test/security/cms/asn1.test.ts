/**
 * The building blocks under the CMS writer and reader: DER encoding and its size functions (X.690),
 * BER decoding in memory and streamed (indefinite lengths, constructed strings, limits), the RFC 3211
 * key wrap, and the RSA paddings done over raw RSA (RFC 8017), cross-checked with node:crypto.
 */
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../../src/errors/index.js';
import { decodeOid, decodeTime, integerValue, octetsOf, parseBer, toDer } from '../../../src/security/asn1/ber.js';
import { BerStream } from '../../../src/security/asn1/ber-stream.js';
import { ByteCursor } from '../../../src/security/asn1/cursor.js';
import {
  encode,
  encodeAround,
  encodeOidValue,
  encodeUnsignedInteger,
  hole,
  integer,
  octetString,
  oid,
  primitive,
  sequence,
  setOf,
  sizeOf,
  sizeOfLength,
  time,
} from '../../../src/security/asn1/der.js';
import { CIPHERS } from '../../../src/security/cms/algorithms.js';
import { unwrapKey, wrapKey } from '../../../src/security/cms/pwri.js';
import { decryptOaep, decryptPkcs1v15, encryptOaep, encryptPkcs1v15 } from '../../../src/security/cms/rsa.js';
import { seededRandom } from '../../../src/util/random.js';

const random = seededRandom('asn1');

describe('DER encoding and sizes', () => {
  it('sizeOf equals the encoded length across length-octet boundaries', () => {
    for (const n of [0, 1, 127, 128, 255, 256, 65_535, 65_536, 1 << 24]) {
      const node = sequence(octetString(Buffer.alloc(n)), integer(n));
      expect(encode(node).length, String(n)).toBe(sizeOf(node));
    }
    expect(sizeOfLength(2 ** 31)).toBe(5);
    expect(sizeOfLength(2 ** 32)).toBe(6);
  });

  it('encodes around a hole without allocating it (a 3 GB value)', () => {
    const { before, holeLength, after } = encodeAround(sequence(oid('1.2.840.113549.1.7.1'), hole(0x04, 3e9), integer(5)));
    expect(holeLength).toBe(3e9);
    expect(before.toString('hex')).toBe('3084' + (3e9 + 11 + 6 + 3).toString(16).padStart(8, '0') + '06092a864886f70d010701' + '0484' + (3e9).toString(16).padStart(8, '0'));
    expect(after.toString('hex')).toBe('020105');
  });

  it('round-trips OIDs and integers', () => {
    for (const o of ['1.2.840.113549.1.7.3', '2.16.840.1.101.3.4.1.42', '2.999.18446744073709551616', '0.0', '1.39']) {
      expect(decodeOid(parseBer(encode(oid(o))), 'oid')).toBe(o);
    }
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 200n) - 1n }), (n) => {
        expect(integerValue(encodeUnsignedInteger(n), 'n')).toBe(n);
      }),
    );
    expect(encodeUnsignedInteger(Buffer.from([0, 0, 0x80])).toString('hex')).toBe('0080');
    expect(encodeUnsignedInteger(0).toString('hex')).toBe('00');
    expect(encodeOidValue('1.2.840.113549').toString('hex')).toBe('2a864886f70d');
  });

  it('sorts SET OF by encoding (X.690 §11.6)', () => {
    const s = encode(setOf([octetString(Buffer.from([2])), integer(300), octetString(Buffer.from([1]))]));
    expect(s.toString('hex')).toBe('310a' + '0202012c' + '040101' + '040102');
  });

  it('writes signing-time as UTCTime before 2050, GeneralizedTime after, and reads both', () => {
    const d1 = new Date('2049-12-31T23:59:59Z');
    const d2 = new Date('2050-01-01T00:00:00Z');
    expect(encode(time(d1)).toString('latin1').slice(2)).toBe('491231235959Z');
    expect(encode(time(d2)).toString('latin1').slice(2)).toBe('20500101000000Z');
    expect(decodeTime(parseBer(encode(time(d1))))?.getTime()).toBe(d1.getTime());
    expect(decodeTime(parseBer(encode(time(d2))))?.getTime()).toBe(d2.getTime());
    expect(decodeTime(parseBer(encode(primitive(0x17, Buffer.from('991331235959Z')))))).toBeUndefined(); // month 13
  });
});

/** DER to BER: every constructed element indefinite, OCTET STRINGs cut into constructed segments. */
function toBer(der: Buffer, segment: number): Buffer {
  const walk = (el: ReturnType<typeof parseBer>): Buffer => {
    if (el.tag === 0x04 && el.content.length > segment) {
      const parts: Buffer[] = [];
      for (let i = 0; i < el.content.length; i += segment) parts.push(encode(octetString(el.content.subarray(i, i + segment))));
      return Buffer.concat([Buffer.from([0x24, 0x80]), ...parts, Buffer.from([0, 0])]);
    }
    if (!el.constructed) return Buffer.from(el.raw);
    return Buffer.concat([Buffer.from([el.raw[0] as number, 0x80]), ...el.children.map(walk), Buffer.from([0, 0])]);
  };
  return walk(parseBer(der));
}

function cursorOver(bytes: Buffer, chunk: number, known: boolean): ByteCursor {
  let pos = 0;
  return new ByteCursor(
    'test',
    async () => {
      if (pos >= bytes.length) return null;
      const b = bytes.subarray(pos, pos + chunk);
      pos += b.length;
      return b;
    },
    known ? bytes.length : undefined,
    known ? 'CMS_TRUNCATED' : 'CMS_MALFORMED',
  );
}

describe('BER decoding', () => {
  const payload = seededRandom('payload').bytes(5000);
  const der = encode(sequence(oid('1.2.840.113549.1.7.1'), sequence(integer(7), octetString(payload)), octetString(Buffer.from('tail'))));

  it('parses indefinite lengths and constructed OCTET STRINGs in memory, and re-encodes them as DER', () => {
    const ber = toBer(der, 333);
    const el = parseBer(ber);
    expect(el.indefinite).toBe(true);
    expect(octetsOf(el.children[1]?.children[1], 'payload').equals(payload)).toBe(true);
    expect(toDer(el).equals(der)).toBe(true);
  });

  it('streams the same structure from 1-byte chunks, DER or BER', async () => {
    for (const input of [der, toBer(der, 333), toBer(der, 1)]) {
      const s = new BerStream(cursorOver(input, 1, true));
      s.enter(await s.expectHeader(0x30, 'outer'), 'outer');
      expect(decodeOid(await s.nextElement('oid', 100, 0x06), 'oid')).toBe('1.2.840.113549.1.7.1');
      s.enter(await s.expectHeader(0x30, 'inner'), 'inner');
      await s.nextElement('int', 10, 0x02);
      const h = await s.readHeader('payload');
      const got: Buffer[] = [];
      for await (const c of s.octets(h, 'payload', 100)) got.push(c);
      expect(Buffer.concat(got).equals(payload)).toBe(true);
      expect(await s.atEnd('inner')).toBe(true);
      await s.leave();
      expect(octetsOf(await s.nextElement('tail', 100), 'tail').toString()).toBe('tail');
      await s.leave();
      expect(await s.cursor.atEnd()).toBe(true);
    }
  });

  it('refuses a child longer than its parent (CMS_MALFORMED) and a parent longer than the file (CMS_TRUNCATED)', async () => {
    const bad = Buffer.from('3005' + '0406aabbccddeeff', 'hex');
    const s = new BerStream(cursorOver(bad, 3, true));
    s.enter(await s.readHeader('outer'), 'outer');
    await expect(s.readHeader('inner')).rejects.toMatchObject({ code: 'CMS_MALFORMED' });
    const cut = new BerStream(cursorOver(der.subarray(0, 100), 7, true));
    await expect(cut.readHeader('outer')).rejects.toMatchObject({ code: 'CMS_TRUNCATED' });
    expect(() => parseBer(Buffer.concat([der, Buffer.from([0])]))).toThrow(expect.objectContaining({ code: 'CMS_MALFORMED' }));
  });

  it('bounds nesting depth, in memory and streaming', async () => {
    const deep = Buffer.concat([Buffer.alloc(200).fill(Buffer.from([0x30, 0x80])), Buffer.alloc(200)]);
    expect(() => parseBer(deep)).toThrow(expect.objectContaining({ code: 'CMS_MALFORMED' }));
    const s = new BerStream(cursorOver(deep, 16, true));
    await expect(s.nextElement('deep', 1 << 20)).rejects.toMatchObject({ code: 'CMS_MALFORMED' });
  });

  it('never throws anything but CMS_MALFORMED on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          parseBer(Buffer.from(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(DcmsafeError);
          expect((e as DcmsafeError).code).toBe('CMS_MALFORMED');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('RFC 3211 key wrap', () => {
  it('round-trips for AES and 3DES key-encryption ciphers and rejects the wrong KEK', () => {
    for (const spec of [CIPHERS.aes128, CIPHERS.aes256, CIPHERS['des-ede3']]) {
      for (const cekLength of [16, 24, 32]) {
        const kek = random.bytes(spec.keyLength);
        const iv = random.bytes(spec.blockSize);
        const cek = random.bytes(cekLength);
        const wrapped = wrapKey(spec, kek, iv, cek, random);
        expect(wrapped.length % spec.blockSize).toBe(0);
        expect(unwrapKey(spec, kek, iv, wrapped)?.equals(cek)).toBe(true);
        expect(unwrapKey(spec, random.bytes(spec.keyLength), iv, wrapped)).toBeNull();
      }
    }
  });
});

describe('RSA paddings over raw RSA (RFC 8017)', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cek = random.bytes(32);

  it('PKCS#1 v1.5: ours round-trips, decrypts what OpenSSL (node publicEncrypt) pads, and fails on another key', () => {
    expect(decryptPkcs1v15(privateKey, encryptPkcs1v15(publicKey, cek, random))?.equals(cek)).toBe(true);
    const theirs = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, cek);
    expect(decryptPkcs1v15(privateKey, theirs)?.equals(cek)).toBe(true);
    expect(decryptPkcs1v15(other.privateKey, theirs)).toBeNull();
  });

  it('OAEP SHA-256: ours and node:crypto decrypt each other', () => {
    const params = { hash: 'sha256', mgfHash: 'sha256', label: Buffer.alloc(0) } as const;
    const ours = encryptOaep(publicKey, cek, params, random);
    expect(privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, ours).equals(cek)).toBe(true);
    const theirs = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
    expect(decryptOaep(privateKey, theirs, params)?.equals(cek)).toBe(true);
    expect(decryptOaep(other.privateKey, theirs, params)).toBeNull();
    expect(decryptOaep(privateKey, theirs, { ...params, hash: 'sha1', mgfHash: 'sha1' })).toBeNull();
  });

  it('is deterministic under a seeded Random', () => {
    const a = encryptPkcs1v15(publicKey, cek, seededRandom('r'));
    const b = encryptPkcs1v15(publicKey, cek, seededRandom('r'));
    expect(a.equals(b)).toBe(true);
    expect(encryptOaep(publicKey, cek, { hash: 'sha256', mgfHash: 'sha256', label: Buffer.alloc(0) }, seededRandom('r')).equals(a)).toBe(false);
  });
});

describe('primitive helper sanity', () => {
  it('primitive() keeps the tag given', () => {
    expect(encode(primitive(0x80, Buffer.from([1]))).toString('hex')).toBe('800101');
  });
});
