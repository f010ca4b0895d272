/** Whether deflate can help, from the first bytes: Secure DICOM Files, transfer syntaxes, magic numbers. */
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sniffCompressible, sniffTransferSyntax } from '../../../src/media/zip/index.js';
import { EXPLICIT_LE, JPEG_BASELINE, part10, secureFile, signal } from './helpers.js';

describe('sniffTransferSyntax', () => {
  it('reads (0002,0010) from the File Meta Information', () => {
    expect(sniffTransferSyntax(part10(JPEG_BASELINE, Buffer.alloc(10)))).toBe(JPEG_BASELINE);
    expect(sniffTransferSyntax(part10('1.2.840.10008.1.2', Buffer.alloc(10)))).toBe('1.2.840.10008.1.2');
  });
  it('gives up on what is not Part 10 or is cut short', () => {
    expect(sniffTransferSyntax(Buffer.from('plain text'))).toBeUndefined();
    expect(sniffTransferSyntax(part10(EXPLICIT_LE, Buffer.alloc(0)).subarray(0, 150))).toBeUndefined();
  });
});

describe('sniffCompressible', () => {
  it('says no for Secure DICOM Files (BER indefinite or DER long-form length)', () => {
    expect(sniffCompressible(secureFile(1000))).toBe(false);
    const der = Buffer.from([0x30, 0x82, 0x12, 0x34, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03]);
    expect(sniffCompressible(der)).toBe(false);
    // SignedData (1.2.840.113549.1.7.2) is not encrypted: deflate may help.
    const signed = Buffer.from(der);
    signed[signed.length - 1] = 0x02;
    expect(sniffCompressible(signed)).toBe(true);
  });
  it('says no for encapsulated and deflated transfer syntaxes, yes for native ones', () => {
    expect(sniffCompressible(part10(JPEG_BASELINE, signal(100)))).toBe(false);
    expect(sniffCompressible(part10('1.2.840.10008.1.2.5', signal(100)))).toBe(false); // RLE
    expect(sniffCompressible(part10('1.2.840.10008.1.2.1.99', signal(100)))).toBe(false); // Deflated
    expect(sniffCompressible(part10(EXPLICIT_LE, signal(100)))).toBe(true);
    expect(sniffCompressible(part10('1.2.840.10008.1.2.1.98', signal(100)))).toBe(true); // encapsulated, uncompressed
  });
  it('says no for common compressed formats, yes for text', () => {
    expect(sniffCompressible(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0]))).toBe(false);
    expect(sniffCompressible(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(false);
    expect(sniffCompressible(zlib.gzipSync(Buffer.from('x')))).toBe(false);
    expect(sniffCompressible(Buffer.from('PK\x03\x04rest', 'latin1'))).toBe(false);
    expect(sniffCompressible(Buffer.from('<html>DICOM</html>'))).toBe(true);
    expect(sniffCompressible(Buffer.alloc(0))).toBe(true);
  });
});
