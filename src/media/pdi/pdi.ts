/**
 * IHE PDI content (RAD TF-1 §15, RAD-47): README.TXT and INDEX.HTM in the root of the medium, and
 * the printable label or patient letter (`--manifest`). No viewer, no autorun, no executable.
 * On secure media they hold no patient data at all: they say the content is encrypted, who can open
 * it and how. Text comes from templates/ (ASCII for README.TXT, XHTML in UTF-8 for INDEX.HTM).
 */
import type { ApplicationProfile } from '../../dicom/profiles/profiles.js';
import { IMPLEMENTATION_VERSION_NAME } from '../../dicom/part10/writer.js';
import { renderTemplate } from '../../util/template.js';

import { VERSION } from '../../version.js';

export const DCMSAFE_VERSION = VERSION;

export interface VolumeStudy {
  readonly patientName: string;
  readonly patientId: string;
  readonly birthDate: string;
  readonly studyDate: string;
  readonly studyDescription: string;
  readonly series: ReadonlyArray<{ modality: string; seriesNumber: string; description: string; instances: number }>;
}

export interface VolumeDescription {
  readonly fileSetId: string;
  readonly fileSetUID: string;
  readonly profile: ApplicationProfile;
  readonly created: Date;
  readonly institution: string;
  readonly mediaKind: string; // "CD", "DVD", "USB stick", "ZIP file", "folder"
  /** "disc 1 of 3" when the input was split. */
  readonly volumeLabel?: string;
  readonly studies: readonly VolumeStudy[];
  /** Secure media: who can open it (certificate subjects, "a password"). */
  readonly secureFor?: readonly string[];
  readonly signedBy?: string;
  /** Plain media whose instances carry a DICOM Digital Signature (PS3.15 Annex C): its signer. */
  readonly dicomSignedBy?: string;
}

/** README.TXT must be readable anywhere: non-ASCII letters are transliterated where possible, else "?". */
export function toAscii(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ß/g, 'ss')
    .replace(/[Łł]/g, (c) => (c === 'Ł' ? 'L' : 'l'))
    .replace(/[Øø]/g, (c) => (c === 'Ø' ? 'O' : 'o'))
    .replace(/[^\x20-\x7e\n]/g, '?');
}

function date(d: string): string {
  return /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` : d || 'unknown date';
}

function personName(pn: string): string {
  const [family = '', given = ''] = (pn.split('=')[0] ?? '').split('^');
  return [given, family].filter(Boolean).join(' ') || '(no name)';
}

function common(v: VolumeDescription): Record<string, string> {
  return {
    title: v.secureFor ? `ENCRYPTED DICOM MEDIUM${v.volumeLabel ? ` (${v.volumeLabel})` : ''}` : `DICOM MEDIUM${v.volumeLabel ? ` (${v.volumeLabel})` : ''}`,
    institution: v.institution,
    created: v.created.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
    version: DCMSAFE_VERSION,
    implementation: IMPLEMENTATION_VERSION_NAME,
    profileId: v.profile.id,
    profileTitle: v.profile.title,
    profileAnnex: v.profile.annex,
    fileSetId: v.fileSetId,
    fileSetUID: v.fileSetUID,
  };
}

function studyLines(v: VolumeDescription): string {
  const lines: string[] = [];
  let patient = '';
  for (const s of v.studies) {
    const who = `${personName(s.patientName)}, born ${date(s.birthDate)}, patient ID ${s.patientId}`;
    if (who !== patient) {
      lines.push(`Patient: ${who}`);
      patient = who;
    }
    lines.push(`  Study of ${date(s.studyDate)}: ${s.studyDescription || '(no description)'}`);
    for (const se of s.series) lines.push(`    ${se.modality || '?'} series ${se.seriesNumber}${se.description ? ` ${se.description}` : ''}: ${se.instances} file(s)`);
  }
  return lines.join('\n');
}

export function readmeTxt(v: VolumeDescription): Buffer {
  const secure = v.secureFor !== undefined;
  const text = renderTemplate('pdi-readme.txt', {
    ...common(v),
    contents: secure
      ? [
          'Every DICOM file on this medium, the DICOMDIR included, is encrypted (DICOM Secure DICOM File,',
          `PS3.10 7.4 and PS3.15 Annex D.1)${v.signedBy ? ` and signed by ${v.signedBy}` : ''}. Nothing on it can be read without a key.`,
          'It can be opened by:',
          ...(v.secureFor ?? []).map((who) => `  - ${who}`),
          'This file and INDEX.HTM hold no patient data.',
        ].join('\n')
      : studyLines(v),
    indexPurpose: secure ? 'a page saying how to open this medium' : 'a page listing the patients, studies and series on this medium',
    howToView: secure
      ? 'Use a DICOM viewer or importer that reads encrypted DICOM media (PS3.15 Annex D.1) with the key or\npassword above, or: dcmsafe verify <this medium> --password-file <file> --extract <folder>'
      : 'Open DICOMDIR with any DICOM viewer (most hospital and free viewers read DICOM CDs, DVDs and USB sticks).',
    howToVerify:
      secure || v.dicomSignedBy
        ? `${v.dicomSignedBy ? `Every DICOM file carries a DICOM digital signature (PS3.15 Annex C) by ${v.dicomSignedBy}.\n` : ''}dcmsafe verify <this medium> --trust <certificates of the sender> checks every signature and says who signed.`
        : 'This medium is not signed. dcmsafe verify <this medium> checks that the DICOMDIR and the files agree.',
  });
  return Buffer.from(toAscii(text).replace(/\n/g, '\r\n'), 'ascii');
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function indexHtm(v: VolumeDescription): Buffer {
  let body: string;
  if (v.secureFor) {
    body = [
      '<p>This medium is <strong>encrypted</strong>. Its DICOM files can be opened only by:</p>',
      '<ul>',
      ...v.secureFor.map((who) => `<li>${escapeXml(who)}</li>`),
      '</ul>',
      v.signedBy ? `<p>Every file is signed by ${escapeXml(v.signedBy)}.</p>` : '',
    ].join('\n');
  } else {
    const rows = v.studies.map(
      (s) =>
        `<tr><td>${escapeXml(personName(s.patientName))}</td><td>${escapeXml(s.patientId)}</td><td>${escapeXml(date(s.birthDate))}</td><td>${escapeXml(date(s.studyDate))}</td><td>${escapeXml(s.studyDescription)}</td><td>${escapeXml(
          s.series.map((se) => `${se.modality} ${se.seriesNumber} (${se.instances})`).join(', '),
        )}</td></tr>`,
    );
    body = [
      '<table border="1">',
      '<tr><th>Patient</th><th>Patient ID</th><th>Born</th><th>Study date</th><th>Study</th><th>Series (files)</th></tr>',
      ...rows,
      '</table>',
      ...(v.dicomSignedBy ? [`<p>Every DICOM file carries a DICOM digital signature (PS3.15 Annex C) by ${escapeXml(v.dicomSignedBy)}.</p>`] : []),
    ].join('\n');
  }
  const c = Object.fromEntries(Object.entries(common(v)).map(([k, val]) => [k, escapeXml(val)]));
  return Buffer.from(renderTemplate('pdi-index.htm', { ...c, body }).replace(/\n/g, '\r\n'), 'utf8');
}

/** The printable label (plain media) or patient letter (password media), as plain text. */
export function manifest(v: VolumeDescription, options: { passwordMedia: boolean; password?: string }): string {
  const volume = v.volumeLabel ? `, ${v.volumeLabel}` : '';
  if (options.passwordMedia) {
    return renderTemplate('manifest-letter.txt', {
      institution: v.institution,
      mediaKind: v.mediaKind,
      fileSetId: v.fileSetId,
      volume,
      password: options.password ?? '______________________________ (written in by hand)',
      created: common(v).created as string,
    });
  }
  const patients = [...new Set(v.studies.map((s) => `${personName(s.patientName)} *${date(s.birthDate)}`))].join('\n');
  const studies = v.studies.map((s) => `  ${date(s.studyDate)} ${s.studyDescription}`).join('\n');
  return renderTemplate('manifest-label.txt', {
    institution: v.institution,
    patients: `${patients}\n${studies}`,
    created: common(v).created as string,
    mediaKind: v.mediaKind.toUpperCase(),
    fileSetId: v.fileSetId,
    volume,
  });
}
