/**
 * dcmsafe verify on media of every kind, ours and other tools': verdicts, signers, the corpus
 * file-set and its variant DICOMDIRs, tampering (one test each, and a property test over flipped
 * bytes), and hostile media (traversal names, symlinks out, directory loops, bombs, huge or looping
 * DICOMDIRs) that must give findings within bounds and write nothing outside --extract.
 */
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyMedia } from '../../src/pipelines/verify-media.js';
import type { VerifyReport } from '../../src/pipelines/verify-report.js';
import { encodeDicomdir } from '../../src/dicom/dicomdir/encode.js';
import { buildDataSet } from '../../src/dicom/part10/writer.js';
import { T } from '../../src/dicom/tags.js';
import { loadCertificates } from '../../src/security/pki/certificates.js';
import { loadPrivateKey } from '../../src/security/pki/keys.js';
import { CORPUS, describeWithTools, REPO, run, tempDir } from '../helpers/env.js';
import { listFiles } from '../helpers/files.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const env = { ...process.env, SOURCE_DATE_EPOCH: '1767225600' };

function dcmsafe(args: string[]) {
  return run(process.execPath, [CLI, ...args], { env });
}

function verifyCli(args: string[]): { status: number | null; report: VerifyReport; stderr: string } {
  const r = dcmsafe(['verify', ...args, '--json']);
  return { status: r.status, report: JSON.parse(r.stdout || '{}') as VerifyReport, stderr: r.stderr };
}

const codes = (r: VerifyReport): string[] => [...new Set(r.findings.map((f) => f.code))].sort();

describeWithTools(['openssl', 'dcmmkdir', 'genisoimage', 'zip'], 'dcmsafe verify', () => {
  const tmp = tempDir();
  const samples = path.join(tmp, 'samples');
  const pki = path.join(tmp, 'pki');
  const other = path.join(tmp, 'other-pki');
  const password = path.join(tmp, 'password.txt');
  const signArgs = (): string[] => ['--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key')];
  const keyArgs = (): string[] => ['--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem')];
  const trustArgs = (): string[] => ['--trust', path.join(pki, 'demo-root-ca.pem')];

  beforeAll(() => {
    expect(dcmsafe(['samples', '--out', samples]).status).toBe(0);
    expect(dcmsafe(['pki', 'demo', '--out', pki]).status).toBe(0);
    expect(dcmsafe(['pki', 'demo', '--out', other]).status).toBe(0);
    writeFileSync(password, 'open sesame 2026\n');
  }, 120_000);

  describe('media made by dcmsafe create, every kind', () => {
    for (const [media, out] of [
      ['folder', 'folder'],
      ['cd', 'disc.iso'],
      ['usb', 'stick.img'],
      ['zip', 'media.zip'],
    ] as const) {
      it(`${media}: plain is intact-unsigned, signed for a certificate is trusted, password-only is intact-unsigned`, () => {
        const dir = path.join(tmp, `made-${media}`);
        mkdirSync(dir);
        const plain = path.join(dir, `plain-${out}`);
        expect(dcmsafe(['create', samples, '--media', media, '--out', plain]).status).toBe(0);
        const p = verifyCli([plain]);
        expect(p.status, p.stderr).toBe(0);
        expect(p.report.verdict).toBe('intact-unsigned');
        expect(p.report.summary.instances).toBe(31);
        expect(codes(p.report)).toContain('PLAIN_MEDIA');

        const signed = path.join(dir, `signed-${out}`);
        expect(dcmsafe(['create', samples, '--media', media, '--out', signed, ...signArgs(), '--recipient', path.join(pki, 'media-recipient.pem')]).status).toBe(0);
        const s = verifyCli([signed, ...keyArgs(), ...trustArgs()]);
        expect(s.status, JSON.stringify(s.report.findings.slice(0, 3))).toBe(0);
        expect(s.report.verdict).toBe('trusted');
        expect(s.report.signers[0]?.subject).toContain('media signer');
        expect(s.report.summary.trustedFiles).toBe(32);

        const pw = path.join(dir, `password-${out}`);
        expect(dcmsafe(['create', samples, '--media', media, '--out', pw, '--password-file', password]).status).toBe(0);
        const w = verifyCli([pw, '--password-file', password]);
        expect(w.status).toBe(0);
        expect(w.report.verdict).toBe('intact-unsigned');
        expect(codes(w.report)).toContain('UNSIGNED');
      });
    }

    it('signed media without the trust anchor is not trusted; without a key it cannot be read', () => {
      const media = path.join(tmp, 'made-folder', 'signed-folder');
      const untrusted = verifyCli([media, ...keyArgs(), '--trust', path.join(other, 'demo-root-ca.pem')]);
      expect(untrusted.status).toBe(1);
      expect(untrusted.report.verdict).toBe('problems');
      expect(codes(untrusted.report)).toContain('SIGNER_UNTRUSTED');
      const nokey = verifyCli([media, ...trustArgs()]);
      expect(nokey.status).toBe(3);
      expect(nokey.report.verdict).toBe('unreadable');
    });
  });

  describe('media made by other tools', () => {
    it('dcmmkdir + genisoimage: intact-unsigned', () => {
      const dir = path.join(tmp, 'dcmtk');
      cpSync(path.join(CORPUS, 'fileset/dicomdirtests'), dir, { recursive: true });
      for (const f of readdirSync(dir)) if (f.startsWith('DICOMDIR') || f.endsWith('.txt')) rmSync(path.join(dir, f));
      const mk = run('dcmmkdir', ['+r', '+id', dir, '+D', path.join(dir, 'DICOMDIR')]);
      expect(mk.status, mk.stderr).toBe(0);
      const folder = verifyCli([dir]);
      expect(folder.status).toBe(0);
      expect(folder.report.verdict).toBe('intact-unsigned');
      expect(folder.report.summary.instances).toBe(31);
      const iso = path.join(tmp, 'dcmtk.iso');
      expect(run('genisoimage', ['-quiet', '-iso-level', '1', '-V', 'DCMTK', '-o', iso, dir]).status).toBe(0);
      const fromIso = verifyCli([iso]);
      expect(fromIso.status).toBe(0);
      expect(fromIso.report.verdict).toBe('intact-unsigned');
      expect(fromIso.report.media.kind).toBe('iso9660');
      const zip = path.join(tmp, 'dcmtk.zip');
      expect(run('zip', ['-q', '-r', zip, '.'], { cwd: dir }).status).toBe(0);
      const fromZip = verifyCli([zip]);
      expect(fromZip.status).toBe(0);
      expect(fromZip.report.verdict).toBe('intact-unsigned');
    });

    it('openssl cms (sign, then encrypt) over a dcmmkdir file-set: trusted, with the right signer', () => {
      const plainDir = path.join(tmp, 'dcmtk');
      const dir = path.join(tmp, 'openssl-secure');
      mkdirSync(dir);
      for (const f of listFiles(plainDir)) {
        const rel = path.relative(plainDir, f);
        const dest = path.join(dir, rel);
        mkdirSync(path.dirname(dest), { recursive: true });
        const signed = path.join(tmp, 'signed.p7');
        expect(run('openssl', ['cms', '-sign', '-binary', '-nodetach', '-in', f, '-signer', path.join(pki, 'media-signer.pem'), '-inkey', path.join(pki, 'media-signer.key'), '-outform', 'DER', '-out', signed]).status).toBe(0);
        expect(run('openssl', ['cms', '-encrypt', '-binary', '-aes256', '-inform', 'DER', '-in', signed, '-outform', 'DER', '-out', dest, path.join(pki, 'media-recipient.pem')]).status).toBe(0);
      }
      const r = verifyCli([dir, ...keyArgs(), ...trustArgs()]);
      expect(r.status, JSON.stringify(r.report.findings.slice(0, 3))).toBe(0);
      expect(r.report.verdict).toBe('trusted');
      expect(r.report.signers.map((s) => s.subject)).toEqual([expect.stringContaining('media signer')]);
    });
  });

  describe('the corpus file-set and its variant DICOMDIRs', () => {
    it('verifies as intact-unsigned', () => {
      const r = verifyCli([path.join(CORPUS, 'fileset/dicomdirtests')]);
      expect(r.status, JSON.stringify(r.report.findings.filter((f) => f.severity === 'error'))).toBe(0);
      expect(r.report.verdict).toBe('intact-unsigned');
      expect(r.report.summary.instances).toBe(31);
    });

    for (const [variant, code] of [
      ['DICOMDIR-bigEnd', 'DICOMDIR_TRANSFER_SYNTAX'],
      ['DICOMDIR-implicit', 'DICOMDIR_TRANSFER_SYNTAX'],
      ['DICOMDIR-nooffset', 'DICOMDIR_OFFSET_MISSING'],
      ['DICOMDIR-reordered', 'DICOMDIR_RECORD_ORDER'],
      ['DICOMDIR-nopatient', 'DICOMDIR_RECORD_TYPE_UNKNOWN'],
      ['DICOMDIR-empty.dcm', 'DICOMDIR_EMPTY'],
    ] as const) {
      it(`${variant} gives ${code}`, () => {
        const dir = path.join(tmp, `variant-${variant}`);
        cpSync(path.join(CORPUS, 'fileset/dicomdirtests'), dir, { recursive: true });
        for (const f of readdirSync(dir)) if (f.startsWith('DICOMDIR')) rmSync(path.join(dir, f));
        copyFileSync(path.join(CORPUS, 'fileset/dicomdirtests', variant), path.join(dir, 'DICOMDIR'));
        const r = verifyCli([dir]);
        expect(codes(r.report)).toContain(code);
        expect([0, 1]).toContain(r.status);
      });
    }
  });

  describe('tampering', () => {
    const base = path.join(tmp, 'tamper-base');
    const fresh = (name: string): string => {
      const dir = path.join(tmp, name);
      cpSync(base, dir, { recursive: true });
      return dir;
    };
    const dicomFiles = (dir: string): string[] => listFiles(dir).filter((f) => f.includes(`${path.sep}DICOM${path.sep}`));

    beforeAll(() => {
      expect(dcmsafe(['create', path.join(samples, 'patient-b'), '--media', 'folder', '--out', base, ...signArgs(), '--recipient', path.join(pki, 'media-recipient.pem')]).status).toBe(0);
    });

    it('the untouched medium is trusted', () => {
      expect(verifyCli([base, ...keyArgs(), ...trustArgs()]).report.verdict).toBe('trusted');
    });

    it('a file replaced by one signed under another CA: untrusted', () => {
      const dir = fresh('t-foreign');
      const foreign = path.join(tmp, 't-foreign-src');
      expect(dcmsafe(['create', path.join(samples, 'patient-b'), '--media', 'folder', '--out', foreign, '--sign-cert', path.join(other, 'media-signer.pem'), '--sign-key', path.join(other, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')]).status).toBe(0);
      const target = dicomFiles(dir)[0] as string;
      copyFileSync(path.join(foreign, path.relative(dir, target)), target);
      const r = verifyCli([dir, ...keyArgs(), ...trustArgs()]);
      expect(r.status).toBe(1);
      expect(codes(r.report)).toContain('SIGNER_UNTRUSTED');
    });

    it('a deleted file: missing', () => {
      const dir = fresh('t-deleted');
      unlinkSync(dicomFiles(dir)[2] as string);
      expect(codes(verifyCli([dir, ...keyArgs(), ...trustArgs()]).report)).toContain('RECORD_FILE_MISSING');
    });

    it('an added DICOM file: orphan', () => {
      const dir = fresh('t-added');
      copyFileSync(dicomFiles(dir)[0] as string, path.join(path.dirname(dicomFiles(dir)[0] as string), 'IM999999'));
      expect(codes(verifyCli([dir, ...keyArgs(), ...trustArgs()]).report)).toContain('ORPHAN_FILE');
    });

    it('two files swapped: record mismatch', () => {
      const dir = fresh('t-swapped');
      const [a, b] = dicomFiles(dir) as [string, string];
      renameSync(a, `${a}.tmp`);
      renameSync(b, a);
      renameSync(`${a}.tmp`, b);
      expect(codes(verifyCli([dir, ...keyArgs(), ...trustArgs()]).report)).toContain('RECORD_MISMATCH');
    });

    it('a plain file slipped into secure media: downgrade', () => {
      const dir = fresh('t-downgrade');
      const target = dicomFiles(dir)[0] as string;
      const plainMedia = path.join(tmp, 't-plain');
      expect(dcmsafe(['create', path.join(samples, 'patient-b'), '--media', 'folder', '--out', plainMedia]).status).toBe(0);
      copyFileSync(path.join(plainMedia, path.relative(dir, target)), target);
      expect(codes(verifyCli([dir, ...keyArgs(), ...trustArgs()]).report)).toContain('DOWNGRADE');
    });

    it('a flipped byte anywhere in a secure file or the DICOMDIR is never trusted (1 000 trials)', async () => {
      const dir = fresh('t-flip');
      // Keep the medium small so 1 000 verifications stay fast: the DICOMDIR and two instances.
      for (const f of dicomFiles(dir).slice(2)) unlinkSync(f);
      const targets = [path.join(dir, 'DICOMDIR'), ...dicomFiles(dir)];
      const keys = { certificates: [{ certificate: loadCertificates(readFileSync(path.join(pki, 'media-recipient.pem')))[0] as Buffer, privateKey: loadPrivateKey(readFileSync(path.join(pki, 'media-recipient.key'))) }] };
      const trust = { anchors: loadCertificates(readFileSync(path.join(pki, 'demo-root-ca.pem'))), crls: [] };
      const originals = targets.map((f) => readFileSync(f));
      let trials = 0;
      await fc.assert(
        fc.asyncProperty(fc.nat(targets.length - 1), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 }), async (which, where, mask) => {
          const file = targets[which] as string;
          const bytes = Buffer.from(originals[which] as Buffer);
          const pos = Math.floor(where * bytes.length);
          bytes[pos] = (bytes[pos] as number) ^ mask;
          writeFileSync(file, bytes);
          try {
            const r = await verifyMedia({ media: dir, trust, keys, policy: 'standard' });
            trials++;
            expect(r.verdict, `${path.basename(file)} byte ${pos}`).not.toBe('trusted');
          } finally {
            writeFileSync(file, originals[which] as Buffer);
          }
        }),
        { numRuns: 1000 },
      );
      expect(trials).toBe(1000);
    }, 600_000);
  });

  describe('hostile media', () => {
    const extract = (name: string): string => path.join(tmp, `extract-${name}`, 'out');
    const nothingOutside = (out: string): void => {
      const parent = path.dirname(out);
      expect(readdirSync(parent).filter((n) => n !== 'out')).toEqual([]);
    };

    it('a ZIP with ../ names is refused and writes nothing', () => {
      const zipDir = path.join(tmp, 'evil-zip');
      mkdirSync(path.join(zipDir, 'a'), { recursive: true });
      writeFileSync(path.join(zipDir, 'evil.txt'), 'x');
      const zip = path.join(tmp, 'evil.zip');
      // zip stores the name as given: ../evil.txt relative to a/
      expect(run('zip', ['-q', zip, '../evil.txt'], { cwd: path.join(zipDir, 'a') }).status).toBe(0);
      const out = extract('zip');
      mkdirSync(path.dirname(out), { recursive: true });
      const r = verifyCli([zip, '--extract', out]);
      expect(r.status).toBe(3);
      expect(r.report.verdict).toBe('unreadable');
      nothingOutside(out);
    });

    it('symlinks pointing outside a folder are listed, never followed', () => {
      const dir = path.join(tmp, 'links');
      cpSync(path.join(tmp, 'made-folder', 'plain-folder'), dir, { recursive: true });
      symlinkSync('/etc/passwd', path.join(dir, 'PASSWD'));
      symlinkSync('/etc', path.join(dir, 'ETC'));
      const out = extract('links');
      mkdirSync(path.dirname(out), { recursive: true });
      const r = verifyCli([dir, '--extract', out]);
      expect(codes(r.report)).toContain('SYMLINK_NOT_FOLLOWED');
      expect(JSON.stringify(r.report)).not.toContain('root:x:0:0');
      expect(listFiles(out).some((f) => f.toLowerCase().includes('passwd'))).toBe(false);
      nothingOutside(out);
    });

    it('an ISO with a directory loop is unreadable, quickly', () => {
      const iso = path.join(tmp, 'made-cd', 'plain-disc.iso');
      const bytes = readFileSync(iso);
      // Point the first subdirectory record of the root at the root itself (ECMA-119 §9.1.3 extent location).
      const root = bytes.readUInt32LE(16 * 2048 + 156 + 2);
      const dirBlock = root * 2048;
      let pos = dirBlock + bytes[dirBlock]! + bytes[dirBlock + bytes[dirBlock]!]!;
      while (pos < dirBlock + 2048 && bytes[pos] !== 0 && (bytes[pos + 25]! & 2) === 0) pos += bytes[pos]!;
      bytes.writeUInt32LE(root, pos + 2);
      bytes.writeUInt32BE(root, pos + 6);
      const loop = path.join(tmp, 'loop.iso');
      writeFileSync(loop, bytes);
      const started = Date.now();
      const r = verifyCli([loop]);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(r.status).toBe(3);
      expect(r.report.verdict).toBe('unreadable');
    });

    it('a zip bomb is refused', () => {
      const dir = path.join(tmp, 'bomb');
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'ZEROS'), Buffer.alloc(200 << 20));
      const zip = path.join(tmp, 'bomb.zip');
      expect(run('zip', ['-q', '-9', zip, 'ZEROS'], { cwd: dir }).status).toBe(0);
      rmSync(dir, { recursive: true });
      // Lie about the size: a 200 MB entry declared as 1 KB.
      const bytes = readFileSync(zip);
      for (let i = 0; i + 4 <= bytes.length; i++) {
        if (bytes.readUInt32LE(i) === 0x04034b50) bytes.writeUInt32LE(1024, i + 22);
        if (bytes.readUInt32LE(i) === 0x02014b50) bytes.writeUInt32LE(1024, i + 24);
      }
      writeFileSync(zip, bytes);
      const r = verifyCli([zip]);
      expect([1, 3]).toContain(r.status);
      expect(r.report.verdict).not.toBe('trusted');
      expect(r.report.verdict).not.toBe('intact-unsigned');
    });

    it('a DICOMDIR with 10^6 records, or with looping offsets, gives findings within bounds', () => {
      const dir = path.join(tmp, 'big-dicomdir');
      mkdirSync(dir);
      const records = Array.from({ length: 1_000_000 }, (_, i) => ({
        type: 'PATIENT',
        keys: buildDataSet([[T.PatientID, 'LO', `P${i}`]]),
        inUse: true,
        children: [],
      }));
      writeFileSync(path.join(dir, 'DICOMDIR'), encodeDicomdir({ fileSetId: 'BIG', fileSetUID: '2.25.1', roots: records }));
      const started = Date.now();
      const r = dcmsafe(['verify', dir, '--json']);
      expect(Date.now() - started).toBeLessThan(120_000);
      expect([0, 1, 3]).toContain(r.status);

      const loopDir = path.join(tmp, 'loop-dicomdir');
      mkdirSync(loopDir);
      const small = encodeDicomdir({ fileSetId: 'LOOP', fileSetUID: '2.25.2', roots: [{ type: 'PATIENT', keys: buildDataSet([[T.PatientID, 'LO', 'P']]), inUse: true, children: [] }] });
      // Next-record offset of the only record pointing at itself.
      const first = small.readUInt32LE(small.indexOf(Buffer.from([0x04, 0x00, 0x00, 0x12])) + 8);
      small.writeUInt32LE(first, first + 8 + 8);
      writeFileSync(path.join(loopDir, 'DICOMDIR'), small);
      const lr = verifyCli([loopDir]);
      expect(codes(lr.report)).toContain('DICOMDIR_UNREADABLE');
    }, 300_000);
  });

  it('writes the HTML report and extracts verified files as a conformant folder', () => {
    const html = path.join(tmp, 'report.html');
    const out = path.join(tmp, 'extracted');
    const media = path.join(tmp, 'made-cd', 'signed-disc.iso');
    const r = dcmsafe(['verify', media, ...keyArgs(), ...trustArgs(), '--report', html, '--extract', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^TRUSTED/);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('Müller');
    expect(page).not.toContain('<script');
    const files = listFiles(out);
    expect(files.length).toBe(33); // 31 instances, DICOMDIR, README
    expect(readFileSync(path.join(out, 'DICOMDIR')).toString('latin1', 128, 132)).toBe('DICM');
    if (statSync(out).isDirectory()) {
      const dv = run('dciodvfy', [path.join(out, 'DICOMDIR')]);
      expect(`${dv.stdout}${dv.stderr}`.split('\n').filter((l) => l.startsWith('Error'))).toEqual([]);
    }
  });
});
