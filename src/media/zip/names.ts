/**
 * ZIP entry names (PKWARE APPNOTE 4.4.17: "relative path", forward slashes, no drive or device
 * letter, no leading slash) checked before they become paths. PS3.12 Annex V keeps the File-set's
 * directory structure in the ZIP, so a name is a list of path components from the ZIP root.
 *
 * The reader refuses anything a careless extractor could turn into a write outside its target
 * folder ("zip slip"): absolute names, drive letters, "..", backslashes (a separator on Windows),
 * NUL and other control characters, and empty or dot-only components (Windows drops trailing dots
 * and spaces, so "... " can become ".."). ":" is refused anywhere: on Windows it is either a drive
 * or an NTFS alternate data stream, never part of a plain file name.
 */
import yauzl from 'yauzl';
import { zipError } from './errors.js';

function unsafe(name: string, why: string): Error {
  return zipError('ZIP_UNSAFE_NAME', `unsafe ZIP entry name ${JSON.stringify(name)}: ${why}`, { entry: name });
}

/**
 * The validated path components of an entry name (a trailing "/" marks a directory entry and is
 * dropped), or throws ZIP_UNSAFE_NAME.
 */
export function checkEntryName(name: string): string[] {
  // yauzl's own check first (backslash, absolute, drive letter, ".." component), then ours.
  const yauzlSays = yauzl.validateFileName(name);
  if (yauzlSays !== null) throw unsafe(name, yauzlSays);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
  if (/[\u0000-\u001f\u007f]/.test(name)) throw unsafe(name, 'NUL or control character');
  if (name.includes(':')) throw unsafe(name, 'drive letter or alternate data stream (":")');
  const body = name.endsWith('/') ? name.slice(0, -1) : name;
  if (body.length === 0) throw unsafe(name, 'empty name');
  const components = body.split('/');
  for (const c of components) {
    if (c.length === 0) throw unsafe(name, 'empty path component');
    if (/^[. ]+$/.test(c)) throw unsafe(name, `path component "${c}" is only dots and spaces`);
    if (c !== c.trimEnd() || c.endsWith('.')) throw unsafe(name, `path component "${c}" ends with a space or a dot`);
  }
  return components;
}
