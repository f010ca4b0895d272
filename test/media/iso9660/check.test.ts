/** checkIso9660 against hostile images: it walks only what openIso9660 proved finite. */
import { describe, expect, it } from 'vitest';
import { checkIso9660 } from '../../../src/media/iso9660/check.js';
import { FILE_FLAG } from '../../../src/media/iso9660/directory-record.js';
import { openIso9660 } from '../../../src/media/iso9660/reader.js';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { memoryFile } from '../../../src/media/media-file.js';
import { imageOf } from './helpers.js';

describe('checkIso9660 on hostile images', () => {
  it('does not enter an associated file flagged as a directory that points back to the root (it used to walk the root forever)', async () => {
    const image = await imageOf([memoryFile(['DICOMDIR'], Buffer.alloc(600, 1)), memoryFile(['README.TXT'], Buffer.from('hi\n'))]);
    const rootBlock = image.readUInt32LE(16 * 2048 + 158);
    let at = rootBlock * 2048;
    at += image[at]!; // "."
    at += image[at]!; // ".."
    expect(image.toString('latin1', at + 33, at + 33 + image[at + 32]!)).toBe('DICOMDIR.;1');
    image[at + 25] = FILE_FLAG.ASSOCIATED_FILE | FILE_FLAG.DIRECTORY;
    image.writeUInt32LE(rootBlock, at + 2);
    image.writeUInt32BE(rootBlock, at + 6);
    image.writeUInt32LE(2048, at + 10);
    image.writeUInt32BE(2048, at + 14);

    // The reader skips the associated file (§6.5.4), so the image opens...
    expect((await openIso9660(new BufferReader(image))).entries.map((e) => e.path.join('/'))).toEqual(['README.TXT']);
    // ...and the check must end too, with findings rather than a loop.
    const started = performance.now();
    const findings = await checkIso9660(new BufferReader(image));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(Array.isArray(findings)).toBe(true);
  });
});
