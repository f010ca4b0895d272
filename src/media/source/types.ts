/**
 * What `dcmsafe verify` sees of an incoming medium, whatever it is (a mounted disc or stick, an
 * ISO 9660 image, a FAT image, a ZIP): a list of regular files with their sizes, findings about what
 * was seen but not listed (links not followed, unreadable items, limits reached), and a random-access
 * reader per file. The medium is hostile: nothing in it decides what is read outside it.
 */
import type { RandomAccessReader } from '../io/random-access-reader.js';

export interface SourceEntry {
  /** Path components as on the medium, from its root (ISO 9660 names without ";1"). */
  readonly path: string[];
  readonly size: number;
}

export type SourceFindingCode = 'SYMLINK_NOT_FOLLOWED' | 'MEDIA_UNREADABLE' | 'LIMIT';

export interface SourceFinding {
  readonly code: SourceFindingCode;
  readonly message: string;
  /** The item's path on the medium, components joined with "/". */
  readonly file?: string;
}

export type MediaKind = 'folder' | 'iso9660' | 'fat' | 'zip';

export interface MediaSource {
  readonly kind: MediaKind;
  /** The medium as named by the caller, made absolute. */
  readonly path: string;
  /** ISO 9660 volume identifier or FAT volume label, when the medium has a non-empty one. */
  readonly label?: string;
  /** Regular files only, depth first, in a stable order. */
  readonly entries: readonly SourceEntry[];
  readonly findings: readonly SourceFinding[];
  /** A reader over the entry's bytes; the caller closes it. */
  open(entry: SourceEntry): Promise<RandomAccessReader>;
  /** Releases the medium; readers still open become unusable. */
  close(): Promise<void>;
}

export interface SourceLimits {
  /** Most items (files, folders, links...) listed; default 1 000 000. */
  maxEntries: number;
  /** Most path components of an item; default 64. */
  maxDepth: number;
  /** Larger files are left out with a LIMIT finding; default 64 GiB. */
  maxFileSize: number;
}

export const DEFAULT_SOURCE_LIMITS: Readonly<SourceLimits> = {
  maxEntries: 1_000_000,
  maxDepth: 64,
  maxFileSize: 64 * 2 ** 30,
};

/** Field by field, so that an explicit `undefined` does not switch a limit off. */
export function resolveLimits(limits: Partial<SourceLimits> = {}): SourceLimits {
  return {
    maxEntries: limits.maxEntries ?? DEFAULT_SOURCE_LIMITS.maxEntries,
    maxDepth: limits.maxDepth ?? DEFAULT_SOURCE_LIMITS.maxDepth,
    maxFileSize: limits.maxFileSize ?? DEFAULT_SOURCE_LIMITS.maxFileSize,
  };
}

/**
 * Entries handed out by a source, and what each stands for inside it. Lookup is by identity (two
 * folder entries may have the same displayed path when their raw names are not UTF-8), then by path
 * for a caller that rebuilt the entry.
 */
export class EntryTable<T> {
  private readonly byEntry = new Map<SourceEntry, T>();
  private readonly byPath = new Map<string, T | null>();

  add(entry: SourceEntry, value: T): void {
    this.byEntry.set(entry, value);
    const key = JSON.stringify(entry.path);
    this.byPath.set(key, this.byPath.has(key) ? null : value); // null: ambiguous
  }

  get(entry: SourceEntry): T | undefined {
    return this.byEntry.get(entry) ?? this.byPath.get(JSON.stringify(entry.path)) ?? undefined;
  }
}
