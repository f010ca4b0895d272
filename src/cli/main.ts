#!/usr/bin/env node
/**
 * The dcmsafe command line: parses arguments, runs a pipeline, prints its events and summary, and
 * maps errors to exit codes (0 ok, 1 verification failed, 2 usage, 3 bad input, 4 network, 5 internal).
 */
import { Command, CommanderError, Option } from 'commander';
import { asDcmsafeError, DcmsafeError, EXIT, exitCodeForFault } from '../errors/index.js';
import { PROFILES } from '../dicom/profiles/profiles.js';
import { clockFromEnvironment } from '../util/clock.js';
import { seededRandom, systemRandom } from '../util/random.js';
import { createMedia, type CreateEvent } from '../pipelines/create-media.js';
import { generateSamples } from '../samples/generate.js';
import { formatCreateSummary, formatSamplesSummary } from './format.js';
import { runDemo } from './demo.js';

interface GlobalState {
  json: boolean;
}

const state: GlobalState = { json: false };

function progress(event: CreateEvent): void {
  if (state.json) return;
  switch (event.type) {
    case 'collected':
      process.stderr.write(`scanning ${event.files} file(s)\n`);
      break;
    case 'planned':
      process.stderr.write(`writing ${event.instances} instance(s) of ${event.patients} patient(s)\n`);
      break;
    case 'wrote':
      if ((event.index + 1) % 100 === 0 || event.index + 1 === event.total) process.stderr.write(`  ${event.index + 1}/${event.total} files written\n`);
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
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  program
    .name('dcmsafe')
    .description('Makes and checks secure DICOM removable media (CD, DVD, BD, USB, ZIP, folder).')
    .version('0.1.0')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Examples:
  dcmsafe samples --out ./samples-in           write the built-in sample studies
  dcmsafe create ./samples-in --media folder --out ./disc
  dcmsafe create study1/ study2/ --media folder --out ./disc --profile STD-GEN-USB-JPEG --json
  dcmsafe demo                                 samples + File-set in ./demo-output

Exit codes: 0 ok, 1 verification failed, 2 usage, 3 unreadable or invalid input, 4 network, 5 internal.`,
    );

  program
    .command('create')
    .description('Build a DICOM File-set (DICOMDIR, PS3.10 File IDs, PS3.11 profile) from studies.')
    .argument('<input...>', 'DICOM files or folders (read recursively)')
    .addOption(new Option('--media <kind>', 'medium to write').choices(['folder', 'cd', 'dvd', 'bd', 'usb', 'zip']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'output folder; must not exist or be empty')
    .addOption(new Option('--profile <id>', 'application profile (default for folder and CD: STD-GEN-CD)').choices(PROFILES.map((p) => p.id)))
    .option('--fileset-id <id>', 'File-set ID, up to 16 of A-Z 0-9 _ (default DCMSAFE)')
    .option('--json', 'print one JSON document instead of text')
    .option('--allow-patient-mismatch', 'accept one Patient ID with different names or birth dates (merged under one PATIENT record)')
    .option('--skip-invalid', 'leave out DICOM files that cannot be read (listed) instead of refusing')
    .option('--uid-root <root>', 'UID root for the File-set UID (default: a UUID-derived 2.25 UID)')
    .addOption(new Option('--seed <text>', 'seed the random generator (reproducible output, for tests)').hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  dcmsafe create ./study --media folder --out ./disc
  dcmsafe create ./a ./b --media folder --out ./disc --profile STD-GEN-USB-J2K --fileset-id CLINIC_A --json

Files the profile takes as they are are copied byte for byte; others are converted losslessly to
Explicit VR Little Endian (never lossy) or refused with the profiles that would take them.
Set SOURCE_DATE_EPOCH to pin the clock for reproducible output.`,
    )
    .action(async (inputs: string[], opts: Record<string, string | boolean | undefined>) => {
      state.json = opts.json === true;
      const summary = await createMedia({
        inputs,
        media: opts.media as 'folder',
        out: opts.out as string,
        ...(opts.profile ? { profile: opts.profile as string } : {}),
        ...(opts.filesetId ? { fileSetId: opts.filesetId as string } : {}),
        allowPatientMismatch: opts.allowPatientMismatch === true,
        skipInvalid: opts.skipInvalid === true,
        ...(opts.uidRoot ? { uidRoot: opts.uidRoot as string } : {}),
        clock: clockFromEnvironment(),
        random: typeof opts.seed === 'string' ? seededRandom(opts.seed) : systemRandom,
        onEvent: progress,
      });
      print(state.json ? summary : formatCreateSummary(summary));
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

  program
    .command('demo')
    .description('Generate the samples and build a File-set from them in ./demo-output.')
    .option('--out <dir>', 'demo folder', 'demo-output')
    .action(async (opts: { out: string }) => {
      print(await runDemo(opts.out));
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return EXIT.OK;
  } catch (e) {
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
