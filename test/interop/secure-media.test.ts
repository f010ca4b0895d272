/**
 * Secure media (PS3.10 §7.4, PS3.15 D.1) checked by OpenSSL: every file, the DICOMDIR included,
 * decrypts with `openssl cms -decrypt` (certificate recipient and password) and verifies with
 * `openssl cms -verify` against the demo root CA to exactly the bytes plain media would hold. And
 * while secure media is being made, no plaintext DICOM appears on disk.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { CORPUS, CORPUS_FOLDERS, describeWithTools, REPO, run, tempDir } from '../helpers/env.js';
import { listFiles } from '../helpers/files.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const env = { ...process.env, SOURCE_DATE_EPOCH: '1767225600' };
const INPUTS = CORPUS_FOLDERS.map((f) => path.join(CORPUS, f));

function dcmsafe(args: string[]) {
  return run(process.execPath, [CLI, ...args], { env });
}

/** The DICOM files of a medium: all but the plain-text README, README.TXT, INDEX.HTM and the signed manifest. */
function isDicomFile(f: string): boolean {
  return !/(^|\/)(README|README\.TXT|INDEX\.HTM|MANIFEST\.P7M)$/.test(f);
}


describeWithTools(['openssl'], 'secure media read back by OpenSSL', () => {
  const tmp = tempDir();
  const pki = path.join(tmp, 'pki');
  const plain = path.join(tmp, 'plain');
  const secure = path.join(tmp, 'secure');
  const passwordFile = path.join(tmp, 'password.txt');
  const password = 'correct horse battery staple 42';

  beforeAll(() => {
    expect(dcmsafe(['pki', 'demo', '--out', pki]).status).toBe(0);
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const p = dcmsafe(['create', ...INPUTS, '--media', 'folder', '--out', plain]);
    expect(p.status, p.stderr).toBe(0);
    const s = dcmsafe([
      'create', ...INPUTS, '--media', 'folder', '--out', secure,
      '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'),
      '--sign-chain', path.join(pki, 'demo-root-ca.pem'),
      '--recipient', path.join(pki, 'media-recipient.pem'),
      '--password-file', passwordFile, '--json',
    ]);
    expect(s.status, s.stderr).toBe(0);
    expect((JSON.parse(s.stdout) as { profile: string }).profile).toBe('STD-GEN-SEC-CD');
  }, 600_000);

  it('has the same files as plain media, and a signed manifest, none of them plain DICOM', () => {
    const rel = (root: string): string[] => listFiles(root).map((f) => path.relative(root, f));
    expect(rel(secure)).toEqual([...rel(plain), 'MANIFEST.P7M'].sort());
    // The manifest (signed media only) is a plain CMS SignedData OpenSSL verifies, listing every other file.
    const manifest = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', path.join(secure, 'MANIFEST.P7M'), '-CAfile', path.join(pki, 'demo-root-ca.pem'), '-binary']);
    expect(manifest.status, manifest.stderr).toBe(0);
    expect(manifest.stdout.split('\n').filter((l) => /^[0-9a-f]{64} \d+ /.test(l))).toHaveLength(rel(plain).length);
    for (const f of listFiles(secure).filter(isDicomFile)) {
      const head = readFileSync(f).subarray(0, 132);
      expect(head.toString('latin1', 128, 132), f).not.toBe('DICM');
      expect(head[0], f).toBe(0x30);
    }
  });

  it('decrypts with the recipient key and verifies to the plain bytes, DICOMDIR included', () => {
    const work = tempDir('dcmsafe-openssl-');
    for (const f of listFiles(secure).filter(isDicomFile)) {
      const rel = path.relative(secure, f);
      const inner = path.join(work, 'inner.der');
      const dec = run('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', f, '-recip', path.join(pki, 'media-recipient.pem'), '-inkey', path.join(pki, 'media-recipient.key'), '-out', inner]);
      expect(dec.status, `${rel}: ${dec.stderr}`).toBe(0);
      const out = path.join(work, 'plain.dcm');
      const ver = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', wrapSignedData(inner, work), '-CAfile', path.join(pki, 'demo-root-ca.pem'), '-binary', '-out', out]);
      expect(ver.status, `${rel}: ${ver.stderr}`).toBe(0);
      expect(readFileSync(out).equals(readFileSync(path.join(plain, rel))), rel).toBe(true);
    }
  });

  it('decrypts with the password to the same signed content', () => {
    const work = tempDir('dcmsafe-openssl-');
    // PBKDF2 at 600 000 iterations costs OpenSSL about 0.1 s a file, for every file.
    for (const f of listFiles(secure).filter(isDicomFile)) {
      const byPassword = path.join(work, 'inner-password.der');
      const byKey = path.join(work, 'inner-key.der');
      const dec = run('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', f, '-pwri_password', password, '-out', byPassword]);
      expect(dec.status, `${f}: ${dec.stderr}`).toBe(0);
      run('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', f, '-recip', path.join(pki, 'media-recipient.pem'), '-inkey', path.join(pki, 'media-recipient.key'), '-out', byKey]);
      expect(readFileSync(byPassword).equals(readFileSync(byKey)), f).toBe(true);
    }
  });

  it('makes the same bytes with worker threads as without (a seeded run)', () => {
    const image = (workers: string): Buffer => {
      const out = path.join(tmp, `workers-${workers}.iso`);
      const r = run(process.execPath, [CLI, 'create', ...INPUTS, '--media', 'cd', '--out', out, '--seed', 'workers',
        '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'),
        '--recipient', path.join(pki, 'media-recipient.pem'), '--password-file', passwordFile],
        { env: { ...env, DCMSAFE_WORKERS: workers, DCMSAFE_INSECURE_TEST_SEED: '1' } });
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(out);
    };
    expect(image('0').equals(image('3'))).toBe(true);
  }, 300_000);

  it('refuses a password outside printable US-ASCII, saying why', () => {
    const bad = path.join(tmp, 'bad-password.txt');
    writeFileSync(bad, 'café au lait\n');
    const r = dcmsafe(['create', path.join(CORPUS, 'sr'), '--media', 'folder', '--out', path.join(tmp, 'bad'), '--password-file', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('PASSWORD_INVALID');
    expect(r.stderr).toMatch(/ISO-IR 6|US-ASCII/);
    expect(r.stderr).not.toContain('café');
  });

  it('generates a password of at least 100 bits, shows it once, and the media opens with it', () => {
    const out = path.join(tmp, 'generated');
    const r = dcmsafe(['create', path.join(CORPUS, 'sr'), '--media', 'folder', '--out', out, '--generate-password', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { generatedPassword: string; security: { recipients: Array<{ kind: string; iterations?: number }> } };
    expect(doc.generatedPassword).toMatch(/^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){4}$/);
    expect(doc.security.recipients).toEqual([{ kind: 'password', kdf: 'PBKDF2-HMAC-SHA256', iterations: 600000 }]);
    const f = listFiles(out).find((x) => x.endsWith('DICOMDIR')) as string;
    const dec = run('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', f, '-pwri_password', doc.generatedPassword, '-out', path.join(tmp, 'gen.der')]);
    expect(dec.status, dec.stderr).toBe(0);
    const text = dcmsafe(['create', path.join(CORPUS, 'sr'), '--media', 'folder', '--out', path.join(tmp, 'generated-text'), '--generate-password']);
    expect(text.stdout.match(/[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){4}/g)).toHaveLength(1);
  });
});

/** OpenSSL's -decrypt gives the bare SignedData; -verify wants a ContentInfo around it. */
function wrapSignedData(innerPath: string, work: string): string {
  const inner = readFileSync(innerPath);
  const oid = Buffer.from('06092a864886f70d010702', 'hex'); // id-signedData
  const explicit = Buffer.concat([Buffer.from([0xa0]), derLength(inner.length), inner]);
  const body = Buffer.concat([oid, explicit]);
  const out = path.join(work, 'contentinfo.der');
  writeFileSync(out, Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]));
  return out;
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

describeWithTools(['openssl'], 'no plaintext on disk while secure media is made', () => {
  it('never shows DICM at offset 128 or a patient name in any new file', async () => {
    const tmp = tempDir();
    const pki = path.join(tmp, 'pki');
    expect(dcmsafe(['pki', 'demo', '--out', pki]).status).toBe(0);
    const out = path.join(tmp, 'media');
    const names = ['Doe^Archibald', 'Doe^Peter', 'CompressedSamples^CT1', 'Lestrade^G'];
    // The child's temporary folder is inside the watched one, so its temporary files are seen too.
    const childTmp = path.join(tmp, 'tmp');
    mkdirSync(childTmp);
    const watched = [tmp];
    const before = new Set(watched.flatMap((d) => safeFiles(d)));
    const child = spawn(process.execPath, [CLI, 'create', ...INPUTS, '--media', 'folder', '--out', out, '--recipient', path.join(pki, 'media-recipient.pem')], { env: { ...env, TMPDIR: childTmp }, stdio: 'ignore' });
    const seen = new Set<string>();
    const offending: string[] = [];
    const inspect = (): void => {
      for (const d of watched) {
        for (const f of safeFiles(d)) {
          if (before.has(f) || f.startsWith(pki)) continue;
          let bytes: Buffer;
          try {
            bytes = readFileSync(f);
          } catch {
            continue; // renamed or removed meanwhile
          }
          seen.add(f);
          const text = bytes.toString('latin1');
          if (bytes.toString('latin1', 128, 132) === 'DICM' || names.some((n) => text.includes(n))) offending.push(f);
        }
      }
    };
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let done = false;
    void exit.then(() => (done = true));
    while (!done) {
      inspect();
      await new Promise((r) => setTimeout(r, 5));
    }
    inspect();
    expect(await exit).toBe(0);
    expect(seen.size).toBeGreaterThan(10);
    expect(offending).toEqual([]);
  }, 300_000);
});

function safeFiles(dir: string): string[] {
  try {
    return listFiles(dir);
  } catch {
    return [];
  }
}
