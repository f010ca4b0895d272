#!/usr/bin/env node
/**
 * The dcmsafe command line: parses arguments, runs a pipeline, prints its events and summary, and
 * maps errors to exit codes (0 ok, 1 verification failed, 2 usage, 3 bad input, 4 network, 5 internal).
 */
import { Command, CommanderError, Option } from 'commander';
import { VERSION } from '../version.js';
import { asDcmsafeError, DcmsafeError, EXIT, exitCodeForFault } from '../errors/index.js';
import { PROFILES } from '../dicom/profiles/profiles.js';
import { clockFromEnvironment } from '../util/clock.js';
import { leanHeap } from '../util/heap.js';
import { seededRandom, systemRandom } from '../util/random.js';
import { createMedia, type CreateEvent } from '../pipelines/create-media.js';
import { generateSamples } from '../samples/generate.js';
import { formatBytes, formatCreateSummary, formatGeneratedPassword, formatSamplesSummary } from './format.js';
import { resolveSecurity } from '../app/security.js';
import { resolveDeidentify } from '../app/deidentify.js';
import { addVerifyOptions, resolveKeys, resolveTrust, verifyFlags } from './verify-options.js';
import { formatVerifyReport } from '../report/verify-text.js';
import { renderHtmlReport } from '../report/html.js';
import { verifyMedia } from '../pipelines/verify-media.js';
import type { Policy } from '../pipelines/verify-report.js';
import { writeFile } from 'node:fs/promises';
import { makeDemoPki } from '../security/pki/demo.js';
import type { ContentCipher, DigestName } from '../security/cms/writer.js';
import { runDemo } from './demo.js';
import { interactiveEnvironment, requireTerminal } from '../tui/terminal.js';
import { addNetCommands, type CliContext } from './net-commands.js';
import { addAuditCommands, addGlobalOptions, openRun, type GlobalOptions } from './audit-commands.js';
import { addOperatorCommands, type SignInEvent } from './operator-commands.js';
import { applicationActivityMessage } from '../audit/messages.js';
import { auditCreate, auditCreateFailed, auditSignIn, auditVerify } from '../audit/events.js';
import type { AuditTrail } from '../audit/trail.js';
import type { Config } from '../config/config.js';
import { defaultOperatorsFile, UNKNOWN_OPERATOR } from '../operators/store.js';

/** Sizes as bytes, or with a unit: 650M, 4.7G, 25G (powers of 1000, as disc makers count). */
function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgGtT]?)$/.exec(value.trim());
  if (!m) throw new DcmsafeError('USAGE', `not a size: ${value}`, {});
  const unit = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 }[(m[2] ?? '').toLowerCase()] as number;
  return Math.floor(Number(m[1]) * unit);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface GlobalState {
  json: boolean;
  /** Set by commands whose outcome is not just success (verify: 1 when the policy fails). */
  exitCode?: number;
  /** The configuration and audit trail, opened once per run by the first command that needs them. */
  run?: Promise<{ config: Config; trail: AuditTrail }>;
  /** The commands that record Application Activity start and stop (they do audited work). */
  audited?: boolean;
}

const state: GlobalState = { json: false };

/** Commands that do audited work: Application Activity start and stop are recorded around them. */
const AUDITED_COMMANDS = new Set(['create', 'verify', 'import', 'echo', 'signin', 'add', 'remove', 'passwd']);

function progress(event: CreateEvent): void {
  if (state.json) return;
  switch (event.type) {
    case 'collected':
      process.stderr.write(`scanning ${event.files} file(s)\n`);
      break;
    case 'planned':
      process.stderr.write(`writing ${event.instances} instance(s) of ${event.patients} patient(s)${event.volumes > 1 ? ` on ${event.volumes} media` : ''}\n`);
      break;
    case 'progress':
      process.stderr.write(`  medium ${event.volume}: ${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)}\n`);
      break;
    case 'wrote-volume':
      process.stderr.write(`  medium ${event.volume} written: ${event.output}\n`);
      break;
    default:
      break;
  }
}

function print(value: unknown): void {
  process.stdout.write(typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value, null, 2)}\n`);
}

export function buildProgram(): Command {
  const program = new Command();
  // Before the subcommands are added, so they inherit it: usage errors come back as exceptions (exit 2).
  program.exitOverride();
  addGlobalOptions(program);
  const run = (): Promise<{ config: Config; trail: AuditTrail }> => (state.run ??= openRun(program.opts<GlobalOptions>()));
  const cli: CliContext = {
    setJson: (json) => {
      state.json = json;
    },
    setExitCode: (code) => {
      state.exitCode = code;
    },
    print,
    json: () => state.json,
  };
  program.hook('preAction', async (_root, action) => {
    if (!AUDITED_COMMANDS.has(action.name())) return;
    const { trail } = await run();
    state.audited = true;
    await trail.record('application-activity', (ctx) => applicationActivityMessage(ctx, { outcome: 0, action: 'start' }));
  });
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  program
    .name('dcmsafe')
    .description('Makes and checks secure DICOM removable media (CD, DVD, BD, USB, ZIP, folder).')
    .version(VERSION)
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Examples:
  dcmsafe samples --out ./samples-in           write the built-in sample studies
  dcmsafe create ./samples-in --media folder --out ./disc
  dcmsafe create study1/ study2/ --media folder --out ./disc --profile STD-GEN-USB-JPEG --json
  dcmsafe verify incoming.iso --trust senders.pem    check a medium: origin, integrity, conformance
  dcmsafe echo pacs:2762 --aec PACS --tls-ca ca.pem --tls-cert me.pem --tls-key me.key
  dcmsafe import incoming.iso --trust senders.pem --to pacs:2762 --aec PACS --tls-ca ca.pem \\
      --tls-cert me.pem --tls-key me.key --patient-id 12345 --issuer OURHOSP
  dcmsafe demo                                 samples + File-set in ./demo-output

Exit codes: 0 ok, 1 verification failed, 2 usage, 3 unreadable or invalid input, 4 network, 5 internal.`,
    );

  program
    .command('create')
    .description('Build a DICOM File-set (DICOMDIR, PS3.10 File IDs, PS3.11 profile) from studies.')
    .argument('<input...>', 'DICOM files or folders (read recursively)')
    .addOption(new Option('--media <kind>', 'medium to write').choices(['folder', 'cd', 'dvd', 'bd', 'usb', 'zip']).makeOptionMandatory())
    .requiredOption('--out <path>', 'folder (folder; usb: the mounted stick), image file (cd/dvd/bd: IMAGE.iso; usb: STICK.img; zip: FILE.zip); must not exist (folders: or be empty)')
    .option('--capacity <bytes>', 'disc capacity instead of the medium\'s, e.g. 8543666176 for DVD±R DL', parseSize)
    .option('--size <bytes>', 'USB image size (default: what the files need)', parseSize)
    .option('--replace', 'USB stick: replace a DICOM File-set already on it')
    .option('--institution <name>', 'creating institution, for README.TXT, INDEX.HTM and the label (default $DCMSAFE_INSTITUTION)')
    .option('--manifest <file>', 'also write the label/inlay text (plain media) or the patient letter (password media)')
    .option('--manifest-include-password', 'put the generated password into the patient letter (else a blank to fill in by hand)')
    .addOption(new Option('--profile <id>', 'application profile (default for folder and CD: STD-GEN-CD)').choices(PROFILES.map((p) => p.id)))
    .option('--fileset-id <id>', 'File-set ID, up to 16 of A-Z 0-9 _ (default DCMSAFE)')
    .option('--json', 'print one JSON document instead of text')
    .option('--allow-patient-mismatch', 'accept one Patient ID with different names or birth dates (merged under one PATIENT record)')
    .option('--skip-invalid', 'leave out DICOM files that cannot be read (listed) instead of refusing')
    .option('--uid-root <root>', 'UID root for the File-set UID (default: a UUID-derived 2.25 UID)')
    .option('--sign-cert <pem>', 'sign every file with this certificate (secure media)')
    .option('--sign-key <file>', 'private key of --sign-cert: PEM (PKCS#8, encrypted PKCS#8, PKCS#1) or PKCS#12')
    .option('--sign-key-passphrase-file <file>', 'read the signing key passphrase from this file (else $DCMSAFE_KEY_PASSPHRASE, else a prompt)')
    .option('--sign-chain <pem>', 'intermediate (and root) certificates to include with the signature')
    .option('--recipient <cert>', 'encrypt for this certificate (repeatable); makes the media secure', collect, [])
    .addOption(new Option('--key-transport <padding>', 'RSA key transport for --recipient').choices(['pkcs1', 'oaep']).default('pkcs1'))
    .option('--password-file <file>', 'encrypt for the password in this file (first line)')
    .option('--password-env <var>', 'encrypt for the password in this environment variable')
    .option('--generate-password', 'encrypt for a new password (at least 100 bits), printed once and stored nowhere')
    .addOption(new Option('--cipher <cipher>', 'content encryption (des-ede3 is legacy, for old readers only)').choices(['aes128', 'aes192', 'aes256', 'des-ede3']).default('aes256'))
    .addOption(new Option('--digest <digest>', 'digest of the signature or DigestedData; with --dicom-signature, the MAC algorithm').choices(['sha256', 'sha384', 'sha512']).default('sha256'))
    .option('--dicom-signature', 'sign inside every data set (DICOM Digital Signature, PS3.15 Annex C) with --sign-cert/--sign-key: the media stay plain, readable by every viewer')
    .addOption(new Option('--signature-profile <profile>', 'with --dicom-signature: Base RSA, Creator RSA or Authorization RSA profile (PS3.15 C.1-C.3)').choices(['base', 'creator', 'authorization']))
    .option('--deidentify', 'de-identify every instance (PS3.15 Annex E Basic Application Level Confidentiality Profile): no identity on the media')
    .option('--option <name>', 'with --deidentify, an E.3 option (repeatable): retain-longitudinal-full-dates, retain-longitudinal-modified-dates, retain-patient-characteristics, retain-device-identity, retain-uids, retain-safe-private, retain-institution-identity, clean-descriptors', collect, [])
    .option('--keep-originals-for <cert>', 'with --deidentify: keep the original values, encrypted for this certificate, in each instance (Encrypted Attributes Sequence)')
    .option('--accept-burned-in', 'with --deidentify: also take instances that may have burned-in text (Burned In Annotation YES, US, SC, Secondary Capture)')
    .addOption(new Option('--seed <text>', 'seed the random generator (reproducible output, for tests)').hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  dcmsafe create ./study --media folder --out ./disc
  dcmsafe create ./study --media cd --out patient.iso --institution "St. Elsewhere Radiology" --manifest label.txt
  dcmsafe create ./study --media usb --out /media/stick
  dcmsafe create ./study --media zip --out study.zip --recipient partner.pem
  dcmsafe create ./a ./b --media folder --out ./disc --profile STD-GEN-USB-J2K --fileset-id CLINIC_A --json

Files the profile takes as they are are copied byte for byte; others are converted losslessly to
Explicit VR Little Endian (never lossy) or refused with the profiles that would take them.
Set SOURCE_DATE_EPOCH to pin the clock for reproducible output.`,
    )
    .action(async (inputs: string[], opts: Record<string, string | boolean | string[] | undefined>) => {
      leanHeap();
      state.json = opts.json === true;
      const random = typeof opts.seed === 'string' ? seededRandom(opts.seed) : systemRandom;
      const encrypting = (opts.recipient as string[]).length > 0 || opts.passwordFile || opts.passwordEnv || opts.generatePassword || opts.keepOriginalsFor;
      if (typeof opts.seed === 'string' && encrypting && process.env.DCMSAFE_INSECURE_TEST_SEED !== '1') {
        // A seeded generator makes content keys and passwords predictable: only ever for tests.
        throw new DcmsafeError('USAGE', '--seed makes keys and passwords predictable; it is refused with encryption (tests set DCMSAFE_INSECURE_TEST_SEED=1)', {});
      }
      const resolved = await resolveSecurity(
        {
          ...(opts.signCert ? { signCert: opts.signCert as string } : {}),
          ...(opts.signKey ? { signKey: opts.signKey as string } : {}),
          ...(opts.signKeyPassphraseFile ? { signKeyPassphraseFile: opts.signKeyPassphraseFile as string } : {}),
          signKeyPassphraseEnv: 'DCMSAFE_KEY_PASSPHRASE',
          ...(opts.signChain ? { signChain: opts.signChain as string } : {}),
          recipient: opts.recipient as string[],
          keyTransport: opts.keyTransport as 'pkcs1' | 'oaep',
          ...(opts.passwordFile ? { passwordFile: opts.passwordFile as string } : {}),
          ...(opts.passwordEnv ? { passwordEnv: opts.passwordEnv as string } : {}),
          generatePassword: opts.generatePassword === true,
          cipher: opts.cipher as ContentCipher,
          digest: opts.digest as DigestName,
          dicomSignature: opts.dicomSignature === true,
          ...(opts.signatureProfile ? { signatureProfile: opts.signatureProfile as 'base' } : {}),
        },
        random,
      );
      const deidentify = await resolveDeidentify({
        deidentify: opts.deidentify === true,
        option: opts.option as string[],
        ...(opts.keepOriginalsFor ? { keepOriginalsFor: opts.keepOriginalsFor as string } : {}),
        acceptBurnedIn: opts.acceptBurnedIn === true,
      });
      const { config, trail } = await run();
      const institution = (opts.institution as string | undefined) ?? process.env.DCMSAFE_INSTITUTION ?? config.institution?.name;
      const summary = await createMedia({
        ...(deidentify ? { deidentify } : {}),
        ...(resolved.security ? { security: resolved.security } : {}),
        ...(resolved.dicomSigner ? { dicomSignature: resolved.dicomSigner } : {}),
        ...(opts.capacity ? { capacity: opts.capacity as unknown as number } : {}),
        ...(opts.size ? { imageSize: opts.size as unknown as number } : {}),
        replace: opts.replace === true,
        ...(institution ? { institution } : {}),
        ...(opts.manifest ? { manifest: opts.manifest as string } : {}),
        ...(opts.manifestIncludePassword && resolved.generatedPassword ? { manifestPassword: resolved.generatedPassword } : {}),
        inputs,
        media: opts.media as 'folder',
        out: opts.out as string,
        ...(opts.profile ? { profile: opts.profile as string } : {}),
        ...(opts.filesetId ? { fileSetId: opts.filesetId as string } : {}),
        allowPatientMismatch: opts.allowPatientMismatch === true,
        skipInvalid: opts.skipInvalid === true,
        ...(opts.uidRoot ? { uidRoot: opts.uidRoot as string } : {}),
        clock: clockFromEnvironment(),
        random,
        onEvent: progress,
      }).catch(async (e: unknown) => {
        await auditCreateFailed(trail, opts.media as 'folder', opts.out as string, e instanceof Error ? e.message : String(e));
        throw e;
      });
      await auditCreate(trail, summary);
      const withPassword = resolved.generatedPassword ? { ...summary, generatedPassword: resolved.generatedPassword } : summary;
      print(state.json ? withPassword : formatCreateSummary(summary));
      if (resolved.generatedPassword && !state.json) print(formatGeneratedPassword(resolved.generatedPassword));
    });

  program
    .command('samples')
    .description('Write the built-in synthetic sample studies (deterministic).')
    .requiredOption('--out <dir>', 'output folder; must not exist or be empty')
    .option('--json', 'print one JSON document instead of text')
    .action(async (opts: { out: string; json?: boolean }) => {
      state.json = opts.json === true;
      const summary = await generateSamples(opts.out);
      print(state.json ? summary : formatSamplesSummary(summary, opts.out));
    });

  addVerifyOptions(
    program
      .command('verify')
      .description('Check any incoming medium: who made it, whether anything was changed, what is wrong.')
      .argument('<media>', 'a folder (mounted disc or stick), an ISO image or optical device, a FAT image, or a ZIP'),
  )
    .option('--json', 'print the report as one JSON document')
    .option('--report <file.html>', 'also write the report as a self-contained HTML page')
    .option('--extract <dir>', 'write the verified (decrypted) files that pass the policy as a conformant folder')
    .option('--include-failed', 'with --extract: also the files that fail the policy')
    .addHelpText(
      'after',
      `
Examples:
  dcmsafe verify /media/cdrom --trust ./trusted-senders/
  dcmsafe verify incoming.iso --trust partners.pem --key our-key.pem --cert our-cert.pem --json
  dcmsafe verify study.zip --password-file letter-password.txt --extract ./verified

Exit codes: 0 the policy passes, 1 it fails (tampered, untrusted, inconsistent), 3 the medium cannot be read, 2 usage.`,
    )
    .action(async (media: string, opts: Record<string, string | boolean | string[] | undefined>) => {
      state.json = opts.json === true;
      const flags = verifyFlags(opts);
      if (flags.trust?.length === 0) flags.trust = [...(await run()).config.trust];
      const report = await verifyMedia({
        media,
        trust: await resolveTrust(flags),
        keys: await resolveKeys(flags),
        policy: opts.policy as Policy,
        ...(opts.extract ? { extract: opts.extract as string } : {}),
        includeFailed: opts.includeFailed === true,
        clock: clockFromEnvironment(),
      });
      await auditVerify((await run()).trail, report);
      if (opts.report) await writeFile(opts.report as string, renderHtmlReport(report), { flag: 'wx' });
      print(state.json ? report : formatVerifyReport(report, opts.report ? { reportPath: opts.report as string } : {}));
      state.exitCode = report.verdict === 'unreadable' ? EXIT.INPUT : report.passed ? EXIT.OK : EXIT.VERIFICATION_FAILED;
    });

  addNetCommands(program, { ...cli, run });
  addOperatorCommands(program, {
    ...cli,
    operatorsFile: async () => {
      const { config } = await run();
      return config.operatorsFile ?? defaultOperatorsFile();
    },
    onSignIn: (e) => {
      void signInAudit(run, e);
    },
  });
  addAuditCommands(program, { ...cli, run });

  const pki = program.command('pki').description('Keys and certificates.');
  pki
    .command('demo')
    .description('Make a demo PKI: root CA, media signer, recipient, TLS server and client for 127.0.0.1 (DEMO, not for clinical use).')
    .requiredOption('--out <dir>', 'output folder; must not exist or be empty')
    .option('--json', 'print one JSON document instead of text')
    .action(async (opts: { out: string; json?: boolean }) => {
      state.json = opts.json === true;
      const summary = await makeDemoPki(opts.out, { now: clockFromEnvironment().now() });
      print(state.json ? summary : `Demo PKI (not for clinical use) written to ${opts.out}`);
    });

  program
    .command('ui')
    .description('The front desk: an interactive terminal UI to burn patient media and import outside studies (operators sign in).')
    .addHelpText('after', '\nNeeds an interactive terminal of at least 80x24; keyboard only; NO_COLOR turns colour off.\nSign-ins, media made and imports are audited as with the commands.')
    .action(async () => {
      const g = program.opts<GlobalOptions>();
      requireTerminal(process.stdin, process.stdout);
      interactiveEnvironment(process.env);
      // Loaded only here (and after the environment is set): the other commands never pay for Ink and React.
      const { runUi } = await import('../tui/main.js');
      await runUi({ ...(g.config ? { configFile: g.config } : {}), ...(g.auditLog ? { auditLog: g.auditLog } : {}), clock: clockFromEnvironment() });
    });

  program
    .command('demo')
    .description('Generate the samples and build a File-set from them in ./demo-output.')
    .option('--out <dir>', 'demo folder', 'demo-output')
    .action(async (opts: { out: string }) => {
      print(await runDemo(opts.out));
    });

  return program;
}

/** Sign-in attempts: User Authentication (110114), and a Security Alert when an account locks. */
const pendingAudit: Array<Promise<void>> = [];
function signInAudit(run: () => Promise<{ trail: AuditTrail }>, e: SignInEvent): void {
  pendingAudit.push(
    (async () => {
      const { trail } = await run();
      await auditSignIn(trail, e, UNKNOWN_OPERATOR);
    })(),
  );
}

/** Application Activity stop, and the spool sent to the audit repository (a failure there is said, not fatal). */
async function finishAudit(outcome: 0 | 8): Promise<void> {
  await Promise.all(pendingAudit);
  if (!state.run) return;
  const { trail } = await state.run;
  if (state.audited) await trail.record('application-activity', (ctx) => applicationActivityMessage(ctx, { outcome, action: 'stop' }));
  const r = await trail.flush();
  if (r.error && !state.json) process.stderr.write(`dcmsafe: ${r.pending} audit message(s) wait in the spool for the audit repository: ${r.error}\n`);
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    await finishAudit(0);
    return state.exitCode ?? EXIT.OK;
  } catch (e) {
    await finishAudit(8).catch((a: unknown) => process.stderr.write(`dcmsafe: audit: ${a instanceof Error ? a.message : String(a)}\n`));
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
      return EXIT.USAGE;
    }
    const err = e instanceof DcmsafeError ? e : asDcmsafeError(e);
    if (state.json) print({ error: err.toJSON() });
    process.stderr.write(`dcmsafe: error ${err.code}: ${err.message}\n`);
    if (err.fault === 'internal' && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return exitCodeForFault(err.fault);
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`dcmsafe: internal error: ${String(e)}\n`);
    process.exitCode = EXIT.INTERNAL;
  },
);
