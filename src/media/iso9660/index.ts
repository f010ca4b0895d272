/**
 * ISO 9660 (ECMA-119) Level 1 writer for PS3.12 Annex F CD-R media, and a reader and checker for our
 * images and those of other tools.
 */
export { planIso9660, type Iso9660Options } from './writer.js';
export { iso9660Name } from './file-identifier.js';
export { openIso9660, type IsoEntry, type IsoExtent, type IsoVolume, type OpenIso9660Options } from './reader.js';
export { checkIso9660, type IsoFinding, type IsoRule } from './check.js';
export { ISO9660_DEPTH, ISO9660_EXTENT, ISO9660_FILE_SIZE, ISO9660_INVALID, ISO9660_NAME } from './errors.js';
