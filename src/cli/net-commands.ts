/**
 * `dcmsafe echo` and `dcmsafe import`: the DICOM network commands (PS3.7 C-ECHO and C-STORE over
 * PS3.15 B.12/B.13 TLS). Argument parsing and printing only; the work is in src/net and
 * src/pipelines/import-media.ts.
 */
import { leanHeap } from '../util/heap.js';
import type { Command } from 'commander';
import { EXIT } from '../errors/index.js';
import { echo } from '../net/client.js';
import { importAudited } from '../app/import.js';
import { DEFAULT_CALLING_AE, describePeer, peerOptions, usage, type Opts } from '../app/peers.js';
import type { LocalIdentity } from '../dicom/reconcile/index.js';
import type { ImportEvent, ImportReport } from '../pipelines/import-media.js';
import { loadReconcileMap } from '../pipelines/reconcile-map.js';
import type { Policy } from '../pipelines/verify-report.js';
import { clockFromEnvironment } from '../util/clock.js';
import { visible } from '../report/verify-text.js';
import { addVerifyOptions, resolveKeys, resolveTrust, verifyFlags } from './verify-options.js';
import { auditNodeRefused } from '../audit/events.js';
import type { AuditTrail } from '../audit/trail.js';
import type { Config } from '../config/config.js';
import { isDcmsafeError } from '../errors/index.js';

export interface CliContext {
  setJson(json: boolean): void;
  setExitCode(code: number): void;
  print(value: unknown): void;
  json(): boolean;
}

export function addPeerOptions(cmd: Command): Command {
  return cmd
    .option('--tls', 'DICOM over TLS 1.2/1.3 (PS3.15 B.12/B.13); implied by any --tls-* option')
    .option('--tls-ca <pem>', "CA certificate(s) the peer's certificate must chain to")
    .option('--tls-cert <pem>', 'our client certificate (chain allowed), for mutual authentication')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM; encrypted PEM asks for its passphrase)')
    .option('--tls-key-passphrase-file <file>', 'passphrase of --tls-key (else $DCMSAFE_TLS_KEY_PASSPHRASE, else a prompt)')
    .option('--tls-servername <name>', "the name (or address) the peer's certificate must carry (default: HOST)")
    .option('--aec <ae>', 'called AE title (the peer\'s)')
    .option('--aet <ae>', `calling AE title (ours; default ${DEFAULT_CALLING_AE})`, DEFAULT_CALLING_AE)
    .option('--timeout <seconds>', 'connect, handshake and response timeout in seconds (default 30)');
}

/** The local identity of --patient-id and friends, checked for form before anything is read. */
export function localIdentity(opts: Opts): LocalIdentity | undefined {
  const given = ['patientId', 'issuer', 'patientName', 'birthDate', 'sex', 'accession', 'accessionIssuer'].filter((k) => opts[k] !== undefined);
  if (given.length === 0) return undefined;
  if (opts.patientId === undefined || opts.issuer === undefined) throw usage('reconciliation needs both --patient-id and --issuer (the local Patient ID and its assigning authority)');
  if (opts.reconcileMap !== undefined) throw usage('--reconcile-map and --patient-id are alternatives: give one');
  const birthDate = opts.birthDate as string | undefined;
  if (birthDate !== undefined && !/^\d{8}$/.test(birthDate)) throw usage(`--birth-date ${birthDate} is not YYYYMMDD`);
  const sex = opts.sex as string | undefined;
  if (sex !== undefined && !['M', 'F', 'O'].includes(sex)) throw usage(`--sex ${sex} is not M, F or O`);
  if (opts.accessionIssuer !== undefined && opts.accession === undefined) throw usage('--accession-issuer needs --accession');
  return {
    patientId: String(opts.patientId),
    issuerOfPatientId: String(opts.issuer),
    ...(opts.patientName !== undefined ? { patientName: String(opts.patientName) } : {}),
    ...(birthDate !== undefined ? { birthDate } : {}),
    ...(sex !== undefined ? { sex: sex as 'M' | 'F' | 'O' } : {}),
    ...(opts.accession !== undefined ? { accessionNumber: String(opts.accession) } : {}),
    ...(opts.accessionIssuer !== undefined ? { accessionIssuer: String(opts.accessionIssuer) } : {}),
  };
}

function importProgress(event: ImportEvent): void {
  switch (event.type) {
    case 'import-started':
      process.stderr.write(`sending ${event.instances} instance(s) to ${event.destination}\n`);
      break;
    case 'instance-stored':
      process.stderr.write(`  stored ${visible(event.file)}${event.untrusted ? ' (origin not proven)' : ''}${event.status !== 0 ? ` (status ${event.status.toString(16).toUpperCase().padStart(4, '0')})` : ''}\n`);
      break;
    case 'instance-failed':
      process.stderr.write(`  NOT stored ${event.file ? visible(event.file) : '(all remaining)'}: ${visible(event.reason)}\n`);
      break;
    case 'security-alert':
      process.stderr.write(`  SECURITY ALERT ${visible(event.file)}: ${visible(event.reason)}\n`);
      break;
    case 'retry':
      process.stderr.write(`  connection lost (${visible(event.reason)}); retry ${event.attempt} in ${Math.round(event.waitMs / 1000)} s\n`);
      break;
    default:
      break;
  }
}

/** What became of an instance that was not stored: never sent, refused, or sent without an answer. */
function failedFate(f: ImportReport['failed'][number]): string {
  if (f.status !== undefined) return ' (refused by the PACS)';
  if (f.attempted === false) return ' (not sent)';
  if (f.attempted === true) return ' (sent, not acknowledged: the PACS may hold it; a re-run sends it again)';
  return '';
}

export function formatImportReport(r: ImportReport): string {
  const lines: string[] = [];
  const v = r.verify;
  lines.push(`Medium: ${visible(v.media.path)} (${v.media.kind}) — verdict ${v.verdict}${v.passed ? '' : ' (policy fails)'}`);
  lines.push(`Destination: ${r.destination}`);
  lines.push(`Stored now: ${r.stored.length}${r.stored.some((s) => s.untrusted) ? ` (${r.stored.filter((s) => s.untrusted).length} with origin not proven, --allow-untrusted)` : ''}`);
  if (r.alreadyStored.length) lines.push(`Already stored by an earlier run: ${r.alreadyStored.length}`);
  if (r.skipped.length) {
    lines.push(`Not sent (verification or policy): ${r.skipped.length}`);
    for (const s of r.skipped) lines.push(`  ${visible(s.file)}: ${visible(s.reason ?? '')}`);
  }
  if (r.notPatientData.length) {
    lines.push(`Not imported, no patient's data: ${r.notPatientData.length}`);
    for (const s of r.notPatientData) lines.push(`  ${visible(s.file)}: ${visible(s.reason ?? '')}`);
  }
  if (r.failed.length) {
    lines.push(`NOT stored: ${r.failed.length}`);
    for (const f of r.failed) lines.push(`  ${visible(f.file)}: ${visible(f.reason ?? '')}${failedFate(f)}`);
  }
  lines.push(`Journal: ${r.journal}`);
  lines.push(
    r.exitCode === 0
      ? 'Every instance is on the PACS.'
      : r.exitCode === 4
        ? 'Some instances are not on the PACS: fix the cause and run the same command again; what is stored is not sent twice.'
        : 'Some instances were withheld by the verification (see above).',
  );
  return lines.join('\n');
}

export function addNetCommands(program: Command, ctx: CliContext & { run: () => Promise<{ config: Config; trail: AuditTrail }> }): void {
  addPeerOptions(
    program
      .command('echo')
      .description('C-ECHO: check that a DICOM peer answers (association, TLS, AE titles).')
      .argument('<host:port>', 'the peer (or the name of a PACS node of the configuration); port defaults to 2762 with TLS, 104 without'),
  )
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      `
Examples:
  dcmsafe echo pacs.example.org:2762 --aec PACS --tls --tls-ca pacs-ca.pem --tls-cert me.pem --tls-key me.key
  dcmsafe echo 127.0.0.1:11112 --aec STORESCP

Exit codes: 0 the peer answered with success, 4 it did not (connection, TLS, association, status), 2 usage.`,
    )
    .action(async (address: string, opts: Opts) => {
      ctx.setJson(opts.json === true);
      const { trail, config } = await ctx.run();
      const peer = await peerOptions(address, opts, config);
      const result = await echo(peer).catch(async (e: unknown) => {
        if (isDcmsafeError(e) && e.code === 'NET_TLS') await auditNodeRefused(trail, { host: peer.host, port: peer.port, aeTitle: peer.calledAE }, e.message);
        throw e;
      });
      const tls = result.peer.tls;
      ctx.print(
        ctx.json()
          ? { ok: result.ok, status: result.status, roundTripMs: Math.round(result.roundTripMs * 10) / 10, peer: result.peer }
          : `${result.ok ? 'OK' : 'FAILED'}: C-ECHO to ${describePeer(peer)}: status ${result.status.toString(16).toUpperCase().padStart(4, '0')} in ${result.roundTripMs.toFixed(1)} ms` +
              (tls ? `\n  ${tls.protocol} ${tls.cipher}, peer certificate ${tls.peerSubject ?? '?'}` : '') +
              (result.peer.implementationVersionName ? `\n  peer implementation ${result.peer.implementationVersionName}` : ''),
      );
      ctx.setExitCode(result.ok ? EXIT.OK : EXIT.NETWORK);
    });

  addVerifyOptions(
    addPeerOptions(
      program
        .command('import')
        .description('Verify a medium, reconcile its patient to the local one (IHE IRWF) and C-STORE it to the PACS; a re-run sends only what is missing.')
        .argument('<media>', 'a folder (mounted disc or stick), an ISO image or optical device, a FAT image, or a ZIP')
        .requiredOption('--to <host:port>', 'the PACS (or the name of a PACS node of the configuration); port defaults to 2762 with TLS, 104 without'),
    ),
  )
    .option('--patient-id <id>', 'local Patient ID (coerced into every instance; the foreign one goes to Other Patient IDs)')
    .option('--issuer <issuer>', 'local Issuer of Patient ID (assigning authority)')
    .option('--patient-name <name>', 'local Patient Name, DICOM form FAMILY^GIVEN')
    .option('--birth-date <YYYYMMDD>', 'local Patient Birth Date')
    .option('--sex <M|F|O>', 'local Patient Sex')
    .option('--accession <number>', 'local Accession Number')
    .option('--accession-issuer <issuer>', 'issuer of the local Accession Number')
    .option('--reconcile-map <file.csv>', 'map foreign Patient ID and issuer to local values (CSV, see README) instead of --patient-id')
    .option('--allow-untrusted', 'also send unsigned or untrusted instances (recorded as such in the journal and report)')
    .option('--confirm-multiple-patients', 'the medium holds several patients and that is expected')
    .option('--confirm-demographics', "the medium's name or birth date differ from the local ones given, and it is the same person")
    .option('--journal <file>', 'the import journal (default: one per destination and reconciliation under $XDG_DATA_HOME/dcmsafe/journal)')
    .option('--retries <n>', 'reconnection attempts after a dropped connection (default 5, waits doubling from 1 s)')
    .option('--json', 'print the report as one JSON document')
    .addHelpText(
      'after',
      `
Examples:
  dcmsafe import /media/cdrom --trust partners.pem --to pacs:2762 --aec PACS \\
      --tls-ca pacs-ca.pem --tls-cert desk.pem --tls-key desk.key \\
      --patient-id 12345 --issuer OURHOSP --patient-name "DOE^JANE" --birth-date 19700101
  dcmsafe import outside.zip --password-file letter.txt --to 10.0.0.5 --aec PACS --tls --tls-ca ca.pem --reconcile-map ids.csv

Exit codes: 0 everything stored, 1 some instances withheld by the verification, 4 some not stored
(network, TLS, PACS refusal; run again to send only what is missing), 3 unreadable medium, 2 usage.`,
    )
    .action(async (media: string, opts: Opts) => {
      ctx.setJson(opts.json === true);
      leanHeap();
      const local = localIdentity(opts);
      const map = opts.reconcileMap !== undefined ? await loadReconcileMap(String(opts.reconcileMap)) : undefined;
      const { config } = await ctx.run();
      const peer = await peerOptions(String(opts.to), opts, config);
      let retries: number | undefined;
      if (opts.retries !== undefined) {
        retries = Number(opts.retries);
        if (!Number.isInteger(retries) || retries < 0 || retries > 100) throw usage(`--retries ${String(opts.retries)} is not 0-100`);
      }
      const flags = verifyFlags(opts);
      if (flags.trust?.length === 0) flags.trust = [...config.trust];
      const { trail } = await ctx.run();
      const report = await importAudited(trail, peer, {
        media,
        verify: { trust: await resolveTrust(flags), keys: await resolveKeys(flags), policy: opts.policy as Policy },
        ...(local ? { local } : {}),
        ...(map ? { map } : {}),
        allowUntrusted: opts.allowUntrusted === true,
        confirmMultiplePatients: opts.confirmMultiplePatients === true,
        confirmDemographics: opts.confirmDemographics === true,
        ...(opts.journal !== undefined ? { journalFile: String(opts.journal) } : {}),
        ...(retries !== undefined ? { retries } : {}),
        clock: clockFromEnvironment(),
        // Progress goes to stderr in both modes: an import can take long, and stdout stays one document with --json.
        onEvent: importProgress,
      });
      ctx.print(ctx.json() ? report : formatImportReport(report));
      ctx.setExitCode(report.exitCode);
    });
}
