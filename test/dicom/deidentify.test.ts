/**
 * De-identification (PS3.15 Annex E): Table E.1-1 as data, the actions and their combinations, the
 * options, UID and patient consistency across a set, the markers, the encrypted originals, and
 * hostile input through the create pipeline.
 */
import type { KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionFor, isPrivateTag, OPTION_NAMES, tableRow, type OptionKey } from '../../src/dicom/deidentify/actions.js';
import { checkOptions, DEIDENTIFICATION_METHOD_CODE_SEQUENCE, Deidentifier, LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED, methodCodes, PATIENT_IDENTITY_REMOVED, uuidUid } from '../../src/dicom/deidentify/deidentify.js';
import { decryptOriginalAttributes, ENCRYPTED_ATTRIBUTES_SEQUENCE, ENCRYPTED_CONTENT, ENCRYPTED_CONTENT_TRANSFER_SYNTAX_UID, encryptedAttributesItem } from '../../src/dicom/deidentify/encrypted-attributes.js';
import { TABLE_E1_1, TABLE_E1_1_SOURCE } from '../../src/dicom/deidentify/table-e1-1.js';
import { DataSet } from '../../src/dicom/dataset.js';
import { buildDataSet, ELE, encodePart10, makeElement } from '../../src/dicom/part10/writer.js';
import { T } from '../../src/dicom/tags.js';
import { DcmsafeError } from '../../src/errors/index.js';
import { resolveDeidentify } from '../../src/app/deidentify.js';
import { createMedia } from '../../src/pipelines/create-media.js';
import { makeDemoPki } from '../../src/security/pki/demo.js';
import { loadPrivateKey } from '../../src/security/pki/keys.js';
import { loadCertificates } from '../../src/security/pki/certificates.js';
import { fixedClock } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/random.js';
import { tempDir } from '../helpers/env.js';

const SOP_CLASS_CT = '1.2.840.10008.5.1.4.1.1.2';
const PR_CLASS = '1.2.840.10008.5.1.4.1.1.11.1';

function ct(overrides: Partial<Record<string, string>> = {}): DataSet {
  const ds = buildDataSet([
    [T.SpecificCharacterSet, 'CS', 'ISO_IR 100'],
    [T.SOPClassUID, 'UI', SOP_CLASS_CT],
    [T.SOPInstanceUID, 'UI', overrides.sop ?? '1.2.3.4.5.1'],
    [T.StudyDate, 'DA', '20240102'],
    [0x00080012, 'DA', '20240102'], // Instance Creation Date: not in the table
    [T.AccessionNumber, 'SH', 'ACC12345'],
    [T.Modality, 'CS', overrides.modality ?? 'CT'],
    [T.InstitutionName, 'LO', 'St. Elsewhere'],
    [0x00081030, 'LO', 'CT of Doe John'], // Study Description
    [0x00081070, 'PN', 'Tech^Tom'], // Operators' Name X/Z/D
    [T.PatientName, 'PN', overrides.name ?? 'Doe^John'],
    [T.PatientID, 'LO', overrides.id ?? 'PID-1'],
    [T.PatientBirthDate, 'DA', '19700315'],
    [T.PatientSex, 'CS', 'M'],
    [0x00101010, 'AS', '054Y'], // Patient's Age
    [T.StudyInstanceUID, 'UI', '1.2.3.4'],
    [T.SeriesInstanceUID, 'UI', '1.2.3.4.5'],
    [0x00200052, 'UI', '1.2.3.4.9'], // Frame of Reference UID
    [0x00090010, 'LO', 'ACME private'],
    [0x00091001, 'LO', 'Doe John secret'],
    [0x60003000, 'OW', Buffer.alloc(8)], // Overlay Data
    [0x60000010, 'US', 512], // Overlay Rows
  ]);
  return ds;
}

function pr(): DataSet {
  const ds = buildDataSet([
    [T.SOPClassUID, 'UI', PR_CLASS],
    [T.SOPInstanceUID, 'UI', '1.2.3.4.7.1'],
    [T.PatientName, 'PN', 'Doe^John'],
    [T.PatientID, 'LO', 'PID-1'],
    [T.StudyInstanceUID, 'UI', '1.2.3.4'],
    [T.SeriesInstanceUID, 'UI', '1.2.3.4.7'],
  ]);
  const image = new DataSet(ELE, ds);
  image.set(makeElement(T.ReferencedSOPClassUID, 'UI', SOP_CLASS_CT));
  image.set(makeElement(T.ReferencedSOPInstanceUID, 'UI', '1.2.3.4.5.1'));
  const series = new DataSet(ELE, ds);
  series.set(makeElement(T.SeriesInstanceUID, 'UI', '1.2.3.4.5'));
  series.set(makeElement(0x00081140, 'SQ', [image]));
  ds.set(makeElement(0x00081115, 'SQ', [series])); // Referenced Series Sequence
  return ds;
}

const opts = (...o: OptionKey[]): ReadonlySet<OptionKey> => new Set(o);

describe('Table E.1-1 as data', () => {
  it('has every row of its source, with known actions', () => {
    expect(TABLE_E1_1.length).toBe(460);
    expect(TABLE_E1_1_SOURCE.commit).toMatch(/^[0-9a-f]{40}$/);
    const row = (tag: number) => tableRow(tag);
    expect(row(0x00100010)?.basic).toBe('Z'); // Patient's Name
    expect(row(0x0020000d)?.basic).toBe('U'); // Study Instance UID
    expect(row(0x0020000d)?.options.retainUIDs).toBe('K');
    expect(row(0x00080020)?.basic).toBe('Z'); // Study Date
    expect(row(0x00080020)?.options.retainLongitudinalModifiedDates).toBe('C');
    expect(row(0x00080080)?.basic).toBe('X/Z/D'); // Institution Name
    expect(row(0x00081140)?.basic).toBe('X/Z/U*'); // Referenced Image Sequence
    expect(row(0xfffafffa)?.basic).toBe('X'); // Digital Signatures Sequence
    expect(row(0x60023000)?.name).toBe('Overlay Data'); // repeating group 60xx
    expect(row(0x50103000)?.name).toBe('Curve Data');
    expect(row(0x00091001)?.name).toBe('Private attributes');
    expect(isPrivateTag(0x00091001)).toBe(true);
    expect(row(0x00280010)).toBeUndefined(); // Rows: not in the table, kept
  });

  it('lets an option override the profile', () => {
    const date = tableRow(0x00080020);
    expect(date && actionFor(date, opts())).toBe('Z');
    expect(date && actionFor(date, opts('retainLongitudinalFullDates'))).toBe('K');
    const sex = tableRow(T.PatientSex);
    expect(sex && actionFor(sex, opts('retainPatientCharacteristics'))).toBe('K');
  });

  it('uses the CID 7050 codes', () => {
    expect(methodCodes(opts('retainUIDs', 'cleanDescriptors')).map((c) => c.value)).toEqual(['113100', '113105', '113110']);
    expect(methodCodes(opts('retainSafePrivate')).map((c) => c.value)).toEqual(['113100']); // not claimed: nothing is kept
  });

  it('refuses full and modified dates together, and options without --deidentify', async () => {
    expect(() => checkOptions(opts('retainLongitudinalFullDates', 'retainLongitudinalModifiedDates'))).toThrow(DcmsafeError);
    await expect(resolveDeidentify({ deidentify: true, option: ['retain-longitudinal-full-dates', 'retain-longitudinal-modified-dates'] })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(resolveDeidentify({ deidentify: true, option: ['retain-everything'] })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(resolveDeidentify({ option: ['retain-uids'] })).rejects.toMatchObject({ code: 'USAGE' });
    expect(Object.keys(OPTION_NAMES)).toHaveLength(8);
  });
});

describe('the Basic Profile applied', () => {
  it('replaces, empties, removes and marks as the table says', () => {
    const d = new Deidentifier({ options: opts() }, seededRandom('t'));
    const { dataSet: out, originals, pseudonym } = d.deidentify(ct());
    expect(out.text(T.PatientName)).toBe(pseudonym.patientName);
    expect(out.text(T.PatientID)).toMatch(/^ANON[0-9A-F]{12}$/);
    expect(out.text(T.PatientBirthDate)).toBeUndefined(); // Z
    expect(out.has(T.PatientBirthDate)).toBe(true);
    expect(out.text(T.AccessionNumber)).toBeUndefined();
    expect(out.text(T.StudyDate)).toBeUndefined();
    expect(out.text(0x00080012)).toBe('19000101'); // a date the table does not list: dummy (note 4)
    expect(out.text(T.InstitutionName)).toBe('ANONYMIZED'); // X/Z/D, present: D
    expect(out.has(0x00081030)).toBe(false); // Study Description X
    expect(out.has(T.PatientSex)).toBe(true);
    expect(out.text(T.PatientSex)).toBeUndefined(); // Z
    expect(out.has(0x00101010)).toBe(false); // age X
    expect(out.has(0x00090010) || out.has(0x00091001)).toBe(false); // private
    expect(out.has(0x60003000) || out.has(0x60000010)).toBe(false); // the overlay group goes whole
    expect(out.text(T.StudyInstanceUID)).toMatch(/^2\.25\.\d+$/);
    expect(out.text(T.Modality)).toBe('CT'); // not in the table: kept
    expect(out.text(PATIENT_IDENTITY_REMOVED)).toBe('YES');
    expect(out.items(DEIDENTIFICATION_METHOD_CODE_SEQUENCE).map((i) => i.text(T.CodeValue))).toEqual(['113100']);
    expect(out.text(LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED)).toBe('REMOVED');
    expect(originals.text(T.PatientName)).toBe('Doe^John');
    expect(originals.text(T.SOPInstanceUID)).toBe('1.2.3.4.5.1');
    expect(originals.has(T.Modality)).toBe(false);
  });

  it('keeps UIDs and the patient consistent across the set, references in sequences included', () => {
    const d = new Deidentifier({ options: opts() }, seededRandom('t'));
    const image = d.deidentify(ct()).dataSet;
    const state = d.deidentify(pr()).dataSet;
    const ref = state.items(0x00081115)[0]?.items(0x00081140)[0];
    expect(ref?.text(T.ReferencedSOPInstanceUID)).toBe(image.text(T.SOPInstanceUID));
    expect(ref?.text(T.ReferencedSOPClassUID)).toBe(SOP_CLASS_CT); // a class UID is public: kept
    expect(state.items(0x00081115)[0]?.text(T.SeriesInstanceUID)).toBe(image.text(T.SeriesInstanceUID));
    expect(state.text(T.StudyInstanceUID)).toBe(image.text(T.StudyInstanceUID));
    expect(state.text(T.PatientID)).toBe(image.text(T.PatientID));
    const other = d.deidentify(ct({ id: 'PID-2', name: 'Roe^Jane', sop: '1.2.3.4.5.2' })).dataSet;
    expect(other.text(T.PatientID)).not.toBe(image.text(T.PatientID));
    expect(d.patientCount).toBe(2);
  });

  it('gives the same replacements for the same seed, whatever the order, and others for another seed', () => {
    const a = new Deidentifier({ options: opts() }, seededRandom('s'));
    const b = new Deidentifier({ options: opts() }, seededRandom('s'));
    const c = new Deidentifier({ options: opts() }, seededRandom('other'));
    b.deidentify(pr());
    const x = a.deidentify(ct()).dataSet;
    const y = b.deidentify(ct()).dataSet;
    expect(y.text(T.SOPInstanceUID)).toBe(x.text(T.SOPInstanceUID));
    expect(y.text(T.PatientID)).toBe(x.text(T.PatientID));
    expect(c.deidentify(ct()).dataSet.text(T.SOPInstanceUID)).not.toBe(x.text(T.SOPInstanceUID));
    expect(uuidUid(Buffer.alloc(16, 0xff))).toMatch(/^2\.25\.\d{30,39}$/);
  });

  it('applies the options', () => {
    const full = new Deidentifier({ options: opts('retainLongitudinalFullDates', 'retainUIDs', 'retainPatientCharacteristics', 'retainInstitutionIdentity') }, seededRandom('t')).deidentify(ct()).dataSet;
    expect(full.text(T.StudyDate)).toBe('20240102');
    expect(full.text(T.SOPInstanceUID)).toBe('1.2.3.4.5.1');
    expect(full.text(T.PatientSex)).toBe('M');
    expect(full.text(0x00101010)).toBe('054Y');
    expect(full.text(T.InstitutionName)).toBe('St. Elsewhere');
    expect(full.text(LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED)).toBe('UNMODIFIED');
    expect(full.items(DEIDENTIFICATION_METHOD_CODE_SEQUENCE).map((i) => i.text(T.CodeValue))).toEqual(['113100', '113106', '113108', '113110', '113112']);

    const d = new Deidentifier({ options: opts('retainLongitudinalModifiedDates', 'cleanDescriptors') }, seededRandom('t'));
    const m = d.deidentify(ct()).dataSet;
    const shift = d.pseudonymFor(ct()).dateShiftDays;
    expect(shift).toBeGreaterThanOrEqual(365);
    const expected = new Date(Date.UTC(2024, 0, 2) - shift * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    expect(m.text(T.StudyDate)).toBe(expected);
    expect(m.text(0x00080012)).toBe(expected); // the same shift for every date of the patient
    expect(m.text(LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED)).toBe('MODIFIED');
    expect(m.text(0x00081030)).toBe('CT of *** ****'); // cleaned: the name's components removed
  });
});

describe('replacement values', () => {
  it('are padded to even length with the VR padding byte (NUL for UI, space for text)', () => {
    const d = new Deidentifier({ options: opts('cleanDescriptors') }, seededRandom('pad'));
    const { dataSet } = d.deidentify(ct());
    for (const el of dataSet.elements.values()) {
      if (!el.value || el.value.length === 0 || el.offset !== -1) continue;
      expect(el.value.length % 2).toBe(0);
      const last = el.value[el.value.length - 1];
      if (el.vr === 'UI') expect(last).not.toBe(0x20);
      else if (['LO', 'SH', 'PN', 'CS', 'DA', 'LT', 'ST'].includes(el.vr)) expect(last).not.toBe(0x00);
    }
  });
});

/** The demo PKI's media recipient and signer, as certificate and private key. */
async function demoCredentials(): Promise<{ recipient: { certificate: Buffer; privateKey: KeyObject }; signer: { certificate: Buffer; privateKey: KeyObject } }> {
  const dir = tempDir('dcmsafe-deid-unit-');
  const demo = await makeDemoPki(path.join(dir, 'pki'), { now: new Date(), bits: 2048 });
  const credential = (c: { certificateFile: string; keyFile?: string }) => ({
    certificate: loadCertificates(readFileSync(c.certificateFile))[0] as Buffer,
    privateKey: loadPrivateKey(readFileSync(c.keyFile as string)),
  });
  return { recipient: credential(demo.mediaRecipient), signer: credential(demo.mediaSigner) };
}

describe('encrypted originals', () => {
  it('recovers the original values with the recipient key, and only with it', async () => {
    const pki = await demoCredentials();
    const d = new Deidentifier({ options: opts() }, seededRandom('t'));
    const { dataSet, originals } = d.deidentify(ct());
    dataSet.set(makeElement(ENCRYPTED_ATTRIBUTES_SEQUENCE, 'SQ', [await encryptedAttributesItem(originals, pki.recipient.certificate, { random: seededRandom('e'), now: new Date() })]));
    const [back] = await decryptOriginalAttributes(dataSet, { certificate: pki.recipient.certificate, privateKey: pki.recipient.privateKey });
    expect(back?.text(T.PatientName)).toBe('Doe^John');
    expect(back?.text(T.PatientBirthDate)).toBe('19700315');
    expect(back?.text(T.StudyInstanceUID)).toBe('1.2.3.4');
    await expect(decryptOriginalAttributes(dataSet, { certificate: pki.signer.certificate, privateKey: pki.signer.privateKey })).rejects.toBeInstanceOf(DcmsafeError);
  });

  it('skips garbage and foreign Encrypted Attributes items, and says why when nothing opens', async () => {
    const pki = await demoCredentials();
    const d = new Deidentifier({ options: opts() }, seededRandom('t'));
    const { dataSet, originals } = d.deidentify(ct());
    const garbage = (content: Buffer, ts = '1.2.840.10008.1.2.1') => {
      const item = new DataSet(ELE);
      item.set(makeElement(ENCRYPTED_CONTENT_TRANSFER_SYNTAX_UID, 'UI', ts));
      item.set(makeElement(ENCRYPTED_CONTENT, 'OB', content));
      return item;
    };
    const junk = [garbage(Buffer.from('not CMS at all!!')), garbage(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01])), garbage(Buffer.from([0x30, 0x00]), '1.2.840.10008.1.2')];
    dataSet.set(makeElement(ENCRYPTED_ATTRIBUTES_SEQUENCE, 'SQ', junk));
    const e = await decryptOriginalAttributes(dataSet, pki.recipient).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DcmsafeError);
    const good = await encryptedAttributesItem(originals, pki.recipient.certificate, { random: seededRandom('e'), now: new Date() });
    const foreign = await encryptedAttributesItem(originals, pki.signer.certificate, { random: seededRandom('f'), now: new Date() });
    dataSet.set(makeElement(ENCRYPTED_ATTRIBUTES_SEQUENCE, 'SQ', [...junk, foreign, good]));
    const found = await decryptOriginalAttributes(dataSet, pki.recipient);
    expect(found).toHaveLength(1);
    expect(found[0]?.text(T.PatientName)).toBe('Doe^John');
  });
});

describe('create --deidentify', () => {
  const write = (dir: string, name: string, ds: DataSet): void => writeFileSync(path.join(dir, name), encodePart10({ sopClassUID: ds.text(T.SOPClassUID) as string, sopInstanceUID: ds.text(T.SOPInstanceUID) as string }, ds));
  const files = (dir: string): string[] =>
    readdirSync(dir)
      .flatMap((n) => (statSync(path.join(dir, n)).isDirectory() ? files(path.join(dir, n)) : [path.join(dir, n)]))
      .sort();

  it('refuses burned-in candidates unless accepted, and lists them', async () => {
    const dir = tempDir('dcmsafe-deid-create-');
    const inputs = path.join(dir, 'in');
    mkdirSync(inputs);
    write(inputs, 'a.dcm', ct());
    write(inputs, 'us.dcm', ct({ modality: 'US', sop: '1.2.3.4.5.3' }));
    const base = { inputs: [inputs], media: 'folder' as const, clock: fixedClock(new Date('2026-01-01T00:00:00Z')), random: seededRandom('c') };
    await expect(createMedia({ ...base, out: path.join(dir, 'o1'), deidentify: { options: opts() } })).rejects.toMatchObject({ code: 'DEIDENTIFY_BURNED_IN' });
    const s = await createMedia({ ...base, out: path.join(dir, 'o2'), deidentify: { options: opts(), acceptBurnedIn: true } });
    expect(s.deidentification?.burnedIn.map((b) => path.basename(b.input))).toEqual(['us.dcm']);
    expect(s.counts.instances).toBe(2);
    // Byte-identical for the same seed.
    await createMedia({ ...base, out: path.join(dir, 'o3'), deidentify: { options: opts(), acceptBurnedIn: true } });
    const a = files(path.join(dir, 'o2'));
    const b = files(path.join(dir, 'o3'));
    expect(a.map((f) => path.relative(path.join(dir, 'o2'), f))).toEqual(b.map((f) => path.relative(path.join(dir, 'o3'), f)));
    a.forEach((f, i) => expect(readFileSync(f).equals(readFileSync(b[i] as string)), f).toBe(true));
    // Nothing identifying anywhere on the media.
    for (const f of a) {
      const bytes = readFileSync(f).toString('latin1');
      for (const v of ['Doe', 'PID-1', '19700315', 'ACC12345', 'Elsewhere', '1.2.3.4']) expect(bytes.includes(v), `${f} ${v}`).toBe(false);
    }
  });

  it('does not crash on hostile input (typed errors, or the file left out)', async () => {
    const dir = tempDir('dcmsafe-deid-hostile-');
    const inputs = path.join(dir, 'in');
    mkdirSync(inputs);
    write(inputs, 'good.dcm', ct());
    const good = readFileSync(path.join(inputs, 'good.dcm'));
    writeFileSync(path.join(inputs, 'cut.dcm'), good.subarray(0, good.length - 7));
    const bad = Buffer.from(good);
    bad.writeUInt32LE(0xfffffff0, 140 + 12 + 4); // an absurd length in the first element after the meta
    writeFileSync(path.join(inputs, 'bad.dcm'), bad);
    writeFileSync(path.join(inputs, 'noise.dcm'), Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from([0x02, 0, 0x10, 0, 0x55, 0x49, 0xff, 0xff])]));
    const base = { inputs: [inputs], media: 'folder' as const, clock: fixedClock(new Date('2026-01-01T00:00:00Z')), random: seededRandom('h'), deidentify: { options: opts() } };
    await expect(createMedia({ ...base, out: path.join(dir, 'o1') })).rejects.toBeInstanceOf(DcmsafeError);
    const s = await createMedia({ ...base, out: path.join(dir, 'o2'), skipInvalid: true });
    expect(s.counts.instances).toBe(1);
  });
});
