/**
 * The import journal: one JSON line per instance the PACS acknowledged with success, written before
 * the next instance is sent (so it survives the process being killed) and synced to disk at least
 * once a second and at the end (a power cut may lose the last second: those instances are sent again,
 * and the PACS keeps one copy per SOP Instance UID). A re-run reads it and sends only what is missing;
 * a finished import re-run sends nothing. Killed at any point (kill -9), the lines written survive (the
 * kernel holds them); the instance in flight then (sent, perhaps acknowledged, not yet journaled) is
 * sent again by the re-run, so the PACS may receive that one twice and keeps one copy per SOP Instance
 * UID: inherent to any sender, and at most one instance per interruption. A cut last line is repaired
 * when the journal is opened, and an instance is journaled once. It lives with the user's data (default: $XDG_DATA_HOME/dcmsafe/journal, or
 * ~/.local/share/dcmsafe/journal), one file per destination and reconciliation, never in the repo.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { DcmsafeError } from '../errors/index.js';

export interface JournalEntry {
  readonly sopInstanceUID: string;
  readonly storedAt: string;
  readonly status: number;
  readonly file: string;
  /** The instance went in although its origin was not proven (--allow-untrusted). */
  readonly untrusted?: boolean;
}

export function defaultJournalDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME || path.join(homedir(), '.local', 'share');
  return path.join(base, 'dcmsafe', 'journal');
}

/** The journal file for a destination and a reconciliation: changing either starts a new journal. */
export function journalPath(dir: string, destination: { host: string; port: number; calledAE: string }, reconciliation: unknown): string {
  const key = createHash('sha256').update(JSON.stringify({ ...destination, reconciliation })).digest('hex').slice(0, 20);
  return path.join(dir, `${destination.calledAE.replace(/[^A-Za-z0-9_-]/g, '_')}-${key}.jsonl`);
}

function parseEntry(line: string): JournalEntry | undefined {
  if (!line.trim()) return undefined;
  try {
    const entry = JSON.parse(line) as JournalEntry;
    return entry !== null && typeof entry === 'object' && typeof entry.sopInstanceUID === 'string' ? entry : undefined;
  } catch {
    return undefined;
  }
}

async function truncateJournal(file: string, length: number): Promise<void> {
  try {
    const handle = await open(file, 'r+');
    try {
      await handle.truncate(length);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (e) {
    throw new DcmsafeError('IO', `journal ${file} cannot be repaired: ${(e as Error).message}`, { file }, { cause: e });
  }
}

export class ImportJournal {
  private handle: FileHandle | undefined;
  private lastSync = 0;
  /** The file ends inside a line (a crash while writing it): the next record starts a new line. */
  private needsNewline = false;

  private constructor(
    readonly file: string,
    private readonly done: Map<string, JournalEntry>,
    private readonly syncEveryMs: number,
  ) {}

  /**
   * `syncEveryMs` 0 syncs every record. A last line cut by a crash (power cut, full disk) is repaired:
   * kept when it is a whole record that only lacks its newline, else cut off (the file truncated to
   * the last whole line, and synced), so the journal stays one JSON record per line; the instance it
   * was about is sent again.
   */
  static async open(file: string, options: { syncEveryMs?: number } = {}): Promise<ImportJournal> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const done = new Map<string, JournalEntry>();
    let bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return Buffer.alloc(0);
      throw new DcmsafeError('IO', `journal ${file} cannot be read: ${e.message}`, { file }, { cause: e });
    });
    const lastNewline = bytes.lastIndexOf(0x0a);
    let needsNewline = false;
    if (bytes.length > lastNewline + 1) {
      if (parseEntry(bytes.subarray(lastNewline + 1).toString('utf8'))) needsNewline = true;
      else {
        await truncateJournal(file, lastNewline + 1);
        bytes = bytes.subarray(0, lastNewline + 1);
      }
    }
    for (const line of bytes.toString('utf8').split('\n')) {
      // A line that does not parse (cut by a crash in an older version): its instance is simply sent again.
      const entry = parseEntry(line);
      if (entry) done.set(entry.sopInstanceUID, entry);
    }
    const journal = new ImportJournal(file, done, options.syncEveryMs ?? 1000);
    journal.needsNewline = needsNewline;
    return journal;
  }

  has(sopInstanceUID: string): boolean {
    return this.done.has(sopInstanceUID);
  }

  get entries(): JournalEntry[] {
    return [...this.done.values()];
  }

  /**
   * Appends one line; after this returns, killing the process cannot lose it. An instance already
   * journaled (the same SOP Instance UID twice on a medium) is not written again: one line per instance.
   */
  async record(entry: JournalEntry): Promise<void> {
    if (this.done.has(entry.sopInstanceUID)) return;
    this.handle ??= await open(this.file, 'a', 0o600);
    // A line cut by an earlier crash must not swallow this one.
    await this.handle.write(`${this.needsNewline ? '\n' : ''}${JSON.stringify(entry)}\n`);
    this.needsNewline = false;
    this.done.set(entry.sopInstanceUID, entry);
    const now = Date.now();
    if (now - this.lastSync >= this.syncEveryMs) {
      await this.handle.sync();
      this.lastSync = now;
    }
  }

  /** Syncs and closes; the journal can still be read (`has`, `entries`). */
  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (!h) return;
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  }
}
