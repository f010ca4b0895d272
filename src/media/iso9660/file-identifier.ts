/**
 * File and directory identifiers, ECMA-119 §7.5 (file identifiers: name, "." , extension, ";"
 * version), §7.6 (directory identifiers), §10.1 (Level 1: names of at most 8 d-characters, extensions
 * of at most 3, directory identifiers of at most 8) and §9.3 (the order of records in a directory).
 *
 * PS3.12 F.2: a DICOM File ID component maps to "COMPONENT.;1": no extension, version 1.
 */
import { ISO9660_NAME, isoError } from './errors.js';

/** §10.1 Level 1 file name with optional extension, in d-characters. */
const LEVEL1_FILE = /^([A-Z0-9_]{1,8})(?:\.([A-Z0-9_]{1,3}))?$/;
/** §10.1 Level 1 directory identifier. */
const LEVEL1_DIRECTORY = /^[A-Z0-9_]{1,8}$/;

/** The identifier bytes of the "." record (§6.8.2.2: the directory itself). */
export const SELF_IDENTIFIER = '\x00';
/** The identifier bytes of the ".." record (§6.8.2.2: the parent directory). */
export const PARENT_IDENTIFIER = '\x01';

/**
 * The ISO 9660 Level 1 identifier of one path component: "IM000001" -> "IM000001.;1", "README.TXT" ->
 * "README.TXT;1", directories unchanged. Throws ISO9660_NAME for anything Level 1 cannot hold; names are
 * never changed (no upper-casing, no truncation), so the medium holds exactly the File IDs given.
 */
export function iso9660Name(component: string, isDirectory: boolean): string {
  if (isDirectory) {
    if (LEVEL1_DIRECTORY.test(component)) return component;
    throw isoError(ISO9660_NAME, `directory name "${component}" is not an ISO 9660 Level 1 directory identifier (1-8 of A-Z 0-9 _)`, { component });
  }
  const m = LEVEL1_FILE.exec(component);
  if (!m) {
    throw isoError(ISO9660_NAME, `file name "${component}" is not an ISO 9660 Level 1 file identifier (1-8 of A-Z 0-9 _, optional "." and 1-3 of them)`, {
      component,
    });
  }
  return `${m[1]}.${m[2] ?? ''};1`;
}

/** The parts of a file identifier as §9.3 orders them. Directory identifiers are all name. */
export interface IdentifierParts {
  name: string;
  extension: string;
  version: number;
}

export function splitIdentifier(identifier: string, isDirectory: boolean): IdentifierParts {
  if (isDirectory) return { name: identifier, extension: '', version: 0 };
  const semi = identifier.lastIndexOf(';');
  const base = semi >= 0 ? identifier.slice(0, semi) : identifier;
  const version = semi >= 0 ? Number(identifier.slice(semi + 1)) || 0 : 0;
  const dot = base.lastIndexOf('.');
  return dot >= 0 ? { name: base.slice(0, dot), extension: base.slice(dot + 1), version } : { name: base, extension: '', version };
}

/** §9.3 (a), (b): the shorter string padded with SPACE, then compared by character value. */
export function comparePadded(a: string, b: string): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = i < a.length ? a.charCodeAt(i) : 0x20;
    const cb = i < b.length ? b.charCodeAt(i) : 0x20;
    if (ca !== cb) return ca - cb;
  }
  return 0;
}

/** §9.3: by file name, then extension (both SPACE-padded), then version number descending. */
export function compareIdentifiers(a: IdentifierParts, b: IdentifierParts): number {
  return comparePadded(a.name, b.name) || comparePadded(a.extension, b.extension) || b.version - a.version;
}

/** Whether an identifier read from a medium is a Level 1 file identifier with version 1 (PS3.12 F.2). */
export function isLevel1FileIdentifier(identifier: string): boolean {
  const semi = identifier.lastIndexOf(';');
  if (semi < 0 || identifier.slice(semi + 1) !== '1') return false;
  const base = identifier.slice(0, semi);
  const dot = base.lastIndexOf('.');
  if (dot < 0) return false; // §7.5.1: the SEPARATOR 1 is always recorded
  const name = base.slice(0, dot);
  const ext = base.slice(dot + 1);
  return /^[A-Z0-9_]{1,8}$/.test(name) && /^[A-Z0-9_]{0,3}$/.test(ext);
}

export function isLevel1DirectoryIdentifier(identifier: string): boolean {
  return LEVEL1_DIRECTORY.test(identifier);
}

/** The name a reader shows: version (";n") and a trailing "." removed (§7.5.1 keeps the "." when there is no extension). */
export function displayName(identifier: string): string {
  const semi = identifier.lastIndexOf(';');
  const base = semi >= 0 && /^\d*$/.test(identifier.slice(semi + 1)) ? identifier.slice(0, semi) : identifier;
  return base.endsWith('.') ? base.slice(0, -1) : base;
}
