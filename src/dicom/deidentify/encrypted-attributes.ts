/**
 * PS3.15 E.1.1 items 1 and 4, PS3.3 C.12.1.1.4: the original values of what de-identification
 * removed or replaced, kept for re-identification by one recipient. They go into the single item of
 * Modified Attributes Sequence (0400,0550) of an Encrypted Attributes Data Set, encoded in Explicit
 * VR Little Endian, encrypted as CMS EnvelopedData for the recipient's certificate (RSA key
 * transport, AES-256-CBC) and stored as an item of Encrypted Attributes Sequence (0400,0500) with
 * Encrypted Content Transfer Syntax UID (0400,0510) and Encrypted Content (0400,0520).
 *
 * The envelope is our Secure DICOM File writer's (src/security/cms): its encrypted content is a
 * DigestedData (SHA-256) around the data set, as PS3.15 D.1 wants for files; the decoder below (and
 * any CMS reader) unwraps both layers.
 */
import type { KeyObject } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import { derPrefix } from '../../security/asn1/ber.js';
import { BufferReader } from '../../media/io/random-access-reader.js';
import { openSecureFile } from '../../security/cms/reader.js';
import { planSecureFile } from '../../security/cms/writer.js';
import type { Random } from '../../util/random.js';
import { DataSet } from '../dataset.js';
import { DEFAULT_LIMITS, DataSetParser } from '../part10/parser.js';
import { ELE, makeElement } from '../part10/writer.js';
import { encodeHeaderDataSet } from '../reconcile/rewrite.js';
import { IterableByteSource } from '../reconcile/sources.js';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../transfer-syntax.js';
import { collectChunks } from '../../util/chunks.js';

export const ENCRYPTED_ATTRIBUTES_SEQUENCE = 0x04000500;
export const ENCRYPTED_CONTENT_TRANSFER_SYNTAX_UID = 0x04000510;
export const ENCRYPTED_CONTENT = 0x04000520;
export const MODIFIED_ATTRIBUTES_SEQUENCE = 0x04000550;

/** An item of Encrypted Attributes Sequence holding `originals` encrypted for `certificate` (DER). */
export async function encryptedAttributesItem(originals: DataSet, certificate: Buffer, options: { random: Random; now: Date; parent?: DataSet }): Promise<DataSet> {
  const encryptedSet = new DataSet(ELE);
  const item = new DataSet(ELE, encryptedSet);
  for (const el of originals.elements.values()) item.set(el);
  encryptedSet.set(makeElement(MODIFIED_ATTRIBUTES_SEQUENCE, 'SQ', [item]));
  const plain = encodeHeaderDataSet(encryptedSet);
  const plan = planSecureFile(plain.length, { recipients: [{ kind: 'certificate', certificate }], cipher: 'aes256', signingTime: options.now, random: options.random });
  const envelope = await collectChunks(
    plan.stream(
      (async function* () {
        yield plain;
      })(),
    ),
  );
  const out = new DataSet(ELE, options.parent);
  out.set(makeElement(ENCRYPTED_CONTENT_TRANSFER_SYNTAX_UID, 'UI', EXPLICIT_VR_LITTLE_ENDIAN));
  out.set(makeElement(ENCRYPTED_CONTENT, 'OB', envelope));
  return out;
}

/**
 * The original attributes from the Encrypted Attributes Sequence of a data set, decrypted with the
 * recipient's key: the items of Modified Attributes Sequence, one per Encrypted Attributes item the
 * key opens. Throws CMS_NO_RECIPIENT when none does.
 */
export async function decryptOriginalAttributes(ds: DataSet, key: { certificate: Buffer; privateKey: KeyObject }): Promise<DataSet[]> {
  const found: DataSet[] = [];
  let lastError: unknown;
  for (const item of ds.items(ENCRYPTED_ATTRIBUTES_SEQUENCE)) {
    const ts = item.text(ENCRYPTED_CONTENT_TRANSFER_SYNTAX_UID);
    const content = item.get(ENCRYPTED_CONTENT)?.value;
    if (!content) continue;
    if (ts !== EXPLICIT_VR_LITTLE_ENDIAN) {
      // Another item may still be one this key opens.
      lastError = new DcmsafeError('PART10_UNSUPPORTED_SYNTAX', `Encrypted Attributes Data Set in transfer syntax ${ts ?? '(none)'}`, { transferSyntax: ts ?? '' });
      continue;
    }
    let plain: Buffer;
    try {
      const opened = await openSecureFile(new BufferReader(derPrefix(content), 'Encrypted Content'), { certificates: [key] });
      plain = await collectChunks(opened.content);
      const result = await opened.result;
      if (!result.valid) throw new DcmsafeError('CMS_DECRYPT_FAILED', 'Encrypted Content: the digest of the Encrypted Attributes Data Set does not match', {});
    } catch (e) {
      // Items for other recipients, or not CMS at all, do not hide an item this key opens.
      if (e instanceof DcmsafeError && (e.code === 'CMS_NO_RECIPIENT' || e.code === 'CMS_NOT_SECURE')) {
        lastError = e;
        continue;
      }
      throw e;
    }
    const parsed = new DataSet(ELE);
    await new DataSetParser(new IterableByteSource([plain], 'Encrypted Attributes Data Set', plain.length), DEFAULT_LIMITS).parse(parsed, { stopAtPixelData: false });
    found.push(...parsed.items(MODIFIED_ATTRIBUTES_SEQUENCE));
  }
  if (found.length === 0) {
    if (lastError) throw lastError;
    throw new DcmsafeError('CMS_NO_RECIPIENT', 'no Encrypted Attributes Sequence item in the data set', {});
  }
  return found;
}
