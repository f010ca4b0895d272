/**
 * The configuration file: one JSON document naming the institution, the signing identity, trust
 * anchors, PACS nodes (PS3.15 B.12/B.13 TLS), media recipients, the audit trail (PS3.15 A.5) and the
 * operators file. It is found by an explicit path (--config), else $DCMSAFE_CONFIG, else
 * $XDG_CONFIG_HOME/dcmsafe/config.json (~/.config/dcmsafe/config.json).
 *
 * The file holds no secret: keys, certificates and passphrases are files it names. PEM text, or a
 * key named like a password whose value does not look like a path, is refused (and never echoed),
 * so a configuration can be shown, mailed or checked in without leaking anything.
 *
 * Validation is strict and hand-written (the schema is small): unknown keys are errors, with a
 * "did you mean" when the key is close to a known one, and every message names the bad key as a
 * path (`pacs[1].port`). Relative paths are resolved against the configuration file's folder.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { DcmsafeError } from '../errors/index.js';
import { writeFileAtomic } from '../util/durable.js';
import { isValidAETitle } from '../net/pdu.js';

export interface TlsFiles {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
  readonly keyPassphraseFile?: string;
  readonly servername?: string;
}
export interface PacsNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly calledAE: string;
  readonly callingAE?: string;
  readonly tls?: TlsFiles;
}
export interface Recipient {
  readonly name: string;
  readonly certificate: string;
}
export interface AuditRepository {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsFiles;
}
export interface Config {
  /** Where it was loaded from. */
  readonly file?: string;
  readonly institution?: { readonly name: string };
  readonly signing?: { readonly certificate: string; readonly key: string; readonly keyPassphraseFile?: string; readonly chain?: string };
  /** PEM bundles or folders. */
  readonly trust: readonly string[];
  readonly pacs: readonly PacsNode[];
  readonly recipients: readonly Recipient[];
  readonly audit: { readonly log?: string; readonly repository?: AuditRepository; readonly spool?: string };
  readonly operatorsFile?: string;
  /** A folder the front desk picks studies from. */
  readonly inbox?: string;
  /** Where the front desk writes media images, and the optical drive it burns them on (xorriso). */
  readonly media?: { readonly outbox?: string; readonly drive?: string };
  /** A reconciliation map (CSV, foreign to local Patient IDs) the front desk picks local identities from. */
  readonly reconcileMap?: string;
}

const CONFIG_DIR = 'dcmsafe';
const CONFIG_NAME = 'config.json';

/**
 * The folder of dcmsafe's own files: $XDG_CONFIG_HOME/dcmsafe, else ~/.config/dcmsafe. The XDG Base
 * Directory specification says a relative XDG_CONFIG_HOME is to be ignored.
 */
export function configFolder(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || homedir(), '.config');
  return path.join(base, CONFIG_DIR);
}

/** The default configuration file. */
export function configSearchPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configFolder(env), CONFIG_NAME);
}

function emptyConfig(): Config {
  return { trust: [], pacs: [], recipients: [], audit: {} };
}

/**
 * Loads and validates the configuration. An explicit file or $DCMSAFE_CONFIG that cannot be read is
 * CONFIG_NOT_FOUND; a missing default file is no configuration (all defaults). CONFIG_INVALID names
 * the bad keys.
 */
export async function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Config> {
  const env = options.env ?? process.env;
  const named = options.file ?? (env.DCMSAFE_CONFIG ? env.DCMSAFE_CONFIG : undefined);
  const file = path.resolve(named ?? configSearchPath(env));
  const how = options.file !== undefined ? '--config' : named !== undefined ? 'DCMSAFE_CONFIG' : 'the default configuration';
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (named === undefined && errno === 'ENOENT') return emptyConfig();
    const why = errno === 'ENOENT' ? 'does not exist' : `cannot be read (${errno ?? 'error'})`;
    throw new DcmsafeError('CONFIG_NOT_FOUND', `The configuration file ${file} (${how}) ${why}`, { file, errno }, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    // V8's message may quote the text around the error, which could be a secret pasted by mistake:
    // only the position is passed on.
    const at = /at position (\d+)/.exec(e instanceof Error ? e.message : '');
    const where = at ? ` at ${lineColumn(text, Number(at[1]))}` : '';
    throw new DcmsafeError('CONFIG_INVALID', `${file}: not valid JSON${where}`, { file });
  }
  return parseConfigIn(json, file, env);
}

function lineColumn(text: string, position: number): string {
  const before = text.replace(/^\uFEFF/, '').slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Key names that suggest a secret, misspellings included ("pasword"). */
const SECRET_KEY = /pass|pasw|secret|pwd|credential|token/i;
const PEM_MARK = '-----BEGIN';

interface Checker {
  readonly file: string;
  readonly dir: string;
  readonly home: string;
  readonly issues: { key: string; message: string }[];
}

function issue(c: Checker, key: string, message: string): undefined {
  c.issues.push({ key, message });
  return undefined;
}

function join(at: string, key: string | number): string {
  if (typeof key === 'number') return `${at}[${key}]`;
  return at === '' ? key : `${at}.${key}`;
}

/** A value as shown in a message: JSON, shortened. Never called on a value that may be a secret. */
function shown(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/** Looks like a file path rather than a password: a folder part, a leading dot or tilde, or an extension. */
function looksLikePath(value: string): boolean {
  return !/\s/.test(value) && (/[/\\]/.test(value) || /^[.~]/.test(value) || /\.[A-Za-z0-9]{1,10}$/.test(value));
}

/**
 * Refuses secrets anywhere in the document, before any other check, so that no later message can
 * quote one: PEM text in any string, and keys named like a password with a value that is not a path.
 */
function findSecrets(c: Checker, value: unknown, at: string): void {
  if (typeof value === 'string') {
    if (value.includes(PEM_MARK)) issue(c, at, 'holds PEM text: keys and certificates go in files; give the path of the file instead');
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => findSecrets(c, v, join(at, i)));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    const key = join(at, k);
    const scalar = typeof v === 'string' || typeof v === 'number';
    if (SECRET_KEY.test(k) && scalar && !(typeof v === 'string' && looksLikePath(v) && !v.includes(PEM_MARK))) {
      issue(c, key, 'looks like a secret written into the configuration: secrets go in files; name a file whose first line is the secret (e.g. "keyPassphraseFile": "/etc/dcmsafe/tls-key.pass")');
    } else {
      findSecrets(c, v, key);
    }
  }
}

function isSecretIssue(c: Checker, key: string): boolean {
  return c.issues.some((i) => i.key === key || key.startsWith(`${i.key}.`) || key.startsWith(`${i.key}[`));
}

/** An object with only the given keys; returns undefined (after recording why) otherwise. */
function object(c: Checker, value: unknown, at: string, keys: readonly string[]): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return issue(c, at || '(top level)', `must be an object (got ${typeName(value)})`);
  }
  const record = value as Record<string, unknown>;
  for (const k of Object.keys(record)) {
    if (keys.includes(k) || isSecretIssue(c, join(at, k))) continue;
    const near = closest(k, keys);
    issue(c, join(at, k), `unknown key "${k}" at ${at || 'the top level'}${near ? ` (did you mean "${near}"?)` : ''}`);
  }
  return record;
}

function string(c: Checker, value: unknown, at: string, required: boolean): string | undefined {
  if (value === undefined) return required ? issue(c, at, 'missing') : undefined;
  if (isSecretIssue(c, at)) return undefined;
  if (typeof value !== 'string') return issue(c, at, `must be a string (got ${shown(value)})`);
  if (value.trim().length === 0) return issue(c, at, 'must not be empty');
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
  if (/[\u0000-\u001f\u007f]/.test(value)) return issue(c, at, `must not hold control characters (got ${shown(value)})`);
  return value;
}

/** A file or folder path: ~/ is the home folder, relative paths are relative to the configuration file. */
function filePath(c: Checker, value: unknown, at: string, required: boolean): string | undefined {
  const text = string(c, value, at, required);
  if (text === undefined) return undefined;
  if (text === '~' || text.startsWith('~/')) return path.join(c.home, text.slice(1));
  return path.resolve(c.dir, text);
}

function name(c: Checker, value: unknown, at: string, max: number): string | undefined {
  const text = string(c, value, at, true);
  if (text === undefined) return undefined;
  if (text.length > max || text.includes('\\')) return issue(c, at, `must be 1-${max} characters without backslash (got ${shown(text)})`);
  return text;
}

function port(c: Checker, value: unknown, at: string): number | undefined {
  if (value === undefined) return issue(c, at, 'missing');
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    return issue(c, at, `must be an integer 1-65535 (got ${shown(value)})`);
  }
  return value;
}

function host(c: Checker, value: unknown, at: string): string | undefined {
  const text = string(c, value, at, true);
  if (text === undefined) return undefined;
  if (/\s/.test(text) || text.length > 253) return issue(c, at, `must be a host name or IP address (got ${shown(text)})`);
  return text;
}

function aeTitle(c: Checker, value: unknown, at: string, required: boolean): string | undefined {
  if (value === undefined) return required ? issue(c, at, 'missing') : undefined;
  if (typeof value !== 'string' || !isValidAETitle(value)) {
    return issue(c, at, `must be an AE title: 1-16 characters, no backslash or control characters, not all spaces (got ${shown(value)})`);
  }
  return value;
}

function array(c: Checker, value: unknown, at: string): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issue(c, at, `must be an array (got ${typeName(value)})`);
    return [];
  }
  return value;
}

function tlsFiles(c: Checker, value: unknown, at: string): TlsFiles | undefined {
  const o = object(c, value, at, ['ca', 'cert', 'key', 'keyPassphraseFile', 'servername']);
  if (!o) return undefined;
  const ca = filePath(c, o.ca, join(at, 'ca'), true);
  const cert = filePath(c, o.cert, join(at, 'cert'), false);
  const key = filePath(c, o.key, join(at, 'key'), false);
  const keyPassphraseFile = filePath(c, o.keyPassphraseFile, join(at, 'keyPassphraseFile'), false);
  const servername = string(c, o.servername, join(at, 'servername'), false);
  if ((o.cert === undefined) !== (o.key === undefined)) issue(c, join(at, o.cert === undefined ? 'cert' : 'key'), `missing: ${join(at, 'cert')} and ${join(at, 'key')} go together`);
  if (o.keyPassphraseFile !== undefined && o.key === undefined) issue(c, join(at, 'keyPassphraseFile'), `is given without ${join(at, 'key')}`);
  if (ca === undefined) return undefined;
  return {
    ca,
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(keyPassphraseFile !== undefined ? { keyPassphraseFile } : {}),
    ...(servername !== undefined ? { servername } : {}),
  };
}

function pacsNode(c: Checker, value: unknown, at: string): PacsNode | undefined {
  const o = object(c, value, at, ['name', 'host', 'port', 'calledAE', 'callingAE', 'tls']);
  if (!o) return undefined;
  const n = name(c, o.name, join(at, 'name'), 64);
  const h = host(c, o.host, join(at, 'host'));
  const p = port(c, o.port, join(at, 'port'));
  const calledAE = aeTitle(c, o.calledAE, join(at, 'calledAE'), true);
  const callingAE = aeTitle(c, o.callingAE, join(at, 'callingAE'), false);
  const tls = o.tls === undefined ? undefined : tlsFiles(c, o.tls, join(at, 'tls'));
  if (n === undefined || h === undefined || p === undefined || calledAE === undefined) return undefined;
  return { name: n, host: h, port: p, calledAE, ...(callingAE !== undefined ? { callingAE } : {}), ...(tls ? { tls } : {}) };
}

function recipient(c: Checker, value: unknown, at: string): Recipient | undefined {
  const o = object(c, value, at, ['name', 'certificate']);
  if (!o) return undefined;
  const n = name(c, o.name, join(at, 'name'), 64);
  const certificate = filePath(c, o.certificate, join(at, 'certificate'), true);
  return n !== undefined && certificate !== undefined ? { name: n, certificate } : undefined;
}

function uniqueNames(c: Checker, items: readonly { name: string }[], at: string): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const first = seen.get(item.name.toLowerCase());
    if (first !== undefined) issue(c, join(join(at, i), 'name'), `repeats the name of ${at}[${first}] (${shown(item.name)})`);
    else seen.set(item.name.toLowerCase(), i);
  });
}

/**
 * Validates a parsed configuration document. `file` is where it came from: messages start with it and
 * relative paths are resolved against its folder. Throws CONFIG_INVALID listing every problem found.
 */
export function parseConfig(json: unknown, file: string): Config {
  return parseConfigIn(json, file, process.env);
}

function parseConfigIn(json: unknown, file: string, env: NodeJS.ProcessEnv): Config {
  const c: Checker = { file, dir: path.dirname(path.resolve(file)), home: env.HOME || homedir(), issues: [] };
  findSecrets(c, json, '');
  const config = parseDocument(c, json);
  if (c.issues.length > 0 || !config) {
    const lines = c.issues.map((i) => `${file}: ${i.message.startsWith('unknown key') ? '' : `${i.key}: `}${i.message}`);
    throw new DcmsafeError('CONFIG_INVALID', lines.join('\n'), { file, issues: c.issues });
  }
  return { file, ...config };
}

function parseDocument(c: Checker, json: unknown): Omit<Config, 'file'> | undefined {
  const top = object(c, json, '', ['institution', 'signing', 'trust', 'pacs', 'recipients', 'audit', 'operatorsFile', 'inbox', 'media', 'reconcileMap']);
  if (!top) return undefined;

  let institution: Config['institution'];
  if (top.institution !== undefined) {
    const o = object(c, top.institution, 'institution', ['name']);
    // Institution Name (0008,0080) is LO: at most 64 characters, no backslash.
    const n = o ? name(c, o.name, 'institution.name', 64) : undefined;
    if (n !== undefined) institution = { name: n };
  }

  let signing: Config['signing'];
  if (top.signing !== undefined) {
    const o = object(c, top.signing, 'signing', ['certificate', 'key', 'keyPassphraseFile', 'chain']);
    if (o) {
      const certificate = filePath(c, o.certificate, 'signing.certificate', true);
      const key = filePath(c, o.key, 'signing.key', true);
      const keyPassphraseFile = filePath(c, o.keyPassphraseFile, 'signing.keyPassphraseFile', false);
      const chain = filePath(c, o.chain, 'signing.chain', false);
      if (certificate !== undefined && key !== undefined) {
        signing = {
          certificate,
          key,
          ...(keyPassphraseFile !== undefined ? { keyPassphraseFile } : {}),
          ...(chain !== undefined ? { chain } : {}),
        };
      }
    }
  }

  const trust = array(c, top.trust, 'trust')
    .map((v, i) => filePath(c, v, `trust[${i}]`, true))
    .filter((v): v is string => v !== undefined);
  const pacs = array(c, top.pacs, 'pacs')
    .map((v, i) => pacsNode(c, v, `pacs[${i}]`))
    .filter((v): v is PacsNode => v !== undefined);
  uniqueNames(c, pacs, 'pacs');
  const recipients = array(c, top.recipients, 'recipients')
    .map((v, i) => recipient(c, v, `recipients[${i}]`))
    .filter((v): v is Recipient => v !== undefined);
  uniqueNames(c, recipients, 'recipients');

  let audit: Config['audit'] = {};
  if (top.audit !== undefined) {
    const o = object(c, top.audit, 'audit', ['log', 'repository', 'spool']);
    if (o) {
      const log = filePath(c, o.log, 'audit.log', false);
      const spool = filePath(c, o.spool, 'audit.spool', false);
      let repository: AuditRepository | undefined;
      if (o.repository !== undefined) {
        const r = object(c, o.repository, 'audit.repository', ['host', 'port', 'tls']);
        if (r) {
          const h = host(c, r.host, 'audit.repository.host');
          const p = port(c, r.port, 'audit.repository.port');
          // PS3.15 A.5 over syslog: RFC 5425 TLS is required, so tls is not optional here.
          const tls = r.tls === undefined ? issue(c, 'audit.repository.tls', 'missing') : tlsFiles(c, r.tls, 'audit.repository.tls');
          if (h !== undefined && p !== undefined && tls) repository = { host: h, port: p, tls };
        }
      }
      audit = { ...(log !== undefined ? { log } : {}), ...(repository ? { repository } : {}), ...(spool !== undefined ? { spool } : {}) };
    }
  }

  const operatorsFile = filePath(c, top.operatorsFile, 'operatorsFile', false);
  const inbox = filePath(c, top.inbox, 'inbox', false);
  const reconcileMap = filePath(c, top.reconcileMap, 'reconcileMap', false);
  let media: Config['media'];
  if (top.media !== undefined) {
    const o = object(c, top.media, 'media', ['outbox', 'drive']);
    if (o) {
      const outbox = filePath(c, o.outbox, 'media.outbox', false);
      // A device path (/dev/sr0) is taken as given: it is checked when a disc is burned.
      const drive = filePath(c, o.drive, 'media.drive', false);
      media = { ...(outbox !== undefined ? { outbox } : {}), ...(drive !== undefined ? { drive } : {}) };
    }
  }
  return {
    ...(institution ? { institution } : {}),
    ...(signing ? { signing } : {}),
    trust,
    pacs,
    recipients,
    audit,
    ...(operatorsFile !== undefined ? { operatorsFile } : {}),
    ...(inbox !== undefined ? { inbox } : {}),
    ...(media ? { media } : {}),
    ...(reconcileMap !== undefined ? { reconcileMap } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Saving

/** The document as written: the in-memory form without `file`, empty optional parts left out. */
function toDocument(config: Config): Record<string, unknown> {
  const { file: _file, ...rest } = config;
  const audit = Object.fromEntries(Object.entries(rest.audit ?? {}).filter(([, v]) => v !== undefined));
  const doc: Record<string, unknown> = { ...rest, trust: rest.trust ?? [], pacs: rest.pacs ?? [], recipients: rest.recipients ?? [], audit };
  return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
}

/**
 * Writes the configuration (validated first, so an invalid file is never written) atomically: a
 * temporary file beside it (mode 0600), fsync, rename over the old one, fsync of the folder. Paths are
 * written as they are in `config` (absolute after loadConfig). A missing folder is created 0700.
 */
export async function saveConfig(config: Config, file: string): Promise<void> {
  const target = path.resolve(file);
  const doc = toDocument(config);
  parseConfig(doc, target);
  await writeFileAtomic(target, `${JSON.stringify(doc, null, 2)}\n`);
}

