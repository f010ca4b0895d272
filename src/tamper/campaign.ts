/**
 * The tamper campaign: trial after trial, a mutation of the medium image (mutations.ts), the ground
 * truth (did the content change? layout.ts), and the verifier's verdict on the mutated bytes, in
 * this process (verifyMedia over the image in memory). A changed medium that verify still calls
 * trusted is a miss; an unchanged one it does not call trusted is a false alarm. A verifier that
 * throws anything but a typed DcmsafeError is a crash.
 */
import { DcmsafeError } from '../errors/index.js';
import { BufferReader } from '../media/io/random-access-reader.js';
import { verifyMedia } from '../pipelines/verify-media.js';
import type { Verdict } from '../pipelines/verify-report.js';
import type { DecryptionKeys } from '../security/cms/reader.js';
import { rawPrivate } from '../security/cms/rsa.js';
import type { TrustInput } from '../security/pki/trust.js';
import type { Clock } from '../util/clock.js';
import { imageLayout, readTree, treeChanged, type ImageLayout, type Tree } from './layout.js';
import { applyMutation, describeMutation, drawMutation, type Mutation, type MutationKind } from './mutations.js';

export interface CampaignOptions {
  readonly image: Buffer;
  /** The medium's name in messages. */
  readonly name: string;
  readonly seed: string;
  readonly trials: number;
  /** Run only these trial numbers (replay). */
  readonly only?: readonly number[];
  readonly trust: Omit<TrustInput, 'now'>;
  readonly keys: DecryptionKeys;
  readonly clock?: Clock;
  readonly onTrial?: (t: TrialResult) => void;
}

export type Outcome = 'caught' | 'missed' | 'flagged' | 'passed';

export interface TrialResult {
  readonly trial: number;
  readonly mutation: Mutation;
  readonly description: string;
  readonly changed: boolean;
  readonly verdict: Verdict | 'error';
  /** changed: caught or missed; unchanged: flagged (a false alarm) or passed. */
  readonly outcome: Outcome;
  /** The verifier's findings codes (first few), or the typed error's code. */
  readonly codes: readonly string[];
  readonly crash?: string;
}

export interface ConfusionTable {
  changedCaught: number;
  changedMissed: number;
  unchangedFlagged: number;
  unchangedTrusted: number;
}

export interface CampaignReport {
  readonly media: string;
  readonly kind: string;
  readonly seed: string;
  readonly trials: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly table: ConfusionTable;
  readonly byKind: Record<string, ConfusionTable>;
  /** Missed, flagged and crashed trials, for replay. */
  readonly notable: readonly TrialResult[];
  readonly crashes: number;
}

function emptyTable(): ConfusionTable {
  return { changedCaught: 0, changedMissed: 0, unchangedFlagged: 0, unchangedTrusted: 0 };
}

function count(t: ConfusionTable, o: Outcome): void {
  if (o === 'caught') t.changedCaught++;
  else if (o === 'missed') t.changedMissed++;
  else if (o === 'flagged') t.unchangedFlagged++;
  else t.unchangedTrusted++;
}

/**
 * Keys whose RSA operations run on this thread (a worker pool per verification would cost more than
 * the trial), with the results for the unchanged medium's encrypted content keys remembered: the raw
 * RSA operation is a pure function of its input, and most trials leave most files alone. An altered
 * encrypted key misses and is computed afresh. Each caller gets its own copy.
 */
function inThread(keys: DecryptionKeys): { keys: DecryptionKeys; freeze(): void } {
  let learning = true;
  const known = new Map<string, Buffer | null>();
  const certificates = (keys.certificates ?? []).map((k, i) => ({
    ...k,
    rawPrivate: (c: Buffer): Promise<Buffer | null> => {
      const id = `${i}:${c.toString('base64')}`;
      const hit = known.get(id);
      if (hit !== undefined) return Promise.resolve(hit && Buffer.from(hit));
      const em = rawPrivate(k.privateKey, c);
      if (learning) known.set(id, em && Buffer.from(em));
      return Promise.resolve(em);
    },
  }));
  return { keys: { ...keys, certificates }, freeze: () => (learning = false) };
}

export interface PreparedCampaign {
  readonly layout: ImageLayout;
  readonly tree: Tree;
  trial(k: number): Promise<TrialResult>;
}

export async function prepareCampaign(options: Omit<CampaignOptions, 'trials' | 'only' | 'onTrial'>): Promise<PreparedCampaign> {
  const layout = await imageLayout(options.image, options.name);
  const tree = await readTree(options.image, options.name);
  if (!tree) throw new DcmsafeError('USAGE', `${options.name}: the original medium cannot be read whole`, { file: options.name });
  const rsa = inThread(options.keys);
  const verify = (bytes: Buffer) =>
    verifyMedia({ media: options.name, image: new BufferReader(bytes, options.name), trust: options.trust, keys: rsa.keys, policy: 'standard', ...(options.clock ? { clock: options.clock } : {}) });
  const baseline = await verify(options.image);
  rsa.freeze();
  if (baseline.verdict !== 'trusted') {
    const codes = [...new Set(baseline.findings.filter((f) => f.severity !== 'info').map((f) => f.code))].join(', ');
    throw new DcmsafeError('USAGE', `${options.name}: the unchanged medium is not trusted (${baseline.verdict}: ${codes}); give --trust and the keys it needs`, { file: options.name });
  }
  return {
    layout,
    tree,
    async trial(k: number): Promise<TrialResult> {
      const mutation = drawMutation(options.seed, k, layout);
      const mutated = applyMutation(options.image, mutation, layout);
      const changed = treeChanged(tree, await readTree(mutated, options.name));
      let verdict: Verdict | 'error';
      let codes: string[];
      let crash: string | undefined;
      try {
        const report = await verify(mutated);
        verdict = report.verdict;
        codes = [...new Set(report.findings.filter((f) => f.severity !== 'info').map((f) => f.code))].slice(0, 6);
      } catch (e) {
        verdict = 'error';
        if (e instanceof DcmsafeError) codes = [e.code];
        else {
          codes = ['CRASH'];
          crash = e instanceof Error ? (e.stack ?? e.message) : String(e);
        }
      }
      const flagged = verdict !== 'trusted';
      const outcome: Outcome = changed ? (flagged ? 'caught' : 'missed') : flagged ? 'flagged' : 'passed';
      return { trial: k, mutation, description: describeMutation(mutation, layout), changed, verdict, outcome, codes, ...(crash ? { crash } : {}) };
    },
  };
}

/** The report of a campaign from its trials' results (in any order: they are sorted by trial number). */
export function tally(results: readonly TrialResult[], meta: { media: string; kind: string; seed: string; seconds: number }): CampaignReport {
  const table = emptyTable();
  const byKind: Record<string, ConfusionTable> = {};
  const notable: TrialResult[] = [];
  let crashes = 0;
  for (const r of [...results].sort((a, b) => a.trial - b.trial)) {
    count(table, r.outcome);
    count((byKind[r.mutation.kind as MutationKind] ??= emptyTable()), r.outcome);
    if (r.crash) crashes++;
    if (r.outcome === 'missed' || r.outcome === 'flagged' || r.crash) notable.push(r);
  }
  return { ...meta, trials: results.length, perSecond: meta.seconds > 0 ? results.length / meta.seconds : 0, table, byKind, notable, crashes };
}

export function trialNumbers(options: Pick<CampaignOptions, 'trials' | 'only'>): number[] {
  return options.only ? [...options.only] : Array.from({ length: options.trials }, (_, i) => i);
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const prepared = await prepareCampaign(options);
  const results: TrialResult[] = [];
  const started = process.hrtime.bigint();
  for (const k of trialNumbers(options)) {
    const r = await prepared.trial(k);
    results.push(r);
    options.onTrial?.(r);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return tally(results, { media: options.name, kind: prepared.layout.kind, seed: options.seed, seconds });
}
