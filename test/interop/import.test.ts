/**
 * `dcmsafe import` and `dcmsafe echo` against real peers (issue 6 acceptance), each run in its own
 * network namespace with only loopback up:
 * - dcmtk `storescp +tls --require-peer-cert +xa -pm` (every syntax and SOP class, as a PACS set up to take
 *   whatever a disc holds) receives every instance of secure media made from the
 *   samples and from ../shared/corpus (signed, encrypted for a certificate), reconciled with a map:
 *   pydicom finds the coerced Patient ID, the foreign one in Other Patient IDs Sequence, an Original
 *   Attributes Sequence item, the same UIDs, and pixel data identical to the medium's;
 * - Orthanc with DICOM TLS receives the same; its REST API (loopback) counts the instances and
 *   reports the coerced Patient IDs;
 * - `dcmsafe echo` answers against both;
 * - refusals, each exit 4 with a clear message and nothing stored: unknown CA, name mismatch, a TLS
 *   1.1-only peer, a plain DICOM peer when TLS is asked, a wrong called AE title;
 * - fault: the receiver is killed after some instances and restarted; the re-run completes the set,
 *   sends only what the journal lacks, and the journal holds every instance once.
 * The reconciliation checks that need no peer (several patients, demographics mismatch) run here too.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { CORPUS, PYTHON, REPO, run, tempDir } from '../helpers/env.js';
import { describeInNetns, makeTestPki, runInNetns } from '../helpers/netns.js';
import { listFiles } from '../helpers/files.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const CHECK = path.join(REPO, 'test/interop/py/check_import.py');
const CORPUS_MEDIA_FOLDERS = ['charset', 'cr-dx', 'ct', 'doc', 'mr', 'nm-pet', 'other', 'pr', 'rt', 'seg', 'sr', 'transfer-syntax', 'us'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function dcmsafe(args: string[], env: Record<string, string> = {}): ReturnType<typeof run> {
  return run('node', [CLI, ...args], { env: { ...process.env, ...env }, timeout: 300_000 });
}

/** The bash lines that wait until something listens on 127.0.0.1:PORT. */
const waitPort = (port: number): string => `timeout 20 bash -c 'until (echo > /dev/tcp/127.0.0.1/${port}) 2>/dev/null; do sleep 0.1; done'`;

describeInNetns(['unshare', 'ip', 'storescp', 'Orthanc', 'openssl', 'curl', 'pydicom'], 'dcmsafe import and echo against storescp and Orthanc over TLS', () => {
  const dir = tempDir('dcmsafe-import-');
  const pki = path.join(dir, 'pki'); // dcmsafe demo PKI: media signer and recipient, TLS server and client
  const test = path.join(dir, 'testpki'); // openssl-made: wrongip server, other CA
  const samplesMedia = path.join(dir, 'samples.iso');
  const corpusMedia = path.join(dir, 'corpus-media');
  const jpegMedia = path.join(dir, 'jpeg-media'); // the corpus under a JPEG profile: compressed files stay compressed
  const env = { XDG_DATA_HOME: path.join(dir, 'xdg') };
  const media: Record<string, { path: string; extracted: string; map: string; mapJson: string; instances: number }> = {};

  const keyArgs = (): string[] => ['--trust', path.join(pki, 'demo-root-ca.pem'), '--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem')];
  const tlsArgs = (): string[] => ['--tls-ca', path.join(pki, 'demo-root-ca.pem'), '--tls-cert', path.join(pki, 'tls-client.pem'), '--tls-key', path.join(pki, 'tls-client.key')];
  /** TLS options against the openssl-made test PKI (client certificate from its CA `ca`). */
  const testTlsArgs = (): string[] => ['--tls-ca', path.join(test, 'ca.crt'), '--tls-cert', path.join(test, 'client.crt'), '--tls-key', path.join(test, 'client.key')];
  const cli = `node ${JSON.stringify(CLI)}`;
  const storescpTls = (out: string, port: number, extra = ''): string =>
    `storescp +tls ${path.join(pki, 'tls-server.key')} ${path.join(pki, 'tls-server.pem')} +cf ${path.join(pki, 'demo-root-ca.pem')} --require-peer-cert +xa -pm -od ${out} ${extra} ${port}`;
  const reconcileArgs = (name: string): string[] =>
    name === 'samples' ? ['--reconcile-map', media[name]!.map] : ['--patient-id', 'LOCAL-CORPUS', '--issuer', 'OURHOSP', '--confirm-multiple-patients'];
  const importArgs = (name: string, port: number, aec: string, journal: string): string =>
    ['import', media[name]!.path, ...keyArgs(), '--to', `127.0.0.1:${port}`, '--aec', aec, ...tlsArgs(), ...reconcileArgs(name), '--journal', journal, '--json']
      .map((a) => JSON.stringify(a))
      .join(' ');

  function checkReceived(received: string, name: string): Json {
    const r = run(PYTHON, [CHECK, received, media[name]!.extracted, media[name]!.mapJson]);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  }

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm test builds)`);
    const samples = path.join(dir, 'samples');
    expect(dcmsafe(['samples', '--out', samples]).status).toBe(0);
    expect(dcmsafe(['pki', 'demo', '--out', pki]).status).toBe(0);
    mkdirSync(test);
    makeTestPki(test);
    const secure = ['--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')];
    let r = dcmsafe(['create', samples, '--media', 'cd', '--out', samplesMedia, ...secure]);
    expect(r.status, r.stderr).toBe(0);
    r = dcmsafe(['create', ...CORPUS_MEDIA_FOLDERS.map((f) => path.join(CORPUS, f)), '--media', 'folder', '--out', corpusMedia, '--skip-invalid', ...secure]);
    expect(r.status, r.stderr).toBe(0);
    r = dcmsafe(['create', ...CORPUS_MEDIA_FOLDERS.map((f) => path.join(CORPUS, f)), '--media', 'folder', '--profile', 'STD-GEN-DVD-JPEG', '--out', jpegMedia, '--skip-invalid', ...secure]);
    expect(r.status, r.stderr).toBe(0);
    for (const [name, where] of [
      ['samples', samplesMedia],
      ['corpus', corpusMedia],
      ['jpeg', jpegMedia],
    ] as const) {
      const extracted = path.join(dir, `${name}-extracted`);
      const v = dcmsafe(['verify', where, ...keyArgs(), '--extract', extracted, '--json']);
      expect(v.status, v.stdout.slice(0, 2000)).toBe(0);
      const report = JSON.parse(v.stdout);
      // Samples: one local ID per foreign patient (IHE IRWF), LOCAL-1, LOCAL-2... issued by OURHOSP, with
      // a map. Corpus: some instances have no Patient ID at all, which no map row can name, so the whole
      // medium goes under one local ID (--patient-id with --confirm-multiple-patients).
      const mapping: Record<string, { patientId: string; issuer: string }> = {};
      const rows = ['foreign_patient_id,foreign_issuer,patient_id,issuer'];
      report.patients.forEach((p: Json, i: number) => {
        const local = name === 'samples' ? `LOCAL-${i + 1}` : 'LOCAL-CORPUS';
        mapping[p.patientId] = { patientId: local, issuer: 'OURHOSP' };
        rows.push(`"${String(p.patientId).replace(/"/g, '""')}",,${local},OURHOSP`);
      });
      const map = path.join(dir, `${name}-map.csv`);
      writeFileSync(map, `${rows.join('\n')}\n`);
      const mapJson = path.join(dir, `${name}-map.json`);
      writeFileSync(mapJson, JSON.stringify(mapping));
      media[name] = { path: where, extracted, map, mapJson, instances: report.summary.instances };
    }
    expect(media.samples!.instances).toBeGreaterThan(20);
    expect(media.corpus!.instances).toBeGreaterThan(50);
  }, 300_000);

  it('storescp over TLS with client certificates receives every instance, reconciled, pixels identical; echo answers', () => {
    const out = path.join(dir, 'storescp');
    const script = `
      mkdir -p ${out}/samples ${out}/corpus
      ${storescpTls(`${out}/samples`, 2762)} > ${out}/storescp-samples.log 2>&1 &
      ${storescpTls(`${out}/corpus`, 2763)} > ${out}/storescp-corpus.log 2>&1 &
      ${waitPort(2762)}; ${waitPort(2763)}
      ${cli} echo 127.0.0.1:2762 --aec STORESCP ${tlsArgs().join(' ')} > ${out}/echo.txt 2>&1; echo "echo=$?"
      ${cli} ${importArgs('samples', 2762, 'STORESCP', `${out}/samples.journal`)} > ${out}/samples.json 2> ${out}/samples.err; echo "samples=$?"
      ${cli} ${importArgs('corpus', 2763, 'STORESCP', `${out}/corpus.journal`)} > ${out}/corpus.json 2> ${out}/corpus.err; echo "corpus=$?"
      ${cli} ${importArgs('samples', 2762, 'STORESCP', `${out}/samples.journal`)} > ${out}/samples-again.json 2> ${out}/samples-again.err; echo "again=$?"
      # A PACS that takes only uncompressed syntaxes (storescp's default): compressed files go decoded.
      mkdir -p ${out}/native
      TCP_NODELAY=1 storescp +tls ${path.join(pki, 'tls-server.key')} ${path.join(pki, 'tls-server.pem')} +cf ${path.join(pki, 'demo-root-ca.pem')} --require-peer-cert -pm -od ${out}/native 2764 > ${out}/storescp-native.log 2>&1 &
      ${waitPort(2764)}
      ${cli} ${importArgs('jpeg', 2764, 'STORESCP', `${out}/native.journal`)} > ${out}/native.json 2> ${out}/native.err; echo "native=$?"
    `;
    const r = runInNetns(script, env);
    expect(r.stdout, r.stderr).toMatch(/echo=0/);
    expect(readFileSync(path.join(out, 'echo.txt'), 'utf8')).toMatch(/^OK: C-ECHO to STORESCP@127\.0\.0\.1:2762 \(TLS\)/);
    for (const name of ['samples', 'corpus']) {
      expect(r.stdout, readFileSync(path.join(out, `${name}.err`), 'utf8')).toMatch(new RegExp(`${name}=0`));
      const report = JSON.parse(readFileSync(path.join(out, `${name}.json`), 'utf8'));
      expect(report.failed).toEqual([]);
      expect(report.skipped).toEqual([]);
      // A Color Palette (corpus) belongs to no patient: listed, not sent; everything else is sent.
      const notPatientData = (report.notPatientData as Json[]).map((i) => i.sopInstanceUID as string).sort();
      expect(notPatientData.length).toBeLessThan(3);
      const expected = media[name]!.instances - notPatientData.length;
      expect(report.stored).toHaveLength(expected);
      const check = checkReceived(path.join(out, name), name);
      expect(check.problems).toEqual([]);
      expect(check.missing).toEqual(notPatientData);
      expect(check.received).toBe(expected);
      expect(check.unique).toBe(expected);
      expect(check.pixelsCompared).toBeGreaterThan(media[name]!.instances / 2);
    }
    // Decoded for a PACS without compressed syntaxes: every instance arrives, in an uncompressed syntax.
    expect(r.stdout, readFileSync(path.join(out, 'native.err'), 'utf8')).toMatch(/native=0/);
    const native = checkReceived(path.join(out, 'native'), 'jpeg');
    expect(native.problems).toEqual([]);
    const nativeReport = JSON.parse(readFileSync(path.join(out, 'native.json'), 'utf8'));
    expect(nativeReport.failed).toEqual([]);
    expect(native.received).toBe(media.jpeg!.instances - nativeReport.notPatientData.length);
    const uncompressed = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2']);
    const pairs = Object.entries(native.syntaxes as Record<string, number>);
    for (const [pair] of pairs) expect(uncompressed.has(pair.split('>')[1]!), pair).toBe(true);
    expect(pairs.filter(([pair]) => !uncompressed.has(pair.split('>')[0]!) && pair.split('>')[0] !== '1.2.840.10008.1.2.1.99').reduce((n, [, k]) => n + k, 0)).toBeGreaterThanOrEqual(5);
    // A finished import, run again, sends nothing.
    expect(r.stdout).toMatch(/again=0/);
    const again = JSON.parse(readFileSync(path.join(out, 'samples-again.json'), 'utf8'));
    expect(again.stored).toEqual([]);
    expect(again.alreadyStored).toHaveLength(media.samples!.instances);
  }, 600_000);

  it('Orthanc with DICOM TLS receives the same; its REST API counts the instances and the coerced Patient IDs', () => {
    const out = path.join(dir, 'orthanc');
    mkdirSync(out);
    const config = {
      Name: 'dcmsafe-test',
      StorageDirectory: path.join(out, 'storage'),
      IndexDirectory: path.join(out, 'index'),
      DicomAet: 'ORTHANC',
      DicomPort: 2762,
      DicomCheckCalledAet: true,
      HttpPort: 8042,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      UnknownSopClassAccepted: true,
      DicomTlsEnabled: true,
      DicomTlsCertificate: path.join(pki, 'tls-server.pem'),
      DicomTlsPrivateKey: path.join(pki, 'tls-server.key'),
      DicomTlsTrustedCertificates: path.join(pki, 'demo-root-ca.pem'),
      DicomTlsRemoteCertificateRequired: true,
      Plugins: [],
    };
    writeFileSync(path.join(out, 'orthanc.json'), JSON.stringify(config, null, 2));
    const script = `
      Orthanc ${out}/orthanc.json > ${out}/orthanc.log 2>&1 &
      ${waitPort(2762)}; ${waitPort(8042)}
      ${cli} echo 127.0.0.1 --aec ORTHANC ${tlsArgs().join(' ')} > ${out}/echo.txt 2>&1; echo "echo=$?"
      ${cli} ${importArgs('samples', 2762, 'ORTHANC', `${out}/samples.journal`)} > ${out}/samples.json 2> ${out}/samples.err; echo "samples=$?"
      ${cli} ${importArgs('corpus', 2762, 'ORTHANC', `${out}/corpus.journal`)} > ${out}/corpus.json 2> ${out}/corpus.err; echo "corpus=$?"
      curl -s http://127.0.0.1:8042/statistics > ${out}/statistics.json
      curl -s 'http://127.0.0.1:8042/patients?expand' > ${out}/patients.json
    `;
    const r = runInNetns(script, env);
    expect(r.stdout, r.stderr).toMatch(/echo=0/);
    expect(readFileSync(path.join(out, 'echo.txt'), 'utf8')).toMatch(/^OK: C-ECHO to ORTHANC@127\.0\.0\.1:2762 \(TLS\)/);
    for (const name of ['samples', 'corpus']) {
      expect(r.stdout, `${readFileSync(path.join(out, `${name}.err`), 'utf8')}\n${readFileSync(path.join(out, 'orthanc.log'), 'utf8').slice(-3000)}`).toMatch(new RegExp(`${name}=0`));
    }
    const stats = JSON.parse(readFileSync(path.join(out, 'statistics.json'), 'utf8'));
    const stored = ['samples', 'corpus'].map((name) => JSON.parse(readFileSync(path.join(out, `${name}.json`), 'utf8')));
    for (const r of stored) expect(r.failed).toEqual([]);
    expect(stored[0].stored).toHaveLength(media.samples!.instances);
    expect(stored[1].stored.length + stored[1].notPatientData.length).toBe(media.corpus!.instances);
    expect(stats.CountInstances).toBe(stored[0].stored.length + stored[1].stored.length);
    const patients = JSON.parse(readFileSync(path.join(out, 'patients.json'), 'utf8')) as Json[];
    const ids = new Set(patients.map((p) => p.MainDicomTags.PatientID as string));
    const expected = new Set<string>();
    for (const name of ['samples', 'corpus']) for (const v of Object.values(JSON.parse(readFileSync(media[name]!.mapJson, 'utf8')) as Json[])) expected.add(v.patientId);
    expect(ids).toEqual(expected);
  }, 600_000);

  it('refuses, exit 4 and nothing stored: unknown CA, name mismatch, TLS 1.1 only, plain peer, wrong called AE', () => {
    const out = path.join(dir, 'refusals');
    const recv = (n: string): string => `${out}/recv-${n}`;
    const attempt = (name: string, port: number, aec: string, extra: string[] = []): string =>
      `${cli} import ${[samplesMedia, ...keyArgs(), '--to', `127.0.0.1:${port}`, '--aec', aec, ...testTlsArgs(), ...extra, '--reconcile-map', media.samples!.map, '--journal', `${out}/${name}.journal`, '--retries', '0']
        .map((a) => JSON.stringify(a))
        .join(' ')} > ${out}/${name}.out 2>&1; echo "${name}=$?"`;
    const script = `
      mkdir -p ${recv('ca')} ${recv('name')} ${recv('plain')} ${recv('ae')}
      # a server certificate from a CA the client does not trust
      storescp +tls ${test}/rogue.key ${test}/rogue.crt +cf ${test}/ca.crt --require-peer-cert +xa -od ${recv('ca')} 3001 > /dev/null 2>&1 &
      # the right CA, but a certificate for 127.0.0.2 and pacs.example
      storescp +tls ${test}/wrongip.key ${test}/wrongip.crt +cf ${test}/ca.crt --require-peer-cert +xa -od ${recv('name')} 3002 > /dev/null 2>&1 &
      # TLS 1.1 only
      openssl s_server -accept 3003 -cert ${test}/server.crt -key ${test}/server.key -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' -quiet > /dev/null 2>&1 &
      # plain DICOM
      storescp +xa -od ${recv('plain')} 3004 > /dev/null 2>&1 &
      # Orthanc checks the called AE title
      Orthanc ${out}/orthanc.json > ${out}/orthanc.log 2>&1 &
      ${waitPort(3001)}; ${waitPort(3002)}; ${waitPort(3003)}; ${waitPort(3004)}; ${waitPort(3005)}
      ${attempt('unknownCA', 3001, 'STORESCP')}
      ${attempt('nameMismatch', 3002, 'STORESCP')}
      ${attempt('tls11', 3003, 'STORESCP')}
      ${attempt('plain', 3004, 'STORESCP')}
      ${attempt('wrongAE', 3005, 'NOT-ORTHANC')}
      ${cli} echo 127.0.0.1:3005 --aec NOT-ORTHANC ${testTlsArgs().join(' ')} > ${out}/echo-wrongAE.out 2>&1; echo "echoWrongAE=$?"
      curl -s http://127.0.0.1:8043/statistics > ${out}/statistics.json
    `;
    mkdirSync(out);
    // Orthanc for the wrong-AE case: TLS on 3005, REST on 8043.
    writeFileSync(
      path.join(out, 'orthanc.json'),
      JSON.stringify({
        Name: 'refusals',
        StorageDirectory: path.join(out, 'storage'),
        IndexDirectory: path.join(out, 'index'),
        DicomAet: 'ORTHANC',
        DicomPort: 3005,
        DicomCheckCalledAet: true,
        HttpPort: 8043,
        RemoteAccessAllowed: false,
        AuthenticationEnabled: false,
        DicomTlsEnabled: true,
        DicomTlsCertificate: path.join(test, 'server.crt'),
        DicomTlsPrivateKey: path.join(test, 'server.key'),
        DicomTlsTrustedCertificates: path.join(test, 'ca.crt'),
        DicomTlsRemoteCertificateRequired: true,
        Plugins: [],
      }),
    );
    const r = runInNetns(script, env);
    const output = (name: string): string => readFileSync(path.join(out, `${name}.out`), 'utf8');
    const expectRefused = (name: string, pattern: RegExp): void => {
      expect(r.stdout, output(name)).toMatch(new RegExp(`${name}=4`));
      expect(output(name)).toMatch(pattern);
      expect(output(name)).toMatch(/NOT stored/);
      // Nothing acknowledged, so the journal is empty or absent.
      const journal = path.join(out, `${name}.journal`);
      expect(existsSync(journal) ? readFileSync(journal, 'utf8').trim() : '').toBe('');
    };
    expectRefused('unknownCA', /NET_TLS.*not issued by a trusted CA/);
    expectRefused('nameMismatch', /NET_TLS.*does not match the expected name/);
    expectRefused('tls11', /NET_TLS.*protocol version/);
    expectRefused('plain', /NET_TLS/);
    expectRefused('wrongAE', /NET_ASSOCIATION.*called AE title not recognized/i);
    expect(r.stdout).toMatch(/echoWrongAE=4/);
    for (const n of ['ca', 'name', 'plain']) expect(readdirSync(recv(n))).toEqual([]);
    expect(JSON.parse(readFileSync(path.join(out, 'statistics.json'), 'utf8')).CountInstances).toBe(0);
  }, 600_000);

  it('fault: the receiver is killed mid-import and restarted; the re-run completes the set, nothing is sent twice', () => {
    const out = path.join(dir, 'fault');
    const journal = `${out}/journal.jsonl`;
    // Kill -9 storescp as soon as the journal holds 5 acknowledged instances.
    const script = `
      mkdir -p ${out}/recv
      ${storescpTls(`${out}/recv`, 2762)} > ${out}/storescp-1.log 2>&1 &
      SCP=$!
      ${waitPort(2762)}
      ( until [ -f ${journal} ] && [ "$(wc -l < ${journal})" -ge 5 ]; do sleep 0.01; done; kill -9 $SCP ) &
      ${cli} ${importArgs('samples', 2762, 'STORESCP', journal)} --retries 1 > ${out}/run-1.json 2> ${out}/run-1.err; echo "run1=$?"
      wc -l < ${journal} > ${out}/after-1.count
      ${storescpTls(`${out}/recv`, 2762, '-v')} > ${out}/storescp-2.log 2>&1 &
      ${waitPort(2762)}
      ${cli} ${importArgs('samples', 2762, 'STORESCP', journal)} > ${out}/run-2.json 2> ${out}/run-2.err; echo "run2=$?"
    `;
    const r = runInNetns(script, env);
    expect(r.stdout, `${r.stderr}\n${readFileSync(path.join(out, 'run-1.err'), 'utf8')}`).toMatch(/run1=4/);
    const run1 = JSON.parse(readFileSync(path.join(out, 'run-1.json'), 'utf8'));
    expect(run1.stored.length).toBeGreaterThanOrEqual(5);
    expect(run1.stored.length).toBeLessThan(media.samples!.instances);
    expect(run1.failed.length).toBe(media.samples!.instances - run1.stored.length);
    expect(readFileSync(path.join(out, 'run-1.err'), 'utf8')).toMatch(/retry 1/);
    expect(r.stdout, readFileSync(path.join(out, 'run-2.err'), 'utf8')).toMatch(/run2=0/);
    const run2 = JSON.parse(readFileSync(path.join(out, 'run-2.json'), 'utf8'));
    // The second run sends exactly what the first did not get acknowledged.
    expect(run2.alreadyStored.map((i: Json) => i.sopInstanceUID).sort()).toEqual(run1.stored.map((i: Json) => i.sopInstanceUID).sort());
    expect(run2.stored).toHaveLength(media.samples!.instances - run1.stored.length);
    const sent2 = new Set(run2.stored.map((i: Json) => i.sopInstanceUID));
    for (const i of run1.stored) expect(sent2.has(i.sopInstanceUID)).toBe(false);
    // storescp (second life) received only those.
    const received2 = (readFileSync(path.join(out, 'storescp-2.log'), 'utf8').match(/Received Store Request/g) ?? []).length;
    expect(received2).toBe(run2.stored.length);
    // The journal: every instance exactly once.
    const lines = readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l).sopInstanceUID as string);
    expect(lines).toHaveLength(media.samples!.instances);
    expect(new Set(lines).size).toBe(media.samples!.instances);
    const check = checkReceived(path.join(out, 'recv'), 'samples');
    expect(check.missing).toEqual([]);
    expect(check.problems).toEqual([]);
  }, 600_000);

  it('stops before sending when one local ID would cover several patients, or the demographics disagree', () => {
    const base = ['import', samplesMedia, ...keyArgs(), '--to', '127.0.0.1:9', '--aec', 'PACS', ...tlsArgs(), '--journal', path.join(dir, 'never.journal')];
    let r = dcmsafe([...base, '--patient-id', 'L1', '--issuer', 'OURHOSP'], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/RECONCILE_CONFLICT: the medium holds 2 patients .*--confirm-multiple-patients/);
    const patientB = path.join(dir, 'patient-b.iso');
    expect(dcmsafe(['create', path.join(dir, 'samples', 'patient-b'), '--media', 'cd', '--out', patientB, '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')]).status).toBe(0);
    const one = ['import', patientB, ...keyArgs(), '--to', '127.0.0.1:9', '--aec', 'PACS', ...tlsArgs(), '--journal', path.join(dir, 'never.journal')];
    r = dcmsafe([...one, '--patient-id', 'L1', '--issuer', 'OURHOSP', '--patient-name', 'Müller^Jürgen', '--birth-date', '19520908'], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/birth date .* is 19520907, the local one given is 19520908.*--confirm-demographics/);
    r = dcmsafe([...one, '--patient-id', 'L1', '--issuer', 'OURHOSP', '--patient-name', 'Mueller^Juergen'], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/the local name given is "Mueller\^Juergen".*--confirm-demographics/);
    // Confirmed, it goes on to the network (nothing listens on port 9 here): exit 4.
    r = dcmsafe([...one, '--patient-id', 'L1', '--issuer', 'OURHOSP', '--patient-name', 'Mueller^Juergen', '--confirm-demographics', '--retries', '0'], env);
    expect(r.status, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/NET_CONNECT/);
    expect(listFiles(dir).some((f) => f.endsWith('never.journal') && readFileSync(f, 'utf8').trim() !== '')).toBe(false);
  }, 300_000);
});
