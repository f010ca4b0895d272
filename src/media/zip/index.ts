/** ZIP File Media (PS3.12 Annex V): the writer and the guarded reader. */
export { planZip, needsZip64, type ZipMediaFile, type ZipOptions, type ZipCompression, type ZipPlan, type ZipPlanEntry } from './writer.js';
export { openZip, DEFAULT_ZIP_LIMITS, type ZipEntryInfo, type ZipVolume, type ZipLimits } from './reader.js';
export { checkEntryName } from './names.js';
export { sniffCompressible, sniffTransferSyntax } from './sniff.js';
export { zipError, type ZipErrorCode } from './errors.js';
