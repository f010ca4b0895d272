/**
 * PS3.15 A.5 audit messages: every kind, in many variants, validates against the DICOM Audit Message
 * Schema (A.5.1) with xmllint; the committed .rng is what trang makes of the committed .rnc; and the
 * A.5.2/A.5.3 rules the schema cannot check (one requestor, roles, media types, zone in EventDateTime,
 * escaping, UTF-8) hold.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applicationActivityMessage,
  beginTransferringMessage,
  exportMessage,
  importMessage,
  instancesTransferredMessage,
  securityAlertMessage,
  userAuthenticationMessage,
  type AuditContext,
  type AuditKind,
  type MediaKind,
  type Outcome,
  type PatientRef,
  type PeerRef,
  type StudyRef,
} from '../../src/audit/messages.js';
import { describeWithTools, REPO, run, tempDir } from '../helpers/env.js';

const RNC = path.join(REPO, 'src/audit/schema/dicom-audit-message.rnc');
const RNG = path.join(REPO, 'src/audit/schema/dicom-audit-message.rng');

const WHEN = new Date('2026-11-25T03:12:33.123Z');

const ctx: AuditContext = {
  when: WHEN,
  operator: { userId: 'zoe@radiology.example.org', name: 'Łukasiewicz^Zoë' },
  application: { name: 'dcmsafe', version: '0.1.0', processId: 4242, host: 'ws-07.radiology.example.org', aeTitle: 'DCMSAFE' },
  auditSourceId: 'Radiology Dept., St. Example',
  enterpriseSiteId: 'SITE-1',
};
const bareCtx: AuditContext = { when: WHEN, operator: { userId: 'op' }, application: { name: 'dcmsafe', version: '0.1.0', processId: 1, host: '192.0.2.10' }, auditSourceId: 'ws-07' };

const CT = '1.2.840.10008.5.1.4.1.1.2';
const MR = '1.2.840.10008.5.1.4.1.1.4';
const patients: PatientRef[] = [{ id: 'P-001', name: 'Łukasiewicz^Zoë' }, { id: 'P-002', name: '山田^太郎' }, { id: 'P-003' }];
const encryptedStudy: StudyRef = { studyInstanceUID: '1.2.826.0.1.3680043.8.498.1', patientId: 'P-001', accessionNumber: 'ACC-17', sopClasses: [{ uid: CT, instances: 120 }, { uid: MR, instances: 3 }], encrypted: true };
const plainStudy: StudyRef = { studyInstanceUID: '1.2.826.0.1.3680043.8.498.2', patientId: 'P-002', sopClasses: [{ uid: MR, instances: 1 }], encrypted: false };
const bareStudy: StudyRef = { studyInstanceUID: '1.2.826.0.1.3680043.8.498.3' };
const pacs: PeerRef = { host: 'pacs.example.org', port: 2762, aeTitle: 'PACS_TLS' };
const pacsByIp: PeerRef = { host: '2001:db8::17', aeTitle: 'ARCHIVE' };
const MEDIA_KINDS: MediaKind[] = ['cd', 'dvd', 'bd', 'usb', 'zip', 'folder'];
const FAILURES: Outcome[] = [4, 8, 12];

interface Case {
  readonly name: string;
  readonly kind: AuditKind;
  readonly xml: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  const add = (kind: AuditKind, name: string, xml: string): void => {
    out.push({ kind, name: `${kind}: ${name}`, xml });
  };
  for (const kind of MEDIA_KINDS) {
    const media = { kind, identifier: '1.2.826.0.1.3680043.8.498.99', label: kind === 'folder' ? '/srv/export/Zoë study' : `DCMSAFE_${kind.toUpperCase()}` };
    add('export', `${kind}, encrypted and plain studies, 3 patients`, exportMessage(ctx, { outcome: 0, media, patients, studies: [encryptedStudy, plainStudy] }));
    add('import', `${kind}, 2 patients`, importMessage(ctx, { outcome: 0, media, patients: patients.slice(0, 2), studies: [encryptedStudy, plainStudy] }));
    add('export', `${kind}, no label`, exportMessage(bareCtx, { outcome: 0, media: { kind, identifier: 'VOL-0001' }, patients: [patients[2] as PatientRef], studies: [bareStudy] }));
  }
  add('export', 'recipients (e-mail and plain)', exportMessage(ctx, { outcome: 0, media: { kind: 'zip', identifier: 'x.zip' }, recipients: ['mailto:dr.who@clinic.example', 'referring physician'], patients, studies: [plainStudy] }));
  for (const outcome of FAILURES) {
    add('export', `failed (${outcome}), nothing written`, exportMessage(ctx, { outcome, outcomeDescription: 'disc full: 4.7 GB < 5.1 GB', media: { kind: 'dvd', identifier: '/dev/sr0', label: '/dev/sr0' }, patients: [], studies: [] }));
    add('import', `failed (${outcome})`, importMessage(ctx, { outcome, outcomeDescription: '3 instance(s) not stored', media: { kind: 'usb', identifier: 'USB-1234' }, patients: [patients[0] as PatientRef], studies: [encryptedStudy] }));
    add('begin-transferring', `failed (${outcome})`, beginTransferringMessage(ctx, { outcome, outcomeDescription: 'association rejected', destination: pacs, patient: patients[1] as PatientRef, studies: [plainStudy] }));
    add('instances-transferred', `failed (${outcome})`, instancesTransferredMessage(ctx, { outcome, outcomeDescription: 'C-STORE status 0xA700', action: 'C', destination: pacs, patient: patients[1] as PatientRef, studies: [plainStudy] }));
    add('user-authentication', `login refused (${outcome})`, userAuthenticationMessage(ctx, { outcome, outcomeDescription: 'wrong password, attempt 3', action: 'login', user: ctx.operator }));
    add('application-activity', `stop after failure (${outcome})`, applicationActivityMessage(ctx, { outcome, action: 'stop' }));
  }
  add('begin-transferring', 'one patient, two studies', beginTransferringMessage(ctx, { outcome: 0, destination: pacs, patient: patients[0] as PatientRef, studies: [encryptedStudy, bareStudy] }));
  add('begin-transferring', 'peer by IPv6, patient without a name', beginTransferringMessage(bareCtx, { outcome: 0, destination: pacsByIp, patient: patients[2] as PatientRef, studies: [bareStudy] }));
  for (const action of ['C', 'R', 'U'] as const) {
    add('instances-transferred', `action ${action}`, instancesTransferredMessage(ctx, { outcome: 0, action, destination: pacs, patient: patients[0] as PatientRef, studies: [encryptedStudy, plainStudy] }));
  }
  const alerts = [
    ['node-authentication', 'PACS_TLS@pacs.example.org:2762', 'certificate of pacs.example.org: unable to get local issuer certificate'],
    ['user-authentication', 'mallory', 'password rejected 5 times'],
    ['verification', '/media/cdrom/DICOM/IM000001', 'FILE_TAMPERED: signature does not match'],
    ['untrusted-signer', 'file:///media/cdrom/DICOM/IM000002', 'SIGNER_UNTRUSTED: CN=Unknown CA'],
    ['software-configuration', '/etc/dcmsafe/config.json', 'trust store changed'],
    ['use-of-restricted-function', 'zoe', 'key export attempted'],
  ] as const;
  for (const [alert, subject, description] of alerts) {
    for (const outcome of [0, 8] as const) add('security-alert', `${alert} (${outcome})`, securityAlertMessage(ctx, { outcome, outcomeDescription: description, alert, subject }));
  }
  add('security-alert', 'no subject, major', securityAlertMessage(bareCtx, { outcome: 12, outcomeDescription: 'audit repository unreachable', alert: 'software-configuration' }));
  add('user-authentication', 'login', userAuthenticationMessage(ctx, { outcome: 0, action: 'login', user: ctx.operator }));
  add('user-authentication', 'logout of someone else', userAuthenticationMessage(ctx, { outcome: 0, action: 'logout', user: { userId: 'yamada@radiology.example.org', name: '山田^太郎' } }));
  add('application-activity', 'start', applicationActivityMessage(ctx, { outcome: 0, action: 'start' }));
  add('application-activity', 'start, no AE title, no site', applicationActivityMessage(bareCtx, { outcome: 0, action: 'start' }));
  return out;
}

const ALL = cases();

/** The attributes of each start tag called `name`, in document order. */
function tags(xml: string, name: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const m of xml.matchAll(new RegExp(`<${name}((?:\\s+[\\w-]+="[^"]*")*)\\s*/?>`, 'g'))) {
    out.push(Object.fromEntries([...(m[1] ?? '').matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1] as string, a[2] as string])));
  }
  return out;
}

/** The ActiveParticipant elements with their role codes. */
function participants(xml: string): Array<{ attrs: Record<string, string>; roles: string[]; mediaType?: string }> {
  return [...xml.matchAll(/<ActiveParticipant\b[^>]*?(?:\/>|>(.*?)<\/ActiveParticipant>)/g)].map((m) => {
    const attrs = tags(m[0], 'ActiveParticipant')[0] ?? {};
    const inner = m[1] ?? '';
    const mediaType = tags(inner, 'MediaType')[0]?.['csd-code'];
    return { attrs, roles: tags(inner, 'RoleIDCode').map((r) => r['csd-code'] as string), ...(mediaType ? { mediaType } : {}) };
  });
}

const eventId = (xml: string): string | undefined => tags(xml, 'EventID')[0]?.['csd-code'];
const eventAttrs = (xml: string): Record<string, string> => tags(xml, 'EventIdentification')[0] ?? {};

describeWithTools(['xmllint'], 'audit messages validate against the DICOM Audit Message Schema (PS3.15 A.5.1)', () => {
  const dir = tempDir('dcmsafe-audit-xml-');

  it.each(ALL.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    const file = path.join(dir, `${String(i).padStart(3, '0')}-${c.kind}.xml`);
    writeFileSync(file, c.xml, 'utf8');
    const r = run('xmllint', ['--noout', '--relaxng', RNG, file]);
    expect(r.stderr).toContain('validates');
    expect(r.status, r.stderr).toBe(0);
  });

  it('covers every kind of message', () => {
    const kinds: AuditKind[] = ['export', 'import', 'begin-transferring', 'instances-transferred', 'security-alert', 'user-authentication', 'application-activity'];
    for (const k of kinds) expect(ALL.filter((c) => c.kind === k).length, k).toBeGreaterThanOrEqual(4);
  });

  it('rejects what the schema forbids (the validation is real)', () => {
    const good = exportMessage(ctx, { outcome: 0, media: { kind: 'cd', identifier: 'V1' }, patients, studies: [plainStudy] });
    const broken = [
      good.replace('EventOutcomeIndicator="0"', 'EventOutcomeIndicator="3"'),
      good.replace(/EventDateTime="[^"]*"/, 'EventDateTime="25.11.2026 04:12"'),
      good.replace(/<ParticipantObjectName>[^<]*<\/ParticipantObjectName>/, ''),
      good.replace(/ originalText="Export"/, ''),
    ];
    for (const [i, xml] of broken.entries()) {
      const file = path.join(dir, `broken-${i}.xml`);
      writeFileSync(file, xml, 'utf8');
      expect(run('xmllint', ['--noout', '--relaxng', RNG, file]).status, xml).not.toBe(0);
    }
  });

  it('escapes <&"\' and keeps tabs, newlines and non-ASCII names intact for a real XML parser', () => {
    const tricky = { userId: `o'brien&co<"admin">`, name: 'Line1\nLine2\tTab "Łukasiewicz^Zoë" & 山田^太郎' };
    const description = `<script>alert("x")</script> & 'quotes'\nsecond line`;
    const xml = securityAlertMessage({ ...ctx, operator: tricky }, { outcome: 4, outcomeDescription: description, alert: 'verification', subject: '/tmp/a&b<c>.dcm' });
    expect(xml).not.toContain('<script>');
    expect(xml).toContain('&lt;script&gt;alert("x")&lt;/script&gt; &amp; \'quotes\'');
    expect(xml).toContain('UserID="o&apos;brien&amp;co&lt;&quot;admin&quot;&gt;"');
    const file = path.join(dir, 'tricky.xml');
    writeFileSync(file, xml, 'utf8');
    expect(run('xmllint', ['--noout', '--relaxng', RNG, file]).status).toBe(0);
    // xmllint ends what --xpath prints with one newline of its own
    const xpath = (expr: string): string => run('xmllint', ['--xpath', expr, file]).stdout.replace(/\n$/, '');
    expect(xpath('string(//ActiveParticipant[@UserIsRequestor="true"]/@UserID)')).toBe(tricky.userId);
    expect(xpath('string(//ActiveParticipant[@UserIsRequestor="true"]/@UserName)')).toBe(tricky.name);
    expect(xpath('string(//EventOutcomeDescription)')).toBe(description);
    expect(xpath('string(//ParticipantObjectName)')).toBe('/tmp/a&b<c>.dcm');
    const alertDescription = xpath('string(//ParticipantObjectDetail[@type="Alert Description"]/@value)');
    expect(Buffer.from(alertDescription, 'base64').toString('utf8')).toBe(description);
  });

  it('turns characters XML cannot carry into U+FFFD instead of breaking the message', () => {
    const xml = exportMessage(ctx, { outcome: 0, media: { kind: 'usb', identifier: 'V\u0000\u0007', label: 'bad\u001b[31m' }, patients: [{ id: 'P\uD800', name: 'A\u0001B' }], studies: [] });
    const file = path.join(dir, 'controls.xml');
    writeFileSync(file, xml, 'utf8');
    expect(run('xmllint', ['--noout', '--relaxng', RNG, file]).status).toBe(0);
    expect(run('xmllint', ['--xpath', 'string(//ParticipantObjectName)', file]).stdout).toBe('A\uFFFDB\n');
  });
});

describeWithTools(['trang'], 'the committed RELAX NG XML schema is trang of the committed compact schema', () => {
  const dir = tempDir('dcmsafe-audit-trang-');

  it('trang -I rnc -O rng gives the committed .rng', () => {
    const out = path.join(dir, 'dicom-audit-message.rng');
    const r = run('trang', ['-I', 'rnc', '-O', 'rng', RNC, out]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(RNG, 'utf8'));
  });
});

describe('audit message conventions (A.5.2, A.5.3)', () => {
  it.each(ALL.map((c) => [c.name, c] as const))('%s: exactly one requestor', (_name, c) => {
    expect(c.xml.match(/UserIsRequestor="true"/g)?.length).toBe(1);
    expect(c.xml.startsWith('<?xml version="1.0" encoding="UTF-8"?><AuditMessage>')).toBe(true);
  });

  it('the requestor is the operator, except for a user who logs in or out', () => {
    for (const c of ALL) {
      const requestor = participants(c.xml).find((p) => p.attrs.UserIsRequestor === 'true');
      const expected = c.name.endsWith('logout of someone else') ? 'yamada@radiology.example.org' : c.xml.includes('UserID="op"') ? 'op' : ctx.operator.userId;
      expect(requestor?.attrs.UserID, c.name).toBe(expected);
    }
  });

  it('EventDateTime carries the local zone offset', () => {
    for (const c of ALL) {
      const t = eventAttrs(c.xml).EventDateTime as string;
      expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:[+-]\d\d:\d\d|Z)$/);
      const offset = -WHEN.getTimezoneOffset();
      const sign = offset < 0 ? '-' : '+';
      const zone = `${sign}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
      expect(t.endsWith(zone), `${t} vs ${zone}`).toBe(true);
      expect(new Date(t).getTime()).toBe(WHEN.getTime());
    }
  });

  describe('EventDateTime in other time zones', () => {
    const saved = process.env.TZ;
    afterEach(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });
    it.each([
      ['UTC', '2026-11-25T03:12:33.123+00:00'],
      ['Europe/Berlin', '2026-11-25T04:12:33.123+01:00'],
      ['Asia/Kolkata', '2026-11-25T08:42:33.123+05:30'],
      ['America/St_Johns', '2026-11-24T23:42:33.123-03:30'],
      ['America/Los_Angeles', '2026-11-24T19:12:33.123-08:00'],
      ['Pacific/Kiritimati', '2026-11-25T17:12:33.123+14:00'],
    ])('%s', (zone, expected) => {
      process.env.TZ = zone;
      const xml = applicationActivityMessage(ctx, { outcome: 0, action: 'start' });
      expect(eventAttrs(xml).EventDateTime).toBe(expected);
    });
  });

  it('Export: action R, operator and dcmsafe as Source Role ID, the medium as Destination Media with its CID 405 type', () => {
    const mediaType: Record<MediaKind, string> = { cd: '110032', dvd: '110033', bd: 'BD', usb: '110030', zip: '110031', folder: '110037' };
    for (const kind of MEDIA_KINDS) {
      const xml = exportMessage(ctx, { outcome: 0, media: { kind, identifier: 'FS-UID', label: kind === 'folder' ? '/srv/out dir' : 'LABEL' }, recipients: ['mailto:a@b.example'], patients, studies: [encryptedStudy] });
      expect(eventId(xml)).toBe('110106');
      expect(eventAttrs(xml).EventActionCode).toBe('R');
      const ps = participants(xml);
      expect(ps.filter((p) => p.roles.includes('110153'))).toHaveLength(2);
      expect(ps.find((p) => p.roles.includes('110152'))?.attrs).toMatchObject({ UserID: 'mailto:a@b.example', NetworkAccessPointID: 'a@b.example', NetworkAccessPointTypeCode: '4', UserIsRequestor: 'false' });
      const media = ps.find((p) => p.roles.includes('110154'));
      expect(media?.mediaType).toBe(mediaType[kind]);
      expect(media?.attrs.UserIsRequestor).toBe('false');
      expect(media?.attrs.AlternativeUserID).toBe('FS-UID');
      if (kind === 'folder') {
        const url = pathToFileURL('/srv/out dir').href;
        expect(media?.attrs).toMatchObject({ UserID: url, NetworkAccessPointID: url, NetworkAccessPointTypeCode: '5' });
        expect(url.startsWith('file:///srv/out%20dir')).toBe(true);
      } else {
        expect(media?.attrs.UserID).toBe('LABEL');
      }
    }
  });

  it('Import: action C, importers as Destination Role ID, the medium as Source Media', () => {
    const xml = importMessage(ctx, { outcome: 0, media: { kind: 'cd', identifier: 'VOL1' }, patients, studies: [plainStudy] });
    expect(eventId(xml)).toBe('110107');
    expect(eventAttrs(xml).EventActionCode).toBe('C');
    const ps = participants(xml);
    expect(ps.filter((p) => p.roles.includes('110152'))).toHaveLength(2);
    expect(ps.find((p) => p.roles.includes('110155'))).toMatchObject({ mediaType: '110032', attrs: { UserID: 'VOL1', AlternativeUserID: 'VOL1', UserIsRequestor: 'false' } });
  });

  it('Begin Transferring and Instances Transferred: dcmsafe sends (110153), the peer receives (110152), one patient', () => {
    const begin = beginTransferringMessage(ctx, { outcome: 0, destination: pacs, patient: patients[0] as PatientRef, studies: [encryptedStudy, plainStudy] });
    const done = instancesTransferredMessage(ctx, { outcome: 0, action: 'U', destination: pacsByIp, patient: patients[0] as PatientRef, studies: [plainStudy] });
    expect([eventId(begin), eventAttrs(begin).EventActionCode]).toEqual(['110102', 'E']);
    expect([eventId(done), eventAttrs(done).EventActionCode]).toEqual(['110104', 'U']);
    for (const xml of [begin, done]) {
      const ps = participants(xml);
      expect(ps.find((p) => p.roles.includes('110153'))?.attrs).toMatchObject({ UserID: '4242', UserName: 'dcmsafe 0.1.0', AlternativeUserID: 'AETITLES=DCMSAFE', UserIsRequestor: 'false', NetworkAccessPointTypeCode: '1' });
      expect(tags(xml, 'ParticipantObjectIdentification').filter((o) => o.ParticipantObjectTypeCodeRole === '1')).toHaveLength(1);
    }
    expect(participants(begin).find((p) => p.roles.includes('110152'))?.attrs).toMatchObject({ UserID: 'PACS_TLS', NetworkAccessPointID: 'pacs.example.org', NetworkAccessPointTypeCode: '1' });
    expect(participants(done).find((p) => p.roles.includes('110152'))?.attrs).toMatchObject({ UserID: 'ARCHIVE', NetworkAccessPointID: '2001:db8::17', NetworkAccessPointTypeCode: '2' });
  });

  it('Patients and Studies as participant objects, with Accession, SOP classes, Encrypted and Anonymized', () => {
    const xml = exportMessage(ctx, { outcome: 0, media: { kind: 'dvd', identifier: 'V' }, patients, studies: [encryptedStudy, plainStudy] });
    const objects = tags(xml, 'ParticipantObjectIdentification');
    expect(objects.filter((o) => o.ParticipantObjectTypeCode === '1' && o.ParticipantObjectTypeCodeRole === '1').map((o) => o.ParticipantObjectID)).toEqual(['P-001', 'P-002', 'P-003']);
    expect(objects.filter((o) => o.ParticipantObjectTypeCode === '2' && o.ParticipantObjectTypeCodeRole === '3').map((o) => o.ParticipantObjectID)).toEqual([encryptedStudy.studyInstanceUID, plainStudy.studyInstanceUID]);
    expect(tags(xml, 'ParticipantObjectIDTypeCode').map((c) => `${c['csd-code']}/${c.codeSystemName}`)).toEqual(['110180/DCM', '110180/DCM', '2/RFC-3881', '2/RFC-3881', '2/RFC-3881']);
    expect(xml).toContain(
      `<ParticipantObjectDescription><Accession Number="ACC-17"/><SOPClass UID="${CT}" NumberOfInstances="120"/><SOPClass UID="${MR}" NumberOfInstances="3"/><Encrypted>true</Encrypted><Anonymized>false</Anonymized></ParticipantObjectDescription>`,
    );
    expect(xml).toContain(`<SOPClass UID="${MR}" NumberOfInstances="1"/><Encrypted>false</Encrypted><Anonymized>false</Anonymized>`);
    expect(xml).toContain('<ParticipantObjectName>Łukasiewicz^Zoë</ParticipantObjectName>');
    expect(xml).toContain('<ParticipantObjectName>山田^太郎</ParticipantObjectName>');
    expect(Buffer.from(xml, 'utf8').includes(Buffer.from('山田^太郎', 'utf8'))).toBe(true);
    expect(() => exportMessage(ctx, { outcome: 0, media: { kind: 'cd', identifier: 'V' }, patients, studies: [{ studyInstanceUID: '1.2', sopClasses: [{ uid: CT, instances: 1.5 }] }] })).toThrow(RangeError);
  });

  it('Security Alert: 110113 with a CID 403 type and the exact alert, the subject with its Alert Description', () => {
    const expected = {
      'node-authentication': ['110126', '110182'],
      'user-authentication': ['110143', '11'],
      verification: ['110143', '12'],
      'untrusted-signer': ['110143', '12'],
      'software-configuration': ['110131', '12'],
      'use-of-restricted-function': ['110132', '11'],
    } as const;
    for (const [alert, [type, idType]] of Object.entries(expected) as Array<[keyof typeof expected, readonly [string, string]]>) {
      const xml = securityAlertMessage(ctx, { outcome: 8, outcomeDescription: 'why', alert, subject: 'relative/file.dcm' });
      expect(eventId(xml)).toBe('110113');
      expect(eventAttrs(xml).EventActionCode).toBe('E');
      expect(tags(xml, 'EventTypeCode').map((c) => `${c['csd-code']}/${c.codeSystemName}`)).toEqual([`${type}/DCM`, `${alert}/99DCMSAFE`]);
      expect(tags(xml, 'ParticipantObjectIDTypeCode')[0]?.['csd-code']).toBe(idType);
      expect(tags(xml, 'ParticipantObjectIdentification')[0]?.ParticipantObjectTypeCode).toBe('2');
      if (idType === '12') expect(tags(xml, 'ParticipantObjectIdentification')[0]?.ParticipantObjectID).toBe(pathToFileURL(path.resolve('relative/file.dcm')).href);
      expect(tags(xml, 'ParticipantObjectDetail')[0]).toEqual({ type: 'Alert Description', value: Buffer.from('why').toString('base64') });
    }
    expect(securityAlertMessage(ctx, { outcome: 0, outcomeDescription: 'x', alert: 'verification' })).not.toContain('ParticipantObjectIdentification');
  });

  it('User Authentication: 110114 with Login or Logout, the person with the network access point', () => {
    const login = userAuthenticationMessage(ctx, { outcome: 0, action: 'login', user: ctx.operator });
    expect(eventId(login)).toBe('110114');
    expect(tags(login, 'EventTypeCode')[0]?.['csd-code']).toBe('110122');
    expect(participants(login)).toHaveLength(2);
    expect(participants(login)[0]?.attrs).toMatchObject({ UserID: ctx.operator.userId, UserName: 'Łukasiewicz^Zoë', UserIsRequestor: 'true', NetworkAccessPointID: ctx.application.host });
    const other = userAuthenticationMessage(ctx, { outcome: 4, action: 'logout', user: { userId: 'yamada' } });
    expect(tags(other, 'EventTypeCode')[0]?.['csd-code']).toBe('110123');
    expect(participants(other).map((p) => [p.attrs.UserID, p.attrs.UserIsRequestor])).toEqual([
      ['yamada', 'true'],
      ['4242', 'false'],
      [ctx.operator.userId, 'false'],
    ]);
  });

  it('Application Activity: 110100 with Start or Stop, dcmsafe as Application, the operator as Application Launcher', () => {
    const xml = applicationActivityMessage(ctx, { outcome: 0, action: 'stop' });
    expect([eventId(xml), eventAttrs(xml).EventActionCode, tags(xml, 'EventTypeCode')[0]?.['csd-code']]).toEqual(['110100', 'E', '110121']);
    const ps = participants(xml);
    expect(ps.find((p) => p.roles.includes('110150'))?.attrs).toMatchObject({ UserID: '4242', AlternativeUserID: 'AETITLES=DCMSAFE', UserIsRequestor: 'false' });
    expect(ps.find((p) => p.roles.includes('110151'))?.attrs).toMatchObject({ UserID: ctx.operator.userId, UserIsRequestor: 'true' });
    expect(tags(xml, 'AuditSourceIdentification')[0]).toEqual({ AuditEnterpriseSiteID: 'SITE-1', AuditSourceID: 'Radiology Dept., St. Example' });
    expect(tags(xml, 'AuditSourceTypeCode')[0]).toEqual({ 'csd-code': '4' });
    expect(applicationActivityMessage(bareCtx, { outcome: 0, action: 'start' })).not.toMatch(/AlternativeUserID|AuditEnterpriseSiteID|UserName="[^"]*" UserIsRequestor="true"/);
  });
});
