/**
 * Local operator accounts for the front-desk UI: a JSON file (mode 0600, folder 0700) of names,
 * roles and scrypt password hashes (RFC 7914), with a lock-out after repeated failed sign-ins.
 *
 * Hashes are PHC-like strings, `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (unpadded base64), with the
 * cost parameters stored beside each hash so that they can be raised later without invalidating
 * old ones. N = 2^15, r = 8, p = 1 needs 32 MiB and took about 85 ms per check on the build
 * machines (2^16: 64 MiB, 170 ms). Passwords are normalised to Unicode NFC before hashing, so the
 * same characters typed on different systems (composed or decomposed accents) give the same hash.
 *
 * Every change is a read-modify-write of the whole file under a lock file beside it (withFileLock
 * of util/durable.ts: created exclusively, holding the owner's pid and host); a lock whose owner
 * died is taken over. The new content goes to a temporary file that is synced and renamed over the
 * old one, so a crash leaves either the old or the new file, never a mix. A password is never
 * logged, stored or put into a message.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../errors/index.js';
import { configFolder } from '../config/config.js';
import { systemClock, type Clock } from '../util/clock.js';
import { withFileLock, writeFileAtomic } from '../util/durable.js';

export type Role = 'clerk' | 'admin';
export const ROLES: readonly Role[] = ['clerk', 'admin'];

export interface OperatorInfo {
  readonly name: string;
  readonly role: Role;
  readonly created: string;
  readonly failedAttempts: number;
  readonly locked: boolean;
  readonly lastSignIn?: string;
}

export const MAX_FAILED_ATTEMPTS = 5;
export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 1024;

export type AuthenticationResult =
  | { ok: true; operator: OperatorInfo }
  | { ok: false; reason: 'unknown' | 'wrong-password' | 'locked'; operator?: OperatorInfo };

/**
 * What the audit trail names for a sign-in with a name that is no account: such a name is often the
 * password typed into the wrong field, so it is never written down.
 */
export const UNKNOWN_OPERATOR = '(unknown operator)';

/** The default operators file: $XDG_CONFIG_HOME/dcmsafe/operators.json (~/.config/dcmsafe/operators.json). */
export function defaultOperatorsFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configFolder(env), 'operators.json');
}

// ---------------------------------------------------------------------------------------------
// Passwords

/** scrypt cost: log2(N), block size r, parallelism p. */
export interface ScryptCost {
  readonly ln: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT_COST: ScryptCost = { ln: 15, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Hashes beyond this (stored by a later version, or tampered with) are refused, not computed. */
const MAX_SCRYPT_MEMORY = 64 * 1024 * 1024;

function scryptMemory(cost: ScryptCost): number {
  return 128 * 2 ** cost.ln * cost.r * cost.p;
}

function scrypt(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  // maxmem: Node's default (32 MiB) is just below what N = 2^15, r = 8 needs (128·N·r plus a little).
  const options: ScryptOptions = { N: 2 ** cost.ln, r: cost.r, p: cost.p, maxmem: scryptMemory(cost) + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(Buffer.from(password.normalize('NFC'), 'utf8'), salt, HASH_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

/** `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` for a new password, with a fresh random salt. */
export async function hashPassword(password: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(password, salt, cost);
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${b64(salt)}$${b64(hash)}`;
}

interface ParsedHash {
  readonly cost: ScryptCost;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function parseHash(text: string): ParsedHash | undefined {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/.exec(text);
  if (!m) return undefined;
  const cost = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (cost.ln < 1 || cost.r < 1 || cost.p < 1 || scryptMemory(cost) > MAX_SCRYPT_MEMORY) return undefined;
  return { cost, salt: Buffer.from(m[4] as string, 'base64'), hash: Buffer.from(m[5] as string, 'base64') };
}

/** Checks a password against a stored hash in constant time (for hashes of the same length). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) {
    // Costs what a real check costs, so that a damaged entry is not told apart by timing either.
    await scrypt(password, Buffer.alloc(SALT_BYTES), DEFAULT_SCRYPT_COST);
    return false;
  }
  const computed = await scrypt(password, parsed.salt, { ...parsed.cost });
  return computed.length === parsed.hash.length && timingSafeEqual(computed, parsed.hash);
}

/** A few passwords from the top of leaked-password lists that reach 12 characters, and their kin. */
const COMMON_PASSWORDS = new Set([
  '123456789012', '1234567890123', '12345678901234', '123456789000', '111111111111', '000000000000',
  'password1234', 'password123!', 'passwordpassword', 'password12345', 'p@ssw0rd1234', 'passw0rd1234',
  'qwertyuiopas', 'qwerty123456', '1q2w3e4r5t6y', 'qwertyqwerty', 'asdfghjkl123', '1qaz2wsx3edc',
  'iloveyou1234', 'administrator', 'admin1234567', 'adminadminadmin', 'welcome12345', 'changeme1234',
  'letmein12345', 'abcdefghijkl', 'abc123abc123', 'football1234', 'baseball1234', 'sunshine1234',
  'dcmsafe12345', 'dcmsafedcmsafe', 'hospital1234', 'radiology123', 'radiology1234', 'frontdesk123',
]);

/**
 * A short pattern repeated ("aaaa...", "abab...", "abcabc...") or a run of consecutive characters up
 * or down ("abcdef...", "987654...", digits wrapping from 9 to 0 as on a keyboard row).
 */
function isTrivialSequence(chars: readonly string[]): boolean {
  for (let unit = 1; unit <= 4; unit++) {
    if (chars.every((ch, i) => ch === chars[i % unit])) return true;
  }
  const codes = chars.map((ch) => ch.codePointAt(0) ?? 0);
  const digits = chars.every((ch) => ch >= '0' && ch <= '9');
  const step = (i: number): number => {
    const d = (codes[i + 1] as number) - (codes[i] as number);
    return digits ? (d + 10) % 10 : d;
  };
  const first = step(0);
  const up = 1;
  const down = digits ? 9 : -1;
  return (first === up || first === down) && codes.slice(1).every((_, i) => step(i) === first);
}

/**
 * Refuses a new password that is too short (fewer than 12 characters after NFC normalisation), too
 * long (over 1024), one of a short list of very common passwords, or a run such as "aaaa..." or
 * "1234...". Throws OPERATOR_PASSWORD_WEAK; the message never contains the password.
 */
export function checkPasswordStrength(password: string): void {
  const chars = [...password.normalize('NFC')];
  if (chars.length < MIN_PASSWORD_LENGTH) {
    throw new DcmsafeError('OPERATOR_PASSWORD_WEAK', `The password is too short: at least ${MIN_PASSWORD_LENGTH} characters are needed (it has ${chars.length})`, { minLength: MIN_PASSWORD_LENGTH });
  }
  if (chars.length > MAX_PASSWORD_LENGTH) {
    throw new DcmsafeError('OPERATOR_PASSWORD_WEAK', `The password is too long: at most ${MAX_PASSWORD_LENGTH} characters`, { maxLength: MAX_PASSWORD_LENGTH });
  }
  if (COMMON_PASSWORDS.has(chars.join('').toLowerCase()) || isTrivialSequence(chars)) {
    throw new DcmsafeError('OPERATOR_PASSWORD_WEAK', 'The password is too common or too simple (a well-known password, a repeated pattern or a run like 1234...): choose another one; a few unrelated words work well', {});
  }
}

// ---------------------------------------------------------------------------------------------
// The file

interface OperatorRecord {
  name: string;
  role: Role;
  created: string;
  password: string; // the scrypt hash string, never the password
  failedAttempts: number;
  locked: boolean;
  lastSignIn?: string;
}

interface OperatorsDocument {
  version: 1;
  operators: OperatorRecord[];
}

const NAME_RULE = /^[A-Za-z0-9._@-]{1,64}$/;

function invalidFile(file: string, what: string): DcmsafeError {
  return new DcmsafeError('CONFIG_INVALID', `${file}: not a dcmsafe operators file (${what})`, { file });
}

function parseDocument(text: string, file: string): OperatorsDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalidFile(file, 'not valid JSON');
  }
  const doc = json as Partial<OperatorsDocument> | null;
  if (!doc || typeof doc !== 'object' || doc.version !== 1 || !Array.isArray(doc.operators)) throw invalidFile(file, 'version 1 with an operators array expected');
  doc.operators.forEach((o: Partial<OperatorRecord> | null, i) => {
    const ok =
      o !== null &&
      typeof o === 'object' &&
      typeof o.name === 'string' &&
      NAME_RULE.test(o.name) &&
      ROLES.includes(o.role as Role) &&
      typeof o.created === 'string' &&
      typeof o.password === 'string' &&
      Number.isInteger(o.failedAttempts) &&
      typeof o.locked === 'boolean' &&
      (o.lastSignIn === undefined || typeof o.lastSignIn === 'string');
    if (!ok) throw invalidFile(file, `operators[${i}] is malformed`);
  });
  return doc as OperatorsDocument;
}

function info(r: OperatorRecord): OperatorInfo {
  return {
    name: r.name,
    role: r.role,
    created: r.created,
    failedAttempts: r.failedAttempts,
    locked: r.locked,
    ...(r.lastSignIn !== undefined ? { lastSignIn: r.lastSignIn } : {}),
  };
}

function ioError(file: string, action: string, e: unknown): DcmsafeError {
  const errno = (e as NodeJS.ErrnoException).code;
  return new DcmsafeError('IO', `Cannot ${action} ${file} (${errno ?? 'error'})`, { file, errno }, { cause: e });
}

async function readDocument(file: string): Promise<OperatorsDocument> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, operators: [] };
    throw ioError(file, 'read', e);
  }
  return parseDocument(text, file);
}

/** Temporary file (0600) beside the target, fsync, rename, fsync of the folder. */
async function writeDocument(file: string, doc: OperatorsDocument): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(doc, null, 2)}\n`).catch((e: unknown) => {
    throw ioError(file, 'write', (e as { cause?: unknown }).cause ?? e);
  });
}

// ---------------------------------------------------------------------------------------------
// The lock

/** Longest wait for another process's lock; changes hold it for about one scrypt (~0.1 s). */
const LOCK_WAIT_MS = 15_000;
/** A lock older than this is taken over even if its pid seems alive (pid reuse, other host, hung owner). */
const LOCK_STALE_MS = 120_000;

function withLock<T>(file: string, body: (stillHeld: () => Promise<boolean>) => Promise<T>): Promise<T> {
  const lockFile = `${file}.lock`;
  return withFileLock(lockFile, body, {
    waitMs: LOCK_WAIT_MS,
    maxAgeMs: LOCK_STALE_MS,
    busy: (holder): never => {
      const who = holder ? ` by process ${holder.pid} on ${holder.host}` : '';
      throw new DcmsafeError('IO', `The operators file ${file} is locked${who}; try again, or remove ${lockFile} if no dcmsafe is running`, { file, lockFile });
    },
    error: (e) => ioError(lockFile, 'lock', e),
  });
}

// ---------------------------------------------------------------------------------------------
// The store

export interface OperatorStoreOptions {
  /** Times written as `created` and `lastSignIn`; the system clock by default. */
  readonly clock?: Clock;
  /** Cost of new hashes; DEFAULT_SCRYPT_COST by default (tests may lower it). */
  readonly scryptCost?: ScryptCost;
}

export class OperatorStore {
  readonly file: string;
  private readonly clock: Clock;
  private readonly cost: ScryptCost;
  private doc: OperatorsDocument;

  private constructor(file: string, doc: OperatorsDocument, options: OperatorStoreOptions) {
    this.file = file;
    this.doc = doc;
    this.clock = options.clock ?? systemClock;
    this.cost = options.scryptCost ?? DEFAULT_SCRYPT_COST;
  }

  /** Opens the file (a missing file is an empty store; it is created with the first account). */
  static async open(file: string, options: OperatorStoreOptions = {}): Promise<OperatorStore> {
    const target = path.resolve(file);
    return new OperatorStore(target, await readDocument(target), options);
  }

  /** The accounts as of the last read (open or any change made through this store). */
  list(): OperatorInfo[] {
    return this.doc.operators.map(info);
  }

  async add(name: string, role: Role, password: string): Promise<void> {
    checkName(name);
    if (!ROLES.includes(role)) throw new DcmsafeError('USAGE', `The role must be one of ${ROLES.join(', ')}`, { role });
    checkNewPassword(name, password);
    const hash = await hashPassword(password, this.cost);
    await this.change((doc) => {
      const existing = doc.operators.find((o) => o.name.toLowerCase() === name.toLowerCase());
      if (existing) {
        const same = existing.name === name ? '' : ` (as ${existing.name}; names differing only in case are not allowed)`;
        throw new DcmsafeError('OPERATOR_EXISTS', `An operator named ${name} exists already${same}`, { name });
      }
      doc.operators.push({ name, role, created: this.clock.now().toISOString(), password: hash, failedAttempts: 0, locked: false });
    });
  }

  async remove(name: string): Promise<void> {
    await this.change((doc) => {
      const i = doc.operators.findIndex((o) => o.name === name);
      if (i < 0) throw unknownOperator(name);
      doc.operators.splice(i, 1);
    });
  }

  /** Sets a new password; also unlocks the account and clears its failed attempts. */
  async setPassword(name: string, password: string): Promise<void> {
    if (!this.doc.operators.some((o) => o.name === name)) {
      // Re-read before refusing: another process may have added the account since open().
      this.doc = await readDocument(this.file);
      if (!this.doc.operators.some((o) => o.name === name)) throw unknownOperator(name);
    }
    checkNewPassword(name, password);
    const hash = await hashPassword(password, this.cost);
    await this.change((doc) => {
      const record = doc.operators.find((o) => o.name === name);
      if (!record) throw unknownOperator(name);
      record.password = hash;
      record.failedAttempts = 0;
      record.locked = false;
    });
  }

  /**
   * Checks a sign-in. Unknown names cost one scrypt like known ones, so timing does not tell which
   * names exist. A success clears the failed attempts; the MAX_FAILED_ATTEMPTS-th consecutive failure
   * locks the account, which then refuses even the right password until setPassword. The check runs
   * under the file lock so that parallel attempts are all counted.
   */
  async authenticate(name: string, password: string): Promise<AuthenticationResult> {
    let result: AuthenticationResult | undefined;
    await this.change(async (doc) => {
      const record = doc.operators.find((o) => o.name === name);
      const matches = await verifyPassword(password, record?.password ?? '');
      if (!record) {
        result = { ok: false, reason: 'unknown' };
        // The file is rewritten as for a known name (whose failure count changes), so that the time
        // of a write does not tell the two apart either.
        return doc.operators.length > 0;
      }
      const when = this.clock.now().toISOString();
      if (record.locked) {
        record.failedAttempts += 1;
        result = { ok: false, reason: 'locked', operator: info(record) };
      } else if (matches) {
        record.failedAttempts = 0;
        record.lastSignIn = when;
        result = { ok: true, operator: info(record) };
      } else {
        record.failedAttempts += 1;
        if (record.failedAttempts >= MAX_FAILED_ATTEMPTS) record.locked = true;
        result = { ok: false, reason: 'wrong-password', operator: info(record) };
      }
      return true;
    });
    if (!result) throw new DcmsafeError('INTERNAL', 'authentication produced no result', {});
    return result;
  }

  /**
   * Read-modify-write under the lock: re-reads the file, applies `update` (which returns false when
   * nothing changed), and writes the result atomically. The in-memory copy follows the file.
   */
  private async change(update: (doc: OperatorsDocument) => void | boolean | Promise<void | boolean>): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 }).catch((e: unknown) => {
      throw ioError(path.dirname(this.file), 'create the folder of', e);
    });
    await withLock(this.file, async (stillHeld) => {
      const doc = await readDocument(this.file);
      this.doc = doc;
      const changed = await update(doc);
      if (changed === false) return;
      // A lock taken over as stale (its owner hung for minutes) must not let two writers interleave.
      if (!(await stillHeld())) throw new DcmsafeError('IO', `Lost the lock on ${this.file} while changing it; nothing was written`, { file: this.file });
      await writeDocument(this.file, doc);
    });
  }
}

function checkName(name: string): void {
  if (!NAME_RULE.test(name)) {
    throw new DcmsafeError('USAGE', 'An operator name is 1-64 characters from A-Z a-z 0-9 . _ @ -', { name: name.slice(0, 80) });
  }
}

function checkNewPassword(name: string, password: string): void {
  checkPasswordStrength(password);
  if (password.normalize('NFC').toLowerCase().includes(name.toLowerCase()) && name.length >= 4) {
    throw new DcmsafeError('OPERATOR_PASSWORD_WEAK', 'The password must not contain the operator name', {});
  }
}

function unknownOperator(name: string): DcmsafeError {
  return new DcmsafeError('OPERATOR_UNKNOWN', `No operator named ${name}`, { name });
}
