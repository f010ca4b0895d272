/**
 * A secure file larger than the part of its decrypted content verify keeps for the header (64 MiB):
 * the header is read from that part, the pixel data only hashed, and the file is a whole instance,
 * not a truncated one (a regression: the held part used to be taken for the whole file).
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDataSet, encodePart10 } from '../../src/dicom/part10/writer.js';
import { T } from '../../src/dicom/tags.js';
import { REPO, run, tempDir } from '../helpers/env.js';

const CLI = path.join(REPO, 'dist/cli/main.js');

describe('verify of a secure file above the header window', () => {
  const dir = tempDir('dcmsafe-verify-large-');

  it.each([
    ['a 70 MiB instance', 0],
    ['an instance whose header alone is 12 MiB (read in a second pass)', 12 * 1024 * 1024],
  ])('reads %s, signed and encrypted, as one intact instance', (label, headerBulk) => {
    const input = path.join(dir, `in-${headerBulk}`);
    mkdirSync(input);
    const sop = `1.2.826.0.1.3680043.10.999.4242${headerBulk ? 1 : 0}`;
    const header = encodePart10(
      { sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: sop },
      buildDataSet([
        [T.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.7'],
        [T.SOPInstanceUID, 'UI', sop],
        [T.PatientID, 'LO', 'LARGE'],
        [T.PatientName, 'PN', 'Large^File'],
        [T.StudyInstanceUID, 'UI', '1.2.826.0.1.3680043.10.999.42'],
        [T.SeriesInstanceUID, 'UI', '1.2.826.0.1.3680043.10.999.42.1'],
        ...(headerBulk ? ([[T.EncapsulatedDocument, 'OB', Buffer.alloc(headerBulk, 0x5a)]] as const) : []),
      ]),
    );
    const pixels = headerBulk ? 1024 : 70 * 1024 * 1024;
    const el = Buffer.alloc(12);
    el.writeUInt16LE(0x7fe0, 0);
    el.writeUInt16LE(0x0010, 2);
    el.write('OB', 4, 'latin1');
    el.writeUInt32LE(pixels, 8);
    const fd = openSync(path.join(input, 'large.dcm'), 'w');
    writeSync(fd, Buffer.concat([header, el]));
    ftruncateSync(fd, header.length + el.length + pixels);
    closeSync(fd);
    const pki = path.join(dir, `pki-${headerBulk}`);
    expect(run('node', [CLI, 'pki', 'demo', '--out', pki]).status).toBe(0);
    const media = path.join(dir, `media-${headerBulk}`);
    const c = run('node', [CLI, 'create', input, '--media', 'folder', '--out', media, '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')]);
    expect(c.status, c.stderr).toBe(0);
    const v = run('node', [CLI, 'verify', media, '--trust', path.join(pki, 'demo-root-ca.pem'), '--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem'), '--json']);
    const report = JSON.parse(v.stdout);
    expect(report.findings.filter((f: { severity: string }) => f.severity === 'error'), `${label}: ${v.stdout.slice(0, 2000)}`).toEqual([]);
    expect(v.status).toBe(0);
    expect(report.verdict).toBe('trusted');
    expect(report.summary.instances).toBe(1);
    expect(report.patients[0].patientId).toBe('LARGE');
  }, 120_000);
});
