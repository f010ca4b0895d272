/**
 * FAT for USB media (PS3.12 Annex R): a FAT32 stick image writer and a FAT12/16/32 reader.
 */
export { planFat32Image, fat83Name, minimumFat32Size, defaultVolumeId, type Fat32Options } from './writer.js';
export { openFatImage, type FatEntry, type FatVolume, type FatOpenOptions } from './reader.js';
