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
import { ITEM } from '../tag.js';
import { T } from '../tags.js';
import { ByteWriter, ELE, encodeDataSet, encodeElementHeader, encodeFileMeta, makeElement, sizeOfDataSet, type ElementValue } from '../part10/writer.js';
import type { VR } from '../vr.js';
import { dataSetToExplicitLE } from '../transcode/convert.js';
import { MEDIA_STORAGE_DIRECTORY_SOP_CLASS, walkRecords, type DirectoryRecord, type FileSet } from './model.js';

interface Placed {
  readonly record: DirectoryRecord;
  /** The record's elements other than the two offsets, which are filled in at encoding. */
  readonly body: DataSet;
  readonly size: number; // item value length
  offset: number; // file offset of the Item tag
  next: number;
  lower: number;
}

function recordBody(r: DirectoryRecord): DataSet {
  const ds = new DataSet(ELE);
  const put = (tag: number, vr: VR, value: ElementValue): void => ds.set(makeElement(tag, vr, value));
  put(T.RecordInUseFlag, 'US', r.inUse ? 0xffff : 0x0000);
  put(T.DirectoryRecordType, 'CS', r.type);
  if (r.privateRecordUID) put(T.PrivateRecordUID, 'UI', r.privateRecordUID);
  if (r.fileId) put(T.ReferencedFileID, 'CS', r.fileId);
  if (r.sopClassUID) put(T.ReferencedSOPClassUIDInFile, 'UI', r.sopClassUID);
  if (r.sopInstanceUID) put(T.ReferencedSOPInstanceUIDInFile, 'UI', r.sopInstanceUID);
  if (r.transferSyntaxUID) put(T.ReferencedTransferSyntaxUIDInFile, 'UI', r.transferSyntaxUID);
  if (r.relatedGeneralSOPClassUIDs?.length) put(T.ReferencedRelatedGeneralSOPClassUIDInFile, 'UI', r.relatedGeneralSOPClassUIDs);
  // Keys decoded from a big endian or implicit VR directory are converted before encoding.
  const keys = r.keys.syntax.explicitVR && r.keys.syntax.littleEndian ? r.keys : dataSetToExplicitLE(r.keys);
  for (const el of keys.elements.values()) {
    if (el.tag >>> 16 < 0x0008) throw new DcmsafeError('INTERNAL', `record key ${el.tag.toString(16)} belongs to the record header`);
    ds.set(el);
  }
  return ds;
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

/** Encodes the File-set as a complete DICOMDIR file. */
export function encodeDicomdir(fs: FileSet): Buffer {
  const meta = encodeFileMeta({ sopClassUID: MEDIA_STORAGE_DIRECTORY_SOP_CLASS, sopInstanceUID: fs.fileSetUID, transferSyntaxUID: '1.2.840.10008.1.2.1' });

  // Pass 1: sizes and offsets.
  const placed = new Map<DirectoryRecord, Placed>();
  const order: Placed[] = [];
  for (const record of walkRecords(fs.roots)) {
    const body = recordBody(record);
    const p: Placed = { record, body, size: sizeOfDataSet(body) + OFFSET_ELEMENTS_SIZE, offset: 0, next: 0, lower: 0 };
    placed.set(record, p);
    order.push(p);
  }
  const header = fileSetHeader(fs, 0, 0);
  const sequenceValueStart = meta.length + sizeOfDataSet(header) + 12; // (0004,1220) SQ header is 12 bytes
  let pos = sequenceValueStart;
  for (const p of order) {
    p.offset = pos;
    pos += 8 + p.size;
  }
  const link = (siblings: readonly DirectoryRecord[]): void => {
    siblings.forEach((r, i) => {
      const p = placed.get(r) as Placed;
      const next = siblings[i + 1];
      p.next = next ? (placed.get(next) as Placed).offset : 0;
      const child = r.children[0];
      p.lower = child ? (placed.get(child) as Placed).offset : 0;
      link(r.children);
    });
  };
  link(fs.roots);
  const firstRoot = fs.roots[0];
  const lastRoot = fs.roots[fs.roots.length - 1];
  const finalHeader = fileSetHeader(fs, firstRoot ? (placed.get(firstRoot) as Placed).offset : 0, lastRoot ? (placed.get(lastRoot) as Placed).offset : 0);

  // Pass 2: bytes.
  const sequenceLength = pos - sequenceValueStart;
  const total = pos;
  const w = new ByteWriter(total);
  w.bytes(meta);
  w.bytes(encodeDataSet(finalHeader));
  encodeElementHeader(w, T.DirectoryRecordSequence, 'SQ', sequenceLength);
  for (const p of order) {
    if (w.pos !== p.offset) throw new DcmsafeError('INTERNAL', `DICOMDIR layout drifted at record ${p.record.type}: ${w.pos} != ${p.offset}`);
    w.tag(ITEM);
    w.u32(p.size); // item length
    const body = new DataSet(ELE);
    body.set(makeElement(T.OffsetOfTheNextDirectoryRecord, 'UL', p.next));
    body.set(makeElement(T.OffsetOfReferencedLowerLevelDirectoryEntity, 'UL', p.lower));
    for (const el of p.body.elements.values()) body.set(el);
    w.bytes(encodeDataSet(body));
  }
  if (w.pos !== total) throw new DcmsafeError('INTERNAL', `DICOMDIR size drifted: ${w.pos} != ${total}`);
  return w.buf;
}

/** The size of the DICOMDIR file the encoder would write, without writing it. */
export function sizeOfDicomdir(fs: FileSet): number {
  return encodeDicomdir(fs).length;
}
