/**
 * Shared copies of what every file of a medium repeats (cms/intern.ts) and parsed BER remembered by
 * its bytes (asn1/ber-memo.ts): same bytes, same object; never a view into the caller's buffer or a
 * Buffer pool slab; failures are not remembered.
 */
import { describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../../src/errors/index.js';
import { parseBer } from '../../../src/security/asn1/ber.js';
import { BerMemo } from '../../../src/security/asn1/ber-memo.js';
import { encode, integer, octetString, sequence } from '../../../src/security/asn1/der.js';
import { internBytes } from '../../../src/security/cms/intern.js';

describe('internBytes', () => {
  it('gives one Buffer for equal bytes, a copy with memory of its own', () => {
    const big = Buffer.alloc(4096, 7);
    const a = internBytes(big.subarray(10, 60));
    const b = internBytes(Buffer.from(big.subarray(100, 150)));
    expect(b).toBe(a);
    expect(a.equals(Buffer.alloc(50, 7))).toBe(true);
    // Not a view of the caller's buffer, nor a slice of an 8 KiB pool slab it would keep alive.
    expect(a.buffer).not.toBe(big.buffer);
    expect(a.buffer.byteLength).toBe(50);
    big.fill(0);
    expect(a.equals(Buffer.alloc(50, 7))).toBe(true);
  });

  it('gives different Buffers for different bytes', () => {
    const a = internBytes(Buffer.from('issuer one'));
    const b = internBytes(Buffer.from('issuer two'));
    expect(a.equals(b)).toBe(false);
    expect(internBytes(Buffer.from('issuer one'))).toBe(a);
  });

  it('stays bounded: many distinct values are still copied right', () => {
    for (let i = 0; i < 1000; i++) expect(internBytes(Buffer.from(`value ${i}`)).toString()).toBe(`value ${i}`);
  });
});

describe('BerMemo', () => {
  const der = encode(sequence(integer(5), octetString(Buffer.from('certificate-ish'))));

  it('parses as parseBer does, once per distinct bytes, from a private copy', () => {
    const memo = new BerMemo(4, 1024);
    const input = Buffer.from(der);
    const first = memo.parse(input, 'certificates');
    expect(first.raw.equals(parseBer(der).raw)).toBe(true);
    expect(first.children.map((c) => c.tag)).toEqual([0x02, 0x04]);
    expect(first.raw.buffer).not.toBe(input.buffer);
    input.fill(0);
    expect(memo.parse(Buffer.from(der), 'certificates')).toBe(first);
    expect(first.raw.equals(der)).toBe(true);
  });

  it('does not remember failures: each parse of bad bytes throws CMS_MALFORMED', () => {
    const memo = new BerMemo(4, 1024);
    const bad = Buffer.from([0x30, 0x05, 0x02, 0x01]);
    for (let i = 0; i < 2; i++) {
      const err = (() => {
        try {
          memo.parse(bad, 'certificates');
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(DcmsafeError);
      expect((err as DcmsafeError).code).toBe('CMS_MALFORMED');
    }
  });

  it('parses elements above its size cap every time, and evicts beyond its count', () => {
    const small = new BerMemo(4, 4);
    expect(small.parse(Buffer.from(der), 'x')).not.toBe(small.parse(Buffer.from(der), 'x'));
    const two = new BerMemo(2, 1024);
    const a = two.parse(Buffer.from(der), 'x');
    two.parse(encode(sequence(integer(1))), 'x');
    two.parse(encode(sequence(integer(2))), 'x');
    expect(two.parse(Buffer.from(der), 'x')).not.toBe(a);
  });
});
