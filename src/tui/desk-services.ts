/**
 * The front desk's services over the real pipelines: the same create, verify and import the CLI
 * runs, the configuration, the operator accounts, and the audit trail of the operator signed in
 * (User Authentication at sign-in and sign-out, Export, Import, Begin Transferring, Instances
 * Transferred, Security Alerts: PS3.15 A.5.3).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { importAudited } from '../app/import.js';
import { resolveSecurity } from '../app/security.js';
import { DEFAULT_CALLING_AE, peerOptions } from '../app/peers.js';
import { openTrail } from '../app/run.js';
import { resolveKeys, resolveTrust } from '../app/verify-inputs.js';
import { auditCreate, auditCreateFailed, auditNodeRefused, auditSignIn, auditVerify, signInUserId } from '../audit/events.js';
import { applicationActivityMessage, userAuthenticationMessage } from '../audit/messages.js';
import type { AuditTrail } from '../audit/trail.js';
import { configSearchPath, loadConfig, saveConfig, type Config, type PacsNode } from '../config/config.js';
import { scanFile } from '../dicom/fileset/scan.js';
import { T } from '../dicom/tags.js';
import { DcmsafeError, isDcmsafeError } from '../errors/index.js';
import { DISC_CAPACITY } from '../media/capacity.js';
import { echo } from '../net/client.js';
import { defaultOperatorsFile, OperatorStore, UNKNOWN_OPERATOR } from '../operators/store.js';
import { createMedia } from '../pipelines/create-media.js';
import { collectInputs } from '../pipelines/inputs.js';
import { loadReconcileMap } from '../pipelines/reconcile-map.js';
import { DISC_OVERHEAD, footprint } from '../pipelines/split.js';
import { verifyMedia } from '../pipelines/verify-media.js';
import { clockFromEnvironment, type Clock } from '../util/clock.js';
import { sha256OfFile } from '../util/digest.js';
import { systemRandom, type Random } from '../util/random.js';
import type { BurnOutput, BurnRequest, BurnResult, DeskServices, Estimate, MediumChoice, Protection, SourcePatient, SourceScan, SourceStudy } from './desk.js';

export interface DeskOptions {
  readonly configFile?: string;
  /** An audit log besides (or instead of) the configuration's. */
  readonly auditLog?: string;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly env?: NodeJS.ProcessEnv;
}

/** CMS envelope, signature and certificates added to each protected file (a generous estimate). */
const PROTECTION_OVERHEAD = 8 * 1024;

const MEDIA_EXTENSION: Record<Exclude<MediumChoice, 'usb'>, string> = { cd: 'iso', dvd: 'iso', 'usb-image': 'img', zip: 'zip' };

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** The studies and patients of a folder, from the headers only. */
export async function scanSourceFolder(folder: string, onProgress?: (done: number, total: number) => void): Promise<SourceScan> {
  const { files } = await collectInputs([folder]);
  const patients = new Map<string, { id: string; name: string; birthDate: string; sex: string; studies: Map<string, { description: string; date: string; modalities: Set<string>; files: string[]; bytes: number }> }>();
  let leftOut = 0;
  for (const [i, file] of files.entries()) {
    onProgress?.(i, files.length);
    const scanned = await scanFile(file);
    if (scanned.kind !== 'instance') {
      leftOut++;
      continue;
    }
    const s = scanned.instance;
    const key = `${s.patient.id ?? ''}\u0000${s.patient.name}\u0000${s.patient.birthDate}`;
    let p = patients.get(key);
    if (!p) patients.set(key, (p = { id: s.patient.id ?? '', name: s.patient.name, birthDate: s.patient.birthDate, sex: s.patient.sex, studies: new Map() }));
    const studyUid = s.studyInstanceUID ?? '';
    let st = p.studies.get(studyUid);
    if (!st) p.studies.set(studyUid, (st = { description: s.keys.text(T.StudyDescription)?.trim() ?? '', date: s.keys.text(T.StudyDate)?.trim() ?? '', modalities: new Set(), files: [], bytes: 0 }));
    if (s.modality) st.modalities.add(s.modality);
    st.files.push(s.path);
    st.bytes += s.size;
  }
  onProgress?.(files.length, files.length);
  const out: SourcePatient[] = [...patients.values()].map((p) => ({
    id: p.id,
    name: p.name,
    birthDate: p.birthDate,
    sex: p.sex,
    studies: [...p.studies.entries()]
      .map(([uid, st]): SourceStudy => ({ studyInstanceUID: uid, description: st.description, date: st.date, modalities: [...st.modalities].sort(), instances: st.files.length, bytes: st.bytes, files: st.files }))
      .sort((a, b) => a.date.localeCompare(b.date)),
  }));
  out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return { folder, patients: out, leftOut };
}

/** The size of the media and how many it takes (discs); the exact split is made when writing. */
export function estimateMedia(studies: readonly SourceStudy[], medium: MediumChoice, protection: Protection): Estimate {
  const protectedMedia = protection.password || protection.recipient !== undefined;
  let bytes = 0;
  for (const s of studies) bytes += s.bytes + (protectedMedia ? s.instances * PROTECTION_OVERHEAD : 0);
  const capacity = medium === 'cd' || medium === 'dvd' ? DISC_CAPACITY[medium] : undefined;
  if (capacity === undefined) return { bytes, media: 1 };
  let used = 0;
  for (const s of studies) used += s.instances * footprint(Math.ceil((s.bytes + (protectedMedia ? s.instances * PROTECTION_OVERHEAD : 0)) / Math.max(1, s.instances)));
  return { bytes, capacity, media: Math.max(1, Math.ceil(used / (capacity - DISC_OVERHEAD))) };
}

/** The command that burns an image on a drive (xorriso's cdrecord emulation, disc-at-once). */
export function burnCommand(image: string, drive: string): string[] {
  return ['xorriso', '-as', 'cdrecord', '-v', `dev=${drive}`, '-dao', '-eject', image];
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

export async function openDesk(options: DeskOptions = {}): Promise<DeskServices> {
  const env = options.env ?? process.env;
  let config = await loadConfig({ ...(options.configFile ? { file: options.configFile } : {}), env });
  const clock = options.clock ?? clockFromEnvironment(env);
  const random = options.random ?? systemRandom;
  const operatorsFile = (): string => config.operatorsFile ?? defaultOperatorsFile(env);
  const trailFor = (operator: string): Promise<AuditTrail> => openTrail(config, { operator, ...(options.auditLog ? { auditLog: options.auditLog } : {}) });
  let session: { trail: AuditTrail; operator: string } | undefined;
  const trail = (): AuditTrail => {
    if (!session) throw new DcmsafeError('USAGE', 'nobody is signed in', {});
    return session.trail;
  };

  const verifyInputs = async (password: string | undefined): Promise<{ trust: { anchors: Buffer[]; crls: Buffer[] }; keys: Awaited<ReturnType<typeof resolveKeys>> }> => {
    const trust = await resolveTrust({ trust: [...config.trust] });
    // Media encrypted for this institution open with its own key (the signing identity).
    const signing = config.signing;
    const keys = await resolveKeys(signing ? { key: signing.key, cert: signing.certificate, ...(signing.keyPassphraseFile ? { keyPassphraseFile: signing.keyPassphraseFile } : {}) } : {});
    if (password) keys.passwords?.push(password);
    return { trust, keys };
  };

  const peerOf = (node: PacsNode) => peerOptions(node.name, { aet: node.callingAE ?? DEFAULT_CALLING_AE }, { ...config, pacs: [node] });

  return {
    async signIn(user, password) {
      const store = await OperatorStore.open(operatorsFile());
      const result = await store.authenticate(user, password);
      const tried = { user, ok: result.ok, ...(result.ok ? {} : { reason: result.reason, lockedNow: result.reason === 'wrong-password' && result.operator?.locked === true }) };
      const attempt = await trailFor(signInUserId(tried, UNKNOWN_OPERATOR));
      await auditSignIn(attempt, tried, UNKNOWN_OPERATOR);
      if (!result.ok) {
        await attempt.flush();
        return { ok: false, reason: result.reason === 'locked' ? 'This account is locked after repeated failed sign-ins. Ask an admin to unlock it.' : 'Unknown operator or wrong password.' };
      }
      session = { trail: attempt, operator: user };
      await attempt.record('application-activity', (ctx) => applicationActivityMessage(ctx, { outcome: 0, action: 'start' }));
      return { ok: true, operator: result.operator };
    },

    async signOut() {
      if (!session) return;
      const { trail: t, operator } = session;
      session = undefined;
      await t.record('user-authentication', (ctx) => userAuthenticationMessage(ctx, { outcome: 0, action: 'logout', user: { userId: operator } }));
      await t.record('application-activity', (ctx) => applicationActivityMessage(ctx, { outcome: 0, action: 'stop' }));
      await t.flush();
    },

    config: () => config,

    scanSource: (folder, onProgress) => scanSourceFolder(folder, onProgress),

    estimate: estimateMedia,

    async burn(request: BurnRequest, onEvent): Promise<BurnResult> {
      const t = trail();
      const now = clock.now();
      const outbox = config.media?.outbox ?? path.join(env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(env.HOME ?? '.', '.local', 'share'), 'dcmsafe', 'media');
      const base = `DCMSAFE-${stamp(now)}`;
      let out: string;
      if (request.medium === 'usb') {
        if (!request.stickFolder) throw new DcmsafeError('USAGE', 'a USB stick needs the folder it is mounted on', {});
        out = request.stickFolder;
      } else {
        await mkdir(outbox, { recursive: true, mode: 0o700 });
        out = path.join(outbox, `${base}.${MEDIA_EXTENSION[request.medium]}`);
      }
      // The letter has a blank for the password: the password is shown once and stored nowhere.
      const letterFile = path.join(request.medium === 'usb' ? outbox : path.dirname(out), `${base}-${request.protection.password ? 'letter' : 'label'}.txt`);
      await mkdir(path.dirname(letterFile), { recursive: true, mode: 0o700 });
      const recipient = request.protection.recipient ? config.recipients.find((r) => r.name === request.protection.recipient) : undefined;
      if (request.protection.recipient && !recipient) throw new DcmsafeError('USAGE', `no recipient institution "${request.protection.recipient}" in the configuration`, {});
      const encrypting = recipient !== undefined || request.protection.password;
      const signing = encrypting ? config.signing : undefined;
      const resolved = await resolveSecurity(
        {
          recipient: recipient ? [recipient.certificate] : [],
          generatePassword: request.protection.password,
          ...(signing ? { signCert: signing.certificate, signKey: signing.key, ...(signing.keyPassphraseFile ? { signKeyPassphraseFile: signing.keyPassphraseFile } : {}), ...(signing.chain ? { signChain: signing.chain } : {}) } : {}),
        },
        random,
      );
      const media = request.medium === 'usb-image' ? 'usb' : request.medium;
      const summary = await createMedia({
        inputs: request.studies.flatMap((s) => s.files),
        media,
        out,
        ...(resolved.security ? { security: resolved.security } : {}),
        ...(config.institution ? { institution: config.institution.name } : {}),
        manifest: letterFile,
        clock,
        random,
        onEvent,
      }).catch(async (e: unknown) => {
        await auditCreateFailed(t, media, out, e instanceof Error ? e.message : String(e));
        throw e;
      });
      await auditCreate(t, summary);
      const outputs: BurnOutput[] = [];
      for (const v of summary.volumes) {
        const isFile = (await stat(v.output)).isFile();
        outputs.push({ path: v.output, bytes: v.bytes, sha256: isFile ? await sha256OfFile(v.output) : '' });
      }
      const drive = config.media?.drive;
      const disc = request.medium === 'cd' || request.medium === 'dvd';
      return {
        outputs,
        ...(resolved.generatedPassword ? { password: resolved.generatedPassword } : {}),
        letterFile,
        labelText: await readFile(letterFile, 'utf8'),
        ...(summary.security?.signer ? { signedBy: summary.security.signer.subject } : {}),
        ...(disc ? { burnCommand: outputs.map((o) => burnCommand(o.path, drive ?? '/dev/sr0').map(shellQuote).join(' ')).join('\n') } : {}),
      };
    },

    burnToDrive(image, onLine) {
      const drive = config.media?.drive;
      if (!drive) return Promise.reject(new DcmsafeError('USAGE', 'no drive is configured (media.drive)', {}));
      const [cmd, ...args] = burnCommand(image, drive);
      return new Promise<void>((resolve, reject) => {
        const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', onLine);
        child.on('error', (e) => reject(new DcmsafeError('BURN_FAILED', `xorriso cannot be started: ${e.message}`, { file: image }, { cause: e })));
        child.on('close', (code) => (code === 0 ? resolve() : reject(new DcmsafeError('BURN_FAILED', `xorriso failed (exit ${code}) burning ${image} on ${drive}`, { file: image }))));
      });
    },

    async verify(media, password, onEvent) {
      const { trust, keys } = await verifyInputs(password);
      const report = await verifyMedia({ media, trust, keys, policy: 'standard', clock, onEvent });
      await auditVerify(trail(), report);
      return report;
    },

    async importMedia(request, onEvent) {
      const t = trail();
      const node = config.pacs.find((n) => n.name === request.node);
      if (!node) throw new DcmsafeError('USAGE', `no PACS node "${request.node}" in the configuration`, {});
      const peer = await peerOf(node);
      const { trust, keys } = await verifyInputs(request.password);
      const report = await importAudited(t, peer, {
        media: request.media,
        verify: { trust, keys, policy: 'standard', onEvent },
        map: request.map,
        allowUntrusted: request.allowUntrusted,
        // Every patient of the medium was reconciled one by one on the screen before.
        confirmMultiplePatients: true,
        confirmDemographics: request.confirmDemographics,
        clock,
        onEvent,
      });
      return report;
    },

    async reconcileMap() {
      return config.reconcileMap ? loadReconcileMap(config.reconcileMap) : [];
    },

    async echo(node) {
      try {
        const peer = await peerOf(node);
        const r = await echo(peer);
        const tls = r.peer.tls ? `, ${r.peer.tls.protocol}` : ', NOT encrypted';
        return { ok: r.ok, text: `C-ECHO to ${peer.calledAE}@${peer.host}:${peer.port}: status ${r.status.toString(16).toUpperCase().padStart(4, '0')} in ${r.roundTripMs.toFixed(1)} ms${tls}` };
      } catch (e) {
        if (session && isDcmsafeError(e) && e.code === 'NET_TLS') await auditNodeRefused(session.trail, { host: node.host, port: node.port, aeTitle: node.calledAE }, e.message);
        return { ok: false, text: e instanceof Error ? e.message : String(e) };
      }
    },

    async listOperators() {
      return (await OperatorStore.open(operatorsFile())).list();
    },
    async addOperator(user, role, password) {
      await (await OperatorStore.open(operatorsFile())).add(user, role, password);
    },
    async removeOperator(user) {
      await (await OperatorStore.open(operatorsFile())).remove(user);
    },
    async saveConfig(next: Config) {
      const file = config.file ?? options.configFile ?? configSearchPath(env);
      await saveConfig(next, file);
      config = await loadConfig({ file, env });
    },
  };
}
