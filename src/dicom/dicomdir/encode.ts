/**
 * DICOMDIR encoder, PS3.3 Annex F.3 (Basic Directory IOD) in a PS3.10 §8.6 file: Explicit VR Little
 * Endian, Media Storage Directory SOP Class, File-set UID as SOP Instance UID.
 *
 * Offsets (0004,1200), (0004,1202), (0004,1400) and (0004,1420) count bytes from the first byte of
 * the file, preamble and "DICM" included, to the Item tag of the record. Records are laid out first
 * (every record's size is independent of the offset values), then encoded in one pass.
 */
import { DcmsafeError } from '../../errors/index.js';
import { DataSet } from '../dataset.js';
import { formatTag, ITEM } from '../tag.js';
import { T } from '../tags.js';
import { ByteWriter, ELE, encodeDataSet, encodeElementHeader, encodeElementInto, encodeFileMeta, makeElement, sizeOfDataSet } from '../part10/writer.js';
import { paddingByte } from '../vr.js';
import { dataSetToExplicitLE } from '../transcode/convert.js';
import { MEDIA_STORAGE_DIRECTORY_SOP_CLASS, type DirectoryRecord, type FileSet } from './model.js';

/** A short-VR text element (CS, UI) written straight into the buffer: what makeElement and the writer would write. */
function writeText(w: ByteWriter, tag: number, vr: 'CS' | 'UI', text: string): void {
  if (/[\u007f-\uffff]/.test(text)) throw new DcmsafeError('INTERNAL', `${formatTag(tag)}: non-ASCII text must be given as bytes`);
  const odd = text.length % 2;
  encodeElementHeader(w, tag, vr, text.length + odd);
  w.latin1(text);
  if (odd) w.buf[w.pos++] = paddingByte(vr);
}

function writeUnsigned(w: ByteWriter, tag: number, vr: 'US' | 'UL', value: number): void {
  encodeElementHeader(w, tag, vr, vr === 'US' ? 2 : 4);
  if (vr === 'US') w.u16(value);
  else w.u32(value);
}

/** A record's item value: its elements in tag order, (0004,1400) to its last key. */
function writeRecord(w: ByteWriter, r: DirectoryRecord, next: number, lower: number): void {
  writeUnsigned(w, T.OffsetOfTheNextDirectoryRecord, 'UL', next);
  writeUnsigned(w, T.RecordInUseFlag, 'US', r.inUse ? 0xffff : 0x0000);
  writeUnsigned(w, T.OffsetOfReferencedLowerLevelDirectoryEntity, 'UL', lower);
  writeText(w, T.DirectoryRecordType, 'CS', r.type);
  if (r.privateRecordUID) writeText(w, T.PrivateRecordUID, 'UI', r.privateRecordUID);
  if (r.fileId) writeText(w, T.ReferencedFileID, 'CS', r.fileId.join('\\'));
  if (r.sopClassUID) writeText(w, T.ReferencedSOPClassUIDInFile, 'UI', r.sopClassUID);
  if (r.sopInstanceUID) writeText(w, T.ReferencedSOPInstanceUIDInFile, 'UI', r.sopInstanceUID);
  if (r.transferSyntaxUID) writeText(w, T.ReferencedTransferSyntaxUIDInFile, 'UI', r.transferSyntaxUID);
  if (r.relatedGeneralSOPClassUIDs?.length) writeText(w, T.ReferencedRelatedGeneralSOPClassUIDInFile, 'UI', r.relatedGeneralSOPClassUIDs.join('\\'));
  for (const el of recordKeys(r).sorted()) encodeElementInto(w, el);
}

/** The record's keys in Explicit VR Little Endian, checked to hold no record header element. */
function recordKeys(r: DirectoryRecord): DataSet {
  // Keys decoded from a big endian or implicit VR directory are converted before encoding.
  const keys = r.keys.syntax.explicitVR && r.keys.syntax.littleEndian ? r.keys : dataSetToExplicitLE(r.keys);
  for (const tag of keys.elements.keys()) {
    if (tag >>> 16 < 0x0008) throw new DcmsafeError('INTERNAL', `record key ${tag.toString(16)} belongs to the record header`);
  }
  return keys;
}

/** Bytes of a short-VR text element holding `text` (padded to even length), as makeElement makes it. */
function textElementSize(text: string): number {
  return 8 + text.length + (text.length % 2);
}

/** Item value length of a record: what recordElements encodes, computed without building it. */
function recordSize(r: DirectoryRecord): number {
  let n = OFFSET_ELEMENTS_SIZE + 10 + textElementSize(r.type); // offsets, in-use flag (US), type
  if (r.privateRecordUID) n += textElementSize(r.privateRecordUID);
  if (r.fileId) n += textElementSize(r.fileId.join('\\'));
  if (r.sopClassUID) n += textElementSize(r.sopClassUID);
  if (r.sopInstanceUID) n += textElementSize(r.sopInstanceUID);
  if (r.transferSyntaxUID) n += textElementSize(r.transferSyntaxUID);
  if (r.relatedGeneralSOPClassUIDs?.length) n += textElementSize(r.relatedGeneralSOPClassUIDs.join('\\'));
  return n + sizeOfDataSet(recordKeys(r));
}

const OFFSET_ELEMENTS_SIZE = 2 * (8 + 4); // (0004,1400) and (0004,1420), UL

function fileSetHeader(fs: FileSet, first: number, last: number): DataSet {
  const ds = new DataSet(ELE);
  ds.set(makeElement(T.FileSetID, 'CS', fs.fileSetId));
  if (fs.descriptorFileId) ds.set(makeElement(T.FileSetDescriptorFileID, 'CS', fs.descriptorFileId));
  if (fs.descriptorCharset) ds.set(makeElement(T.SpecificCharacterSetOfFileSetDescriptorFile, 'CS', fs.descriptorCharset));
  ds.set(makeElement(T.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, 'UL', first));
  ds.set(makeElement(T.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity, 'UL', last));
  ds.set(makeElement(T.FileSetConsistencyFlag, 'US', 0x0000));
  return ds;
}

/**
 * Encodes the File-set as a complete DICOMDIR file. Records are sized first without being built (a
 * File-set of 100 000 instances holds no second copy of its records), then each is encoded straight
 * into the file's buffer.
 */
export function encodeDicomdir(fs: FileSet): Buffer {
  const meta = encodeFileMeta({ sopClassUID: MEDIA_STORAGE_DIRECTORY_SOP_CLASS, sopInstanceUID: fs.fileSetUID, transferSyntaxUID: '1.2.840.10008.1.2.1' });

  // Pass 1: sizes and offsets, in the order records are written (depth first, parents first), and
  // how many records each subtree holds (the next sibling comes after them).
  const sizes: number[] = [];
  const subtree: number[] = [];
  const measure = (records: readonly DirectoryRecord[]): number => {
    let count = 0;
    for (const r of records) {
      const i = sizes.length;
      sizes.push(recordSize(r));
      subtree.push(0);
      subtree[i] = 1 + measure(r.children);
      count += subtree[i] as number;
    }
    return count;
  };
  measure(fs.roots);
  const header = fileSetHeader(fs, 0, 0);
  const sequenceValueStart = meta.length + sizeOfDataSet(header) + 12; // (0004,1220) SQ header is 12 bytes
  const offsets = new Array<number>(sizes.length);
  let pos = sequenceValueStart;
  for (let i = 0; i < sizes.length; i++) {
    offsets[i] = pos;
    pos += 8 + (sizes[i] as number);
  }
  let lastRoot = 0;
  for (let i = 0, k = 0; k < fs.roots.length; k++, i += subtree[i] as number) lastRoot = i;
  const finalHeader = fileSetHeader(fs, fs.roots.length > 0 ? (offsets[0] as number) : 0, fs.roots.length > 0 ? (offsets[lastRoot] as number) : 0);

  // Pass 2: bytes.
  const sequenceLength = pos - sequenceValueStart;
  const total = pos;
  const w = new ByteWriter(total);
  w.bytes(meta);
  w.bytes(encodeDataSet(finalHeader));
  encodeElementHeader(w, T.DirectoryRecordSequence, 'SQ', sequenceLength);
  let i = 0;
  const emit = (records: readonly DirectoryRecord[]): void => {
    records.forEach((record, k) => {
      const at = i++;
      if (w.pos !== offsets[at]) throw new DcmsafeError('INTERNAL', `DICOMDIR layout drifted at record ${record.type}: ${w.pos} != ${offsets[at]}`);
      w.tag(ITEM);
      w.u32(sizes[at] as number); // item length
      const next = k + 1 < records.length ? (offsets[at + (subtree[at] as number)] as number) : 0;
      const lower = record.children.length > 0 ? (offsets[at + 1] as number) : 0;
      writeRecord(w, record, next, lower);
      if (w.pos !== (offsets[at] as number) + 8 + (sizes[at] as number)) throw new DcmsafeError('INTERNAL', `DICOMDIR record ${record.type} is not the size computed for it`);
      emit(record.children);
    });
  };
  emit(fs.roots);
  if (w.pos !== total) throw new DcmsafeError('INTERNAL', `DICOMDIR size drifted: ${w.pos} != ${total}`);
  return w.buf;
}

/** The size of the DICOMDIR file the encoder would write, without writing it. */
export function sizeOfDicomdir(fs: FileSet): number {
  return encodeDicomdir(fs).length;
}
