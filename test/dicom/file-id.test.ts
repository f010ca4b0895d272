import { describe, expect, it } from 'vitest';
import { checkFileId, FileIdAllocator, fileIdToPath, parseFileId } from '../../src/dicom/file-id.js';
import { DcmsafeError } from '../../src/errors/index.js';

describe('File IDs (PS3.10 §8)', () => {
  it('accepts conformant IDs', () => {
    expect(checkFileId(['DICOMDIR'])).toBeUndefined();
    expect(checkFileId(['DICOM', 'PA000001', 'ST000001', 'SE000001', 'IM000001'])).toBeUndefined();
    expect(checkFileId(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'])).toBeUndefined();
  });

  it('names what is wrong', () => {
    expect(checkFileId([])).toBe('empty');
    expect(checkFileId(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I'])).toBe('too-many-components');
    expect(checkFileId(['TOOLONGNAME'])).toBe('component-length');
    expect(checkFileId([''])).toBe('component-length');
    expect(checkFileId(['lower'])).toBe('component-characters');
    expect(checkFileId(['IM.DCM'])).toBe('component-characters');
    expect(checkFileId(['..'])).toBe('component-characters');
  });

  it('never turns a bad ID into a path', () => {
    expect(() => fileIdToPath(['..', 'ETC'])).toThrow(DcmsafeError);
    expect(() => fileIdToPath(['A/B'])).toThrow(DcmsafeError);
    expect(fileIdToPath(['DICOM', 'IM1'])).toBe('DICOM/IM1');
  });

  it('parses the DICOM encoding', () => {
    expect(parseFileId('DICOM\\PA000001\\IM000001 ')).toEqual(['DICOM', 'PA000001', 'IM000001']);
  });

  it('allocates deterministic names per directory and refuses when exhausted', () => {
    const a = new FileIdAllocator();
    expect(a.allocate(['DICOM'], 'PA')).toBe('PA000001');
    expect(a.allocate(['DICOM'], 'PA')).toBe('PA000002');
    expect(a.allocate(['DICOM', 'PA000001'], 'ST')).toBe('ST000001');
    const small = new FileIdAllocator(3);
    for (let i = 1; i <= 9; i++) small.allocate([], 'IM');
    expect(() => small.allocate([], 'IM')).toThrow(expect.objectContaining({ code: 'FILE_ID_EXHAUSTED' }));
  });
});
