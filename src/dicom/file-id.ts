/**
 * File IDs, PS3.10 §8.2 and §8.5: 1 to 8 components, each 1 to 8 characters from the uppercase
 * letters, digits and underscore. On every medium the File ID is the path of the file in the
 * File-set (PS3.12 Annexes F, P, R, V); we also use it as the path on disk.
 */
import { DcmsafeError } from '../errors/index.js';

export const MAX_COMPONENTS = 8;
export const MAX_COMPONENT_LENGTH = 8;
const COMPONENT = /^[A-Z0-9_]{1,8}$/;

export type FileIdProblem = 'empty' | 'too-many-components' | 'component-length' | 'component-characters';

/** Why a File ID is not conformant, or undefined if it is. */
export function checkFileId(components: readonly string[]): FileIdProblem | undefined {
  if (components.length === 0) return 'empty';
  if (components.length > MAX_COMPONENTS) return 'too-many-components';
  for (const c of components) {
    if (c.length === 0 || c.length > MAX_COMPONENT_LENGTH) return 'component-length';
    if (!COMPONENT.test(c)) return 'component-characters';
  }
  return undefined;
}

export function isValidFileId(components: readonly string[]): boolean {
  return checkFileId(components) === undefined;
}

export function assertValidFileId(components: readonly string[]): void {
  const problem = checkFileId(components);
  if (problem) {
    throw new DcmsafeError('FILE_ID_INVALID', `File ID ${components.join('\\')} is not conformant (${problem})`, { fileId: components.join('\\'), problem });
  }
}

/** A File ID from its DICOM encoding (backslash-separated CS values, padded with spaces). */
export function parseFileId(text: string): string[] {
  return text
    .replace(/[\s\0]+$/, '')
    .split('\\')
    .map((c) => c.trim());
}

/** The relative path of a File ID on a file system, with "/" separators. */
export function fileIdToPath(components: readonly string[]): string {
  assertValidFileId(components);
  return components.join('/');
}

/**
 * Names the children of one directory: a prefix of up to 2 letters and a decimal counter filling
 * the rest of 8 characters, e.g. "IM000001". Deterministic: the n-th child always gets the same name.
 */
export class FileIdAllocator {
  private readonly next = new Map<string, number>();

  constructor(private readonly width = MAX_COMPONENT_LENGTH) {}

  /** The next free component under `parent` (a File ID prefix) with `prefix`. */
  allocate(parent: readonly string[], prefix: string): string {
    if (!/^[A-Z_]{0,4}$/.test(prefix)) throw new DcmsafeError('INTERNAL', `bad File ID prefix ${prefix}`);
    const key = `${parent.join('\\')}|${prefix}`;
    const n = (this.next.get(key) ?? 0) + 1;
    const digits = this.width - prefix.length;
    if (String(n).length > digits) {
      throw new DcmsafeError('FILE_ID_EXHAUSTED', `more than ${10 ** digits - 1} entries named ${prefix} in ${parent.join('/') || 'the root'}`, { parent: parent.join('\\') });
    }
    this.next.set(key, n);
    return prefix + String(n).padStart(digits, '0');
  }
}
