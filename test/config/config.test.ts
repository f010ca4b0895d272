/**
 * The configuration file: where it is found, what is refused (with the key named as a path), that no
 * secret is ever accepted or echoed, relative paths, and atomic saving.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSearchPath, loadConfig, parseConfig, saveConfig, type Config } from '../../src/config/config.js';
import { DcmsafeError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/env.js';
import { expectCode } from '../helpers/errors.js';

const FILE = '/etc/dcmsafe/config.json';

/** The CONFIG_INVALID error parseConfig throws for `json`. */
function invalid(json: unknown): DcmsafeError {
  try {
    parseConfig(json, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(DcmsafeError);
    expect((e as DcmsafeError).code).toBe('CONFIG_INVALID');
    return e as DcmsafeError;
  }
  throw new Error('expected CONFIG_INVALID');
}

const FULL = {
  institution: { name: 'St. Elsewhere Radiology' },
  signing: { certificate: 'pki/signer.pem', key: 'pki/signer.key', keyPassphraseFile: 'pki/signer.pass', chain: 'pki/chain.pem' },
  trust: ['trust/', '/etc/ssl/certs/dicom-ca.pem'],
  pacs: [
    { name: 'main', host: 'pacs.example.org', port: 2762, calledAE: 'PACS', callingAE: 'FRONTDESK', tls: { ca: 'pki/ca.pem', cert: 'pki/client.pem', key: 'pki/client.key', servername: 'pacs.example.org' } },
    { name: 'test', host: '127.0.0.1', port: 104, calledAE: 'TESTPACS' },
  ],
  recipients: [{ name: 'Dr Who', certificate: 'recipients/who.pem' }],
  audit: { log: '/var/log/dcmsafe/audit.log', spool: 'spool', repository: { host: 'arr.example.org', port: 6514, tls: { ca: 'pki/ca.pem', cert: 'pki/client.pem', key: 'pki/client.key' } } },
  operatorsFile: 'operators.json',
  inbox: '~/inbox',
};

describe('configSearchPath', () => {
  it('uses XDG_CONFIG_HOME when absolute, else ~/.config', () => {
    expect(configSearchPath({ XDG_CONFIG_HOME: '/x/conf', HOME: '/home/a' })).toBe('/x/conf/dcmsafe/config.json');
    expect(configSearchPath({ HOME: '/home/a' })).toBe('/home/a/.config/dcmsafe/config.json');
    // The XDG Base Directory specification: a relative value is ignored.
    expect(configSearchPath({ XDG_CONFIG_HOME: 'rel', HOME: '/home/a' })).toBe('/home/a/.config/dcmsafe/config.json');
  });
});

describe('parseConfig', () => {
  it('accepts a full configuration and resolves paths against its folder', () => {
    const c = parseConfig(FULL, FILE);
    expect(c.file).toBe(FILE);
    expect(c.institution).toEqual({ name: 'St. Elsewhere Radiology' });
    expect(c.signing).toEqual({
      certificate: '/etc/dcmsafe/pki/signer.pem',
      key: '/etc/dcmsafe/pki/signer.key',
      keyPassphraseFile: '/etc/dcmsafe/pki/signer.pass',
      chain: '/etc/dcmsafe/pki/chain.pem',
    });
    expect(c.trust).toEqual(['/etc/dcmsafe/trust', '/etc/ssl/certs/dicom-ca.pem']);
    expect(c.pacs[0]).toEqual({
      name: 'main',
      host: 'pacs.example.org',
      port: 2762,
      calledAE: 'PACS',
      callingAE: 'FRONTDESK',
      tls: { ca: '/etc/dcmsafe/pki/ca.pem', cert: '/etc/dcmsafe/pki/client.pem', key: '/etc/dcmsafe/pki/client.key', servername: 'pacs.example.org' },
    });
    expect(c.pacs[1]).toEqual({ name: 'test', host: '127.0.0.1', port: 104, calledAE: 'TESTPACS' });
    expect(c.recipients).toEqual([{ name: 'Dr Who', certificate: '/etc/dcmsafe/recipients/who.pem' }]);
    expect(c.audit.repository?.tls.ca).toBe('/etc/dcmsafe/pki/ca.pem');
    expect(c.audit.spool).toBe('/etc/dcmsafe/spool');
    expect(c.audit.log).toBe('/var/log/dcmsafe/audit.log');
    expect(c.operatorsFile).toBe('/etc/dcmsafe/operators.json');
    expect(c.inbox).toBe(path.join(process.env.HOME ?? '', 'inbox'));
  });

  it('gives defaults for an empty document', () => {
    expect(parseConfig({}, FILE)).toEqual({ file: FILE, trust: [], pacs: [], recipients: [], audit: {} });
  });

  it('names a bad value by its key path', () => {
    const e = invalid({ pacs: [FULL.pacs[0], { ...FULL.pacs[1], port: 'abc' }] });
    expect(e.message).toBe(`${FILE}: pacs[1].port: must be an integer 1-65535 (got "abc")`);
    expect(e.data.file).toBe(FILE);
    expect(e.data.issues).toEqual([{ key: 'pacs[1].port', message: 'must be an integer 1-65535 (got "abc")' }]);
    expect(invalid({ pacs: [{ ...FULL.pacs[1], port: 70000 }] }).message).toContain('pacs[0].port: must be an integer 1-65535 (got 70000)');
    expect(invalid({ pacs: [{ ...FULL.pacs[1], port: 104.5 }] }).message).toContain('pacs[0].port');
  });

  it('says what is missing', () => {
    const e = invalid({ audit: { repository: { host: 'arr', port: 6514, tls: { cert: 'c.pem', key: 'k.pem' } } } });
    expect(e.message).toBe(`${FILE}: audit.repository.tls.ca: missing`);
    expect(invalid({ audit: { repository: { host: 'arr', port: 6514 } } }).message).toContain('audit.repository.tls: missing');
    expect(invalid({ signing: { certificate: 'a.pem' } }).message).toContain('signing.key: missing');
    expect(invalid({ pacs: [{ name: 'x', port: 104, calledAE: 'X' }] }).message).toContain('pacs[0].host: missing');
  });

  it('refuses unknown keys, suggesting a close one', () => {
    expect(invalid({ pacss: [] }).message).toBe(`${FILE}: unknown key "pacss" at the top level (did you mean "pacs"?)`);
    expect(invalid({ pacs: [{ ...FULL.pacs[1], calledAe: 'X' }] }).message).toContain('unknown key "calledAe" at pacs[0] (did you mean "calledAE"?)');
    expect(invalid({ audit: { repositry: {} } }).message).toContain('unknown key "repositry" at audit (did you mean "repository"?)');
    const far = invalid({ colour: 'blue' }).message;
    expect(far).toContain('unknown key "colour" at the top level');
    expect(far).not.toContain('did you mean');
  });

  it('refuses secrets written into the file, without echoing them', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
    const e1 = invalid({ signing: { certificate: 'a.pem', key: pem } });
    expect(e1.message).toContain('signing.key: holds PEM text');
    expect(e1.message).not.toContain('MIIEvQ');
    expect(JSON.stringify(e1.data)).not.toContain('MIIEvQ');

    const e2 = invalid({ pacs: [{ ...FULL.pacs[0], tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem', keyPassphraseFile: 'hunter2hunter2' } }] });
    expect(e2.message).toBe(
      `${FILE}: pacs[0].tls.keyPassphraseFile: looks like a secret written into the configuration: secrets go in files; name a file whose first line is the secret (e.g. "keyPassphraseFile": "/etc/dcmsafe/tls-key.pass")`,
    );
    expect(e2.message).not.toContain('hunter2');

    for (const key of ['password', 'pasword', 'passphrase', 'secret', 'keyPassword']) {
      const e = invalid({ signing: { certificate: 'a.pem', key: 'k.pem', [key]: 'Tr0ub4dor&3x' } });
      expect(e.message).toContain(`signing.${key}: looks like a secret`);
      expect(e.message).not.toContain('Tr0ub4dor');
      expect(JSON.stringify(e.data)).not.toContain('Tr0ub4dor');
    }
    expect(invalid({ audit: { password: 123456 } }).message).toContain('audit.password: looks like a secret');
    // A path under a secret-like key that is not a known key is only an unknown key.
    expect(invalid({ signing: { certificate: 'a.pem', key: 'k.pem', passwordFile: 'k.pass' } }).message).toContain('unknown key "passwordFile" at signing');
  });

  it('accepts passphrase files that look like paths', () => {
    for (const p of ['signer.pass', './pass', '/run/secrets/signer', '~/signer.txt']) {
      expect(parseConfig({ signing: { certificate: 'a.pem', key: 'k.pem', keyPassphraseFile: p } }, FILE).signing?.keyPassphraseFile).toBeDefined();
    }
  });

  it('checks AE titles, hosts, names and pairs', () => {
    expect(invalid({ pacs: [{ ...FULL.pacs[1], calledAE: 'A_VERY_LONG_AE_TITLE' }] }).message).toContain('pacs[0].calledAE: must be an AE title');
    expect(invalid({ pacs: [{ ...FULL.pacs[1], callingAE: 'BACK\\SLASH' }] }).message).toContain('pacs[0].callingAE: must be an AE title');
    expect(invalid({ pacs: [{ ...FULL.pacs[1], calledAE: '   ' }] }).message).toContain('pacs[0].calledAE');
    expect(invalid({ pacs: [{ ...FULL.pacs[1], host: 'two words' }] }).message).toContain('pacs[0].host: must be a host name');
    expect(invalid({ pacs: [FULL.pacs[1], FULL.pacs[1]] }).message).toContain('pacs[1].name: repeats the name of pacs[0]');
    expect(invalid({ pacs: [{ ...FULL.pacs[1], tls: { ca: 'ca.pem', cert: 'c.pem' } }] }).message).toContain('pacs[0].tls.key: missing: pacs[0].tls.cert and pacs[0].tls.key go together');
    expect(invalid({ institution: { name: 'x'.repeat(65) } }).message).toContain('institution.name: must be 1-64 characters');
    expect(invalid({ trust: 'ca.pem' }).message).toContain('trust: must be an array (got string)');
    expect(invalid({ trust: [''] }).message).toContain('trust[0]: must not be empty');
    expect(invalid([]).message).toContain('(top level): must be an object (got an array)');
  });

  it('lists every problem at once', () => {
    const e = invalid({ pacs: [{ name: 'x', host: 'h', port: 0, calledAE: '' }], recipients: [{ name: 'r' }] });
    expect(e.message.split('\n')).toEqual([
      `${FILE}: pacs[0].port: must be an integer 1-65535 (got 0)`,
      `${FILE}: pacs[0].calledAE: must be an AE title: 1-16 characters, no backslash or control characters, not all spaces (got "")`,
      `${FILE}: recipients[0].certificate: missing`,
    ]);
  });
});

describe('loadConfig', () => {
  const tmp = tempDir();

  it('treats a missing default file as no configuration', async () => {
    const env = { XDG_CONFIG_HOME: path.join(tmp, 'nothing-here') };
    expect(await loadConfig({ env })).toEqual({ trust: [], pacs: [], recipients: [], audit: {} });
  });

  it('refuses a named file that does not exist', async () => {
    const missing = path.join(tmp, 'missing.json');
    await expectCode(loadConfig({ file: missing, env: {} }), 'CONFIG_NOT_FOUND', /--config/);
    await expectCode(loadConfig({ env: { DCMSAFE_CONFIG: missing } }), 'CONFIG_NOT_FOUND', /DCMSAFE_CONFIG/);
    await expectCode(loadConfig({ file: tmp, env: {} }), 'CONFIG_NOT_FOUND', /cannot be read \(EISDIR\)/);
  });

  it('finds the file by --config, then DCMSAFE_CONFIG, then the XDG folder', async () => {
    const xdg = path.join(tmp, 'xdg');
    mkdirSync(path.join(xdg, 'dcmsafe'), { recursive: true });
    writeFileSync(path.join(xdg, 'dcmsafe', 'config.json'), JSON.stringify({ institution: { name: 'from xdg' } }));
    const envFile = path.join(tmp, 'env.json');
    writeFileSync(envFile, JSON.stringify({ institution: { name: 'from env' } }));
    const explicit = path.join(tmp, 'explicit.json');
    writeFileSync(explicit, `\uFEFF${JSON.stringify({ institution: { name: 'explicit' }, trust: ['ca.pem'] })}`);

    expect((await loadConfig({ env: { XDG_CONFIG_HOME: xdg } })).institution?.name).toBe('from xdg');
    expect((await loadConfig({ env: { XDG_CONFIG_HOME: xdg, DCMSAFE_CONFIG: envFile } })).institution?.name).toBe('from env');
    const c = await loadConfig({ file: explicit, env: { XDG_CONFIG_HOME: xdg, DCMSAFE_CONFIG: envFile } });
    expect(c.institution?.name).toBe('explicit');
    expect(c.file).toBe(explicit);
    expect(c.trust).toEqual([path.join(tmp, 'ca.pem')]);
  });

  it('reports bad JSON by position, never quoting the text', async () => {
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(bad, '{\n  "signing": { "key": "k.pem",\n  }\n}\n');
    await expectCode(loadConfig({ file: bad }), 'CONFIG_INVALID', /not valid JSON at line 3, column 3/);
    writeFileSync(bad, '{"x": hunter2}');
    const e = await expectCode(loadConfig({ file: bad }), 'CONFIG_INVALID', /not valid JSON/);
    expect(e.message).not.toContain('hunter2');
  });

  it('resolves ~ against HOME from the given environment', async () => {
    const f = path.join(tmp, 'home.json');
    writeFileSync(f, JSON.stringify({ inbox: '~/studies' }));
    expect((await loadConfig({ file: f, env: { HOME: '/home/desk' } })).inbox).toBe('/home/desk/studies');
  });
});

describe('saveConfig', () => {
  const tmp = tempDir();

  it('writes atomically with mode 0600 and reads back the same', async () => {
    const file = path.join(tmp, 'new', 'dcmsafe', 'config.json');
    const config = parseConfig(FULL, FILE);
    await saveConfig(config, file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(readdirSync(path.dirname(file))).toEqual(['config.json']);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('"file"');
    const again = await loadConfig({ file });
    const { file: _a, ...before } = config;
    const { file: _b, ...after } = again;
    expect(after).toEqual(before);

    // Saving over an existing file replaces it and keeps the mode.
    await saveConfig({ ...again, institution: { name: 'Renamed' } }, file);
    expect((await loadConfig({ file })).institution?.name).toBe('Renamed');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(path.dirname(file))).toEqual(['config.json']);
  });

  it('never writes an invalid configuration', async () => {
    const file = path.join(tmp, 'invalid.json');
    const bad = { trust: [], pacs: [{ name: 'x', host: 'h', port: 0, calledAE: 'X' }], recipients: [], audit: {} } as Config;
    await expectCode(saveConfig(bad, file), 'CONFIG_INVALID', /pacs\[0\]\.port/);
    expect(() => statSync(file)).toThrow();
  });
});
