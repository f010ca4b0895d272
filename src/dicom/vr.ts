/**
 * Value Representations (PS3.5 §6.2): which have a 4-byte length in explicit VR encoding, how values
 * are padded, and the size of the unit to swap between little and big endian.
 */
export const VRS = [
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV',
  'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
] as const;

export type VR = (typeof VRS)[number];

const VR_SET: ReadonlySet<string> = new Set(VRS);

export function isVR(text: string): text is VR {
  return VR_SET.has(text);
}

/** PS3.5 Table 7.1-1: these VRs have two reserved bytes and a 32-bit length in explicit VR. */
const LONG_LENGTH: ReadonlySet<VR> = new Set<VR>(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

export function hasLongLength(vr: VR): boolean {
  return LONG_LENGTH.has(vr);
}

/** Size in bytes of the unit that changes order between little and big endian; 1 means no swap. */
export function swapUnit(vr: VR): 1 | 2 | 4 | 8 {
  switch (vr) {
    case 'US':
    case 'SS':
    case 'OW':
    case 'AT': // AT is two 16-bit numbers
      return 2;
    case 'UL':
    case 'SL':
    case 'FL':
    case 'OF':
    case 'OL':
      return 4;
    case 'FD':
    case 'OD':
    case 'SV':
    case 'UV':
    case 'OV':
      return 8;
    default:
      return 1;
  }
}

/** Character string VRs, padded with a space; UI is padded with NUL; binary VRs with NUL. */
const TEXT: ReadonlySet<VR> = new Set<VR>(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UR', 'UT']);

export function isTextVR(vr: VR): boolean {
  return TEXT.has(vr);
}

export function paddingByte(vr: VR): number {
  return TEXT.has(vr) ? 0x20 : 0x00;
}

/** VRs whose values are affected by Specific Character Set (PS3.5 §6.1.2.3). */
const CHARSET_VRS: ReadonlySet<VR> = new Set<VR>(['SH', 'LO', 'ST', 'LT', 'UC', 'UT', 'PN']);

export function usesSpecificCharacterSet(vr: VR): boolean {
  return CHARSET_VRS.has(vr);
}

/** Maximum value length of VRs with a 16-bit length field. */
export const MAX_SHORT_LENGTH = 0xffff;
