/**
 * Our DICOM network layer against dcmtk 3.6.7 and OpenSSL 3 (PS3.8 upper layer, PS3.7 C-ECHO and
 * C-STORE, PS3.15 B.12/B.13 TLS):
 * - C-ECHO to storescp, plain and `+tls --require-peer-cert`; no or a foreign client certificate is NET_TLS;
 * - C-STORE of corpus files (explicit and implicit VR, JPEG, deflated) to storescp `+B` over TLS and plain:
 *   each arrives with its own transfer syntax and the same data set bytes;
 * - storescu and echoscu over TLS to our SCP: the files it writes are valid (dcmdump) and hold the same
 *   data set (dcmdump, less the trailing padding storescu drops); a foreign client certificate and a wrong called AE title are refused;
 * - refusals: unknown CA, name mismatch (and a matching --tls-servername override), a TLS 1.1-only peer,
 *   a plain DICOM peer and a silent one when TLS is asked (within the timeout), a wrong called AE title
 *   (dcmqrscp checks it), nobody listening.
 *
 * Each scenario runs in its own network and PID namespace (`unshare --net --pid --fork`, only `lo` up),
 * as a node script using the built dist/ (npm test builds first): servers never listen outside it and
 * die with it. Without `unshare` rights the suite is skipped loudly (fails under DCMSAFE_REQUIRE_TOOLS=1).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { readPart10File } from '../../src/dicom/part10/header.js';
import { TLS12_CIPHERS, TLS13_CIPHERS } from '../../src/net/transport.js';
import { CORPUS, REPO, run, tempDir } from '../helpers/env.js';
import { describeInNetns, makeTestPki } from '../helpers/netns.js';

const SCENARIO = path.join(REPO, 'test/interop/net/scenario.mjs');
const DIST_CLIENT = path.join(REPO, 'dist/net/client.js');
const DEFLATED = '1.2.840.10008.1.2.1.99';
const FILES = ['ct/CT_small.dcm', 'mr/MR_small.dcm', 'ct/CT0012.fragmented_no_bot_jpeg_baseline.51.dcm', 'transfer-syntax/image_dfl.dcm', 'rt/rtplan.dcm'].map((f) =>
  path.join(CORPUS, f),
);

interface Attempt<T = unknown> {
  ok: boolean;
  ms: number;
  value?: T;
  code?: string;
  reason?: string;
  message?: string;
  data?: Record<string, unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function runScenario(config: Record<string, unknown>): Json {
  const r = run('unshare', ['--net', '--pid', '--fork', 'sh', '-c', 'ip link set lo up && exec node "$0" "$1"', SCENARIO, JSON.stringify(config)], {
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  let result: Json;
  try {
    result = JSON.parse(line);
  } catch {
    throw new Error(`scenario ${String(config.scenario)} printed no result (status ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
  if (result.error) throw new Error(`scenario ${String(config.scenario)} failed: ${result.error}\n${JSON.stringify(result.serverOutput)}`);
  return result;
}

/** The data set bytes of a Part 10 file (after its File Meta Information). */
async function dataSetBytes(file: string): Promise<{ ts: string; bytes: Buffer }> {
  const h = await readPart10File(file);
  return { ts: h.transferSyntax.uid, bytes: readFileSync(file).subarray(h.dataSetOffset) };
}

/** What the receiver must hold: the same bytes, plus the pad byte of an odd deflated data set (PS3.5 A.5). */
async function expectedDataSet(file: string): Promise<{ ts: string; bytes: Buffer }> {
  const d = await dataSetBytes(file);
  return d.ts === DEFLATED && d.bytes.length % 2 === 1 ? { ts: d.ts, bytes: Buffer.concat([d.bytes, Buffer.from([0])]) } : d;
}

const ALLOWED_CIPHERS: readonly string[] = [...TLS13_CIPHERS, ...TLS12_CIPHERS];

describeInNetns(['unshare', 'ip', 'storescp', 'storescu', 'echoscu', 'dcmqrscp', 'dcmdump', 'openssl'], 'DICOM network layer against dcmtk and OpenSSL', () => {
  const dir = tempDir('dcmsafe-net-dcmtk-');
  const pki = path.join(dir, 'pki');

  beforeAll(() => {
    if (!existsSync(DIST_CLIENT)) throw new Error(`${DIST_CLIENT} is missing: build first (npx tsc -p tsconfig.build.json)`);
    mkdirSync(pki);
    makeTestPki(pki);
  });

  it('C-ECHO to storescp, plain and over TLS with client certificates required', () => {
    const r = runScenario({ scenario: 'echo', pki, out: path.join(dir, 'echo') });
    expect(r.plain).toMatchObject({ ok: true, value: { ok: true, status: 0 } });
    expect(r.plain.value.peer.implementationVersionName).toMatch(/^OFFIS_DCMTK/);
    expect(r.tls).toMatchObject({ ok: true, value: { ok: true, status: 0 } });
    expect(['TLSv1.2', 'TLSv1.3']).toContain(r.tls.value.peer.tls.protocol);
    expect(ALLOWED_CIPHERS).toContain(r.tls.value.peer.tls.cipher);
    expect(r.tls.value.peer.tls.peerSubject).toBe('CN=server');
    for (const refused of [r.tlsWithoutClientCert, r.tlsRogueClientCert] as Attempt[]) {
      expect(refused).toMatchObject({ ok: false, code: 'NET_TLS' });
      expect(refused.message).toMatch(/client certificate|handshake/);
    }
  });

  it('C-STORE to storescp: each file in its own transfer syntax, data set bytes identical (TLS and plain)', async () => {
    const out = path.join(dir, 'store');
    const r = runScenario({ scenario: 'store', pki, out, files: FILES });
    expect(r.tls.ok, r.tls.message).toBe(true);
    expect(r.tls.value.peer.tls.protocol).toMatch(/^TLSv1\.[23]$/);
    const results = r.tls.value.results as Json[];
    expect(results).toHaveLength(FILES.length);
    const written = readdirSync(path.join(out, 'tls'));
    for (const [k, file] of FILES.entries()) {
      const info = r.infos[k];
      const res = results[k];
      expect(res.result, file).toEqual({ status: 0, category: 'success', meaning: '0000 success' });
      expect(res.transferSyntaxUID).toBe(info.transferSyntaxUID);
      // storescp names files MODALITY.SOPInstanceUID
      const name = written.find((n) => n.endsWith(`.${info.sopInstanceUID}`));
      expect(name, `${file} arrived`).toBeDefined();
      const got = await dataSetBytes(path.join(out, 'tls', name!));
      const want = await expectedDataSet(file);
      expect(got.ts).toBe(want.ts);
      expect(got.bytes.equals(want.bytes), `${file}: data set bytes`).toBe(true);
    }
    expect(r.plain).toMatchObject({ ok: true, value: { results: [{ result: { category: 'success' } }] } });
    expect(readdirSync(path.join(out, 'plain'))).toHaveLength(1);
  });

  it('storescu and echoscu over TLS to our SCP: valid files, same data sets; foreign certificates and wrong AE refused', async () => {
    const out = path.join(dir, 'scp');
    const uncompressed = [FILES[0]!, FILES[1]!, FILES[4]!];
    const jpeg12 = [FILES[2]!];
    const r = runScenario({
      scenario: 'scp',
      pki,
      out,
      scuRuns: [
        { args: [], files: uncompressed },
        { args: ['-xx'], files: jpeg12 },
      ],
    });
    expect(r.storescu.map((s: Json) => s.status), JSON.stringify(r.storescu)).toEqual([0, 0]);
    expect(r.echoscu.status).toBe(0);
    expect(r.rogue.status).not.toBe(0);
    expect(r.stats.tlsFailures).toBeGreaterThanOrEqual(1);
    expect(r.wrongAE.status).not.toBe(0);
    expect(r.wrongAE.output).toMatch(/Called AE Title Not Recognized/);
    expect(r.stats).toMatchObject({ stored: 4, failed: 0, echoes: 1, rejected: 1 });
    const files = readdirSync(r.dir as string);
    expect(files.filter((n) => n.endsWith('.part'))).toEqual([]);
    for (const file of [...uncompressed, ...jpeg12]) {
      const h = await readPart10File(file);
      const uid = h.dataSet.string(0x00080018)!;
      const written = path.join(r.dir as string, `${uid}.dcm`);
      expect(existsSync(written), `${file} arrived as ${uid}.dcm`).toBe(true);
      const dump = run('dcmdump', ['-q', '-E', written]);
      expect(dump.status, dump.stderr).toBe(0);
      expect(dump.stdout).toMatch(/\(0002,0012\) UI \[2\.25\.265591359563690912222167575563655766066\]/); // our Implementation Class UID
      expect(dump.stdout).toMatch(/\(0002,0016\) AE \[STORESCU\]/); // Source AE: the calling AE title
      // storescu proposes Explicit and Implicit VR LE for uncompressed files and our SCP prefers Explicit VR LE,
      // so an implicit VR file arrives converted by storescu; compressed files keep their syntax.
      const expectedTs = h.transferSyntax.uid === '1.2.840.10008.1.2' ? '1.2.840.10008.1.2.1' : h.transferSyntax.uid;
      expect((await readPart10File(written)).transferSyntax.uid).toBe(expectedTs);
      // storescu re-encodes what it sends (it drops Data Set Trailing Padding): compare the dumps.
      const content = (f: string): string[] =>
        run('dcmdump', ['-q', '+L', f])
          .stdout.split('\n')
          .filter((l) => !l.startsWith('(0002,') && !l.startsWith('(fffc,fffc)') && !l.startsWith('# Used TransferSyntax'))
          .map((l) => l.replace(/#\s*\d+,/, '#')); // sequence and item lengths differ between implicit and explicit VR
      expect(content(written), file).toEqual(content(file));
    }
  });

  it('refuses: unknown CA, name mismatch, TLS 1.1, plain or silent peer, wrong called AE; connects with a matching servername', () => {
    const r = runScenario({ scenario: 'refusals', pki, out: path.join(dir, 'refusals') });
    const expectRefusal = (a: Attempt, code: string, reason: string | undefined, pattern: RegExp): void => {
      expect(a, JSON.stringify(a)).toMatchObject({ ok: false, code });
      if (reason) expect(a.reason).toBe(reason);
      expect(a.message).toMatch(pattern);
    };
    expectRefusal(r.unknownCA, 'NET_TLS', 'unknown-ca', /not issued by a trusted CA/);
    expectRefusal(r.nameMismatch, 'NET_TLS', 'name-mismatch', /does not match the expected name.*127\.0\.0\.1/);
    expectRefusal(r.servernameMismatch, 'NET_TLS', 'name-mismatch', /pacs\.example/);
    expect(r.servernameOverride).toMatchObject({ ok: true, value: { ok: true } });
    expectRefusal(r.tls11Only, 'NET_TLS', 'protocol-version', /protocol version/);
    expectRefusal(r.plainPeer, 'NET_TLS', undefined, /TLS/);
    expect(r.plainPeer.ms).toBeLessThan(3500);
    expectRefusal(r.silentPeer, 'NET_TLS', 'handshake-timeout', /did not complete within 1500 ms/);
    expect(r.silentPeer.ms).toBeLessThan(3000);
    expectRefusal(r.wrongCalledAE, 'NET_ASSOCIATION', undefined, /called AE title not recognized/);
    expect(r.rightCalledAE).toMatchObject({ ok: true, value: { ok: true } });
    expectRefusal(r.refused, 'NET_CONNECT', undefined, /connection refused/);
  });
});
