/** Plain-text renderings of pipeline summaries for people at a terminal. */
import type { CreateSummary } from '../pipelines/create-summary.js';
import type { SamplesSummary } from '../samples/generate.js';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

const PLURALS: Record<string, string> = { study: 'studies', series: 'series' };

function plural(n: number, word: string): string {
  return `${n} ${n === 1 ? word : (PLURALS[word] ?? `${word}s`)}`;
}

export function formatCreateSummary(s: CreateSummary): string {
  const c = s.counts;
  const out: string[] = [
    s.volumes.length > 1 ? `File-set ${s.fileSetId} (${s.profile}) written on ${s.volumes.length} media` : `File-set ${s.fileSetId} (${s.profile}) written to ${s.output}`,
    `  ${plural(c.patients, 'patient')}, ${plural(c.studies, 'study')}, ${plural(c.series, 'series')}, ${plural(c.instances, 'instance')}, ${formatBytes(c.bytes)}`,
  ];
  if (s.security) {
    const sec = s.security;
    out.push(`  Secure media: every file signed${sec.signed ? ` by ${sec.signer?.subject}` : ' (no signer: digest only)'} and encrypted with ${sec.cipher.toUpperCase()} for:`);
    for (const r of sec.recipients) out.push(r.kind === 'password' ? `    a password (${r.kdf}, ${r.iterations} iterations)` : `    ${r.subject} (${r.keyTransport})`);
    if (sec.legacy.length) out.push(`  Legacy algorithms on request: ${sec.legacy.join(', ')} (weak; only for old readers)`);
  }
  if (s.dicomSignature) {
    const d = s.dicomSignature;
    out.push(`  DICOM digital signature in every instance (PS3.15 Annex C, ${d.profile} profile, MAC ${d.macAlgorithm}) by ${d.signer}`);
  }
  if (s.deidentification) {
    const d = s.deidentification;
    out.push(`  De-identified: ${d.profile}${d.options.length ? ` with ${d.options.join(', ')}` : ''}; ${plural(d.patients, 'patient')} pseudonymized, ${plural(d.uidsReplaced, 'UID')} replaced`);
    if (d.originalsEncryptedFor) out.push(`  Original values kept, encrypted for ${d.originalsEncryptedFor}`);
    for (const n of d.notes) out.push(`  Note: ${n}`);
  }
  for (const p of s.patients) {
    out.push(`  Patient ${p.patientName || '(no name)'}  ID ${p.patientId}${p.generatedId ? ' (generated: the files have no Patient ID)' : ''}`);
    for (const st of p.studies) {
      const series = st.series.map((se) => `${se.modality || '?'} #${se.seriesNumber} (${se.instances})`).join(', ');
      out.push(`    Study ${st.studyDate || '(no date)'} ${st.studyDescription || ''}: ${series}`);
    }
  }
  for (const t of s.topLevel) out.push(`  ${t.recordType} ${t.sopInstanceUID}`);
  if (s.volumes.length > 1) {
    for (const v of s.volumes) {
      const studies = s.patients.flatMap((p) => p.studies.filter((st) => v.studies.includes(st.studyInstanceUID)).map((st) => `${p.patientName} ${st.studyDate} ${st.studyDescription}`.trim()));
      out.push(`  ${v.output} (File-set ${v.fileSetId}, ${v.instances} instances, ${formatBytes(v.bytes)}): ${studies.join('; ')}`);
    }
  }
  const section = (title: string, lines: string[]): void => {
    if (lines.length === 0) return;
    out.push(`${title}:`);
    for (const l of lines.slice(0, 20)) out.push(`  ${l}`);
    if (lines.length > 20) out.push(`  ... and ${lines.length - 20} more (see --json)`);
  };
  section('Converted losslessly', s.transcoded.map((t) => `${t.input} → ${t.fileId}: ${t.reason || t.kind}`));
  section('Same SOP Instance in several files (one kept)', s.merged.map((m) => `${m.sopInstanceUID}: kept ${m.kept}, left out ${m.dropped.join(', ')}`));
  section('Patient IDs generated (the files have none)', s.generatedPatientIds.map((g) => `${g.patientId} for "${g.name}" born ${g.birthDate || '(unknown)'} (${plural(g.files, 'file')})`));
  section('Patient ID with different names or birth dates (allowed by --allow-patient-mismatch)', s.patientMismatches.map((m) => `${m.patientId}: ${m.variants.map((v) => `"${v.name}" ${v.birthDate}`).join(' / ')}`));
  section('Directory keys supplied (missing in the files)', s.supplied.map((k) => `${k.record} ${k.key} = "${k.value}" for ${k.scope}`));
  section('Directory keys normalized', s.normalized.map((k) => `${k.record} ${k.key}: "${k.from}" → "${k.to}" for ${k.scope}`));
  section('Values invalid for their VR in the files', s.invalidKeys.map((k) => `${k.record} ${k.key} "${k.value}": ${k.problem}; ${k.action} for ${k.scope}`));
  section('Directory keys missing and left empty', s.missingKeys.map((k) => `${k.record} ${k.key} for ${k.scope}`));
  section('Unknown SOP classes placed under IMAGE records', s.unknownSopClasses.map((u) => `${u.path}: ${u.sopClassUID}`));
  section('Skipped inputs', [...s.skipped.map((k) => `${k.path}: ${k.message}`), ...s.ignoredInputs.map((k) => `${k.path}: ${k.reason}`)]);
  section(
    s.deidentification?.burnedInAccepted ? 'May have burned-in identification, not cleaned (--accept-burned-in)' : 'May have burned-in identification',
    (s.deidentification?.burnedIn ?? []).map((b) => `${b.input}: ${b.reason}`),
  );
  section('Unreadable DICOM files left out (--skip-invalid)', s.unreadable.map((u) => `${u.path}: ${u.code}: ${u.message}`));
  return out.join('\n');
}

export function formatSamplesSummary(s: SamplesSummary, out: string): string {
  const lines = [`Sample studies written to ${out}: ${plural(s.files.length, 'file')}, ${formatBytes(s.totalBytes)}`];
  for (const p of s.patients) {
    lines.push(`  Patient ${p.name} (ID ${p.id}, ${p.charset})`);
    for (const st of s.studies.filter((x) => x.patientId === p.id)) {
      const series = s.series.filter((se) => se.studyInstanceUID === st.studyInstanceUID).map((se) => `${se.modality} (${se.count})`);
      lines.push(`    Study ${st.studyDate} ${st.description}: ${series.join(', ')}`);
    }
  }
  return lines.join('\n');
}

/** The generated password, once, framed so a clerk can read it out or write it on the letter. */
export function formatGeneratedPassword(password: string): string {
  return [
    '',
    'Password for this medium (shown once, stored nowhere; give it to the recipient by another channel):',
    '',
    `    ${password}`,
    '',
  ].join('\n');
}
