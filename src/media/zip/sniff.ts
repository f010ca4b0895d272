/**
 * Whether deflating a file can help, guessed from its first bytes when the caller gave no hint.
 * Deflate (PKWARE APPNOTE 4.4.5, method 8) gains nothing on encrypted or already compressed bytes
 * and only costs time, so those are stored (method 0):
 *  - a Secure DICOM File (PS3.10 §7.4): a CMS ContentInfo, DER SEQUENCE (0x30) whose first OID is
 *    envelopedData 1.2.840.113549.1.7.3;
 *  - a DICOM File (PS3.10 §7.1) whose File Meta Information names an encapsulated (compressed)
 *    transfer syntax or the Deflated one (PS3.5 Annex A);
 *  - common compressed formats by magic number (ZIP, gzip, JPEG, PNG, GIF, JPEG 2000, MP4...),
 *    which a viewer or report folder may hold.
 * Anything else (native DICOM, DICOMDIR, text, HTML) is deflated.
 */
import { lookupTransferSyntax } from '../../dicom/transfer-syntax.js';

/** How many leading bytes the sniffer wants (the File Meta Information is nearly always far shorter). */
export const SNIFF_BYTES = 64 * 1024;

/** DER of the OID 1.2.840.113549.1.7.3 (envelopedData), tag and length included. */
const ENVELOPED_DATA_OID = Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03]);

/** Encapsulated Uncompressed Explicit VR Little Endian: encapsulated, yet the pixels are raw. */
const ENCAPSULATED_UNCOMPRESSED = '1.2.840.10008.1.2.1.98';

const MAGICS: readonly (readonly number[])[] = [
  [0x50, 0x4b, 0x03, 0x04], // ZIP
  [0x1f, 0x8b], // gzip
  [0xff, 0xd8, 0xff], // JPEG
  [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], // PNG
  [0x47, 0x49, 0x46, 0x38], // GIF8
  [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20], // JPEG 2000 (JP2 signature box)
  [0xff, 0x4f, 0xff, 0x51], // JPEG 2000 codestream
  [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], // 7z
  [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], // xz
  [0x42, 0x5a, 0x68], // bzip2
  [0x28, 0xb5, 0x2f, 0xfd], // zstd
];

function startsWith(head: Buffer, magic: readonly number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

/** A CMS ContentInfo (RFC 5652 §3) with contentType envelopedData: the OID follows the outer SEQUENCE header. */
function isEnvelopedData(head: Buffer): boolean {
  if (head[0] !== 0x30 || head.length < 2) return false;
  const first = head[1] ?? 0;
  // Outer length: short form, long form (0x81..0x84) or indefinite (0x80, BER).
  const lengthBytes = first < 0x80 ? 0 : first & 0x7f;
  if (lengthBytes > 4) return false;
  const oidAt = 2 + lengthBytes;
  return head.subarray(oidAt, oidAt + ENVELOPED_DATA_OID.length).equals(ENVELOPED_DATA_OID);
}

/** VRs with a 4-byte length in Explicit VR Little Endian (PS3.5 §7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** The Transfer Syntax UID (0002,0010) of a Part 10 file, read from the File Meta Information in `head`. */
export function sniffTransferSyntax(head: Buffer): string | undefined {
  if (head.length < 132 || head.toString('latin1', 128, 132) !== 'DICM') return undefined;
  let at = 132;
  // Group 0002 is always Explicit VR Little Endian (PS3.10 §7.1).
  while (at + 8 <= head.length) {
    const group = head.readUInt16LE(at);
    const element = head.readUInt16LE(at + 2);
    if (group !== 0x0002) return undefined;
    const vr = head.toString('latin1', at + 4, at + 6);
    let length: number;
    let valueAt: number;
    if (LONG_VRS.has(vr)) {
      if (at + 12 > head.length) return undefined;
      length = head.readUInt32LE(at + 8);
      valueAt = at + 12;
    } else {
      length = head.readUInt16LE(at + 6);
      valueAt = at + 8;
    }
    if (length === 0xffffffff || valueAt + length > head.length) return undefined;
    if (element === 0x0010) {
      return head.toString('latin1', valueAt, valueAt + length).replace(/[\0 ]+$/, '');
    }
    at = valueAt + length;
  }
  return undefined;
}

/** False where deflate cannot help (encrypted or already compressed content), true otherwise. */
export function sniffCompressible(head: Buffer): boolean {
  if (isEnvelopedData(head)) return false;
  const uid = sniffTransferSyntax(head);
  if (uid !== undefined) {
    const ts = lookupTransferSyntax(uid);
    if (ts === undefined) return true;
    if (ts.deflated) return false;
    return !ts.encapsulated || uid === ENCAPSULATED_UNCOMPRESSED;
  }
  return !MAGICS.some((m) => startsWith(head, m));
}
