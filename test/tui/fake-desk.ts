/**
 * A DeskServices for component tests: canned answers, every call recorded, and hooks to make a call
 * fail or wait. Screens are tested through ink-testing-library's lastFrame() against it.
 */
import type { BurnRequest, BurnResult, Config, DeskServices, EchoResult, ImportEvent, ImportReport, ImportRequest, MapRow, OperatorInfo, SourceScan, VerifyEvent, VerifyReport } from '../../src/tui/desk.js';

export interface FakeDeskOptions {
  config?: Partial<Config>;
  scan?: SourceScan;
  burnResult?: BurnResult;
  verifyReport?: VerifyReport;
  importReport?: ImportReport;
  /** Answers of successive importMedia calls (the last one repeats); importReport when absent. */
  importReports?: ImportReport[];
  /** Events importMedia sends before it answers (none when absent). */
  importEvents?: Array<ImportEvent | VerifyEvent>;
  /** importMedia answers only once this settles (to look at the progress screen). */
  importGate?: Promise<void>;
  /** Events verify sends instead of the one DICOMDIR event. */
  verifyEvents?: VerifyEvent[];
  /** verify answers only once this settles. */
  verifyGate?: Promise<void>;
  map?: MapRow[];
  operators?: OperatorInfo[];
  echo?: EchoResult;
  /** Make the named method reject with this message. */
  fail?: Partial<Record<keyof DeskServices, string>>;
}

export interface FakeDesk extends DeskServices {
  readonly calls: Array<{ method: keyof DeskServices; args: unknown[] }>;
  saved?: Config;
}

export const ALICE: OperatorInfo = { name: 'alice', role: 'admin', created: '2026-11-01T09:00:00Z', failedAttempts: 0, locked: false };

export function fakeDesk(options: FakeDeskOptions = {}): FakeDesk {
  const calls: FakeDesk['calls'] = [];
  let config: Config = { trust: [], pacs: [], recipients: [], audit: {}, ...options.config };
  const record = async <T>(method: keyof DeskServices, args: unknown[], value: () => T): Promise<T> => {
    calls.push({ method, args });
    await new Promise((r) => setTimeout(r, 1));
    const failure = options.fail?.[method];
    if (failure) throw new Error(failure);
    return value();
  };
  const desk: FakeDesk = {
    calls,
    signIn: (user, password) => record('signIn', [user, password], () => (password === 'correct horse battery' ? { ok: true as const, operator: { ...ALICE, name: user } } : { ok: false as const, reason: 'wrong user name or password' })),
    signOut: () => record('signOut', [], () => undefined),
    config: () => config,
    scanSource: (folder) => record('scanSource', [folder], () => options.scan ?? { folder, patients: [], leftOut: 0 }),
    estimate: (studies, medium) => {
      const bytes = studies.reduce((a, s) => a + s.bytes, 0);
      const capacity = medium === 'cd' ? 737_280_000 : medium === 'dvd' ? 4_707_319_808 : undefined;
      return { bytes, ...(capacity ? { capacity } : {}), media: capacity ? Math.max(1, Math.ceil(bytes / capacity)) : 1 };
    },
    burn: (request: BurnRequest, onEvent) =>
      record('burn', [request], () => {
        onEvent({ type: 'planned', patients: 1, instances: 3, volumes: 1, bytes: 3000 });
        onEvent({ type: 'progress', volume: 1, bytesDone: 3000, bytesTotal: 3000 });
        return options.burnResult ?? { outputs: [{ path: '/out/PATIENT.iso', bytes: 3000, sha256: 'ab'.repeat(32) }], labelText: 'LABEL', ...(request.protection.password ? { password: 'Tiger-Maple-4821-Orbit-Cello' } : {}) };
      }),
    burnToDrive: (image, onLine) =>
      record('burnToDrive', [image], () => {
        onLine('xorriso : done');
      }),
    verify: async (media, password, onEvent) => {
      const report = await record('verify', [media, password], () => {
        for (const event of options.verifyEvents ?? [{ type: 'file-checked' as const, file: 'DICOMDIR', index: 0, total: 1 }]) onEvent(event);
        if (!options.verifyReport) throw new Error('no verify report in this fake');
        return options.verifyReport;
      });
      if (options.verifyGate) await options.verifyGate;
      return report;
    },
    importMedia: async (request: ImportRequest, onEvent) => {
      const n = calls.filter((c) => c.method === 'importMedia').length;
      const report = await record('importMedia', [request], () => {
        for (const event of options.importEvents ?? []) onEvent(event);
        const reports = options.importReports ?? [];
        const answer = reports[Math.min(n, reports.length - 1)] ?? options.importReport;
        if (!answer) throw new Error('no import report in this fake');
        return answer;
      });
      if (options.importGate) await options.importGate;
      return report;
    },
    reconcileMap: () => record('reconcileMap', [], () => options.map ?? []),
    echo: (node) => record('echo', [node], () => options.echo ?? { ok: true, text: 'C-ECHO status 0000 in 3.1 ms' }),
    listOperators: () => record('listOperators', [], () => options.operators ?? [ALICE]),
    addOperator: (user, role, password) => record('addOperator', [user, role, password], () => undefined),
    removeOperator: (user) => record('removeOperator', [user], () => undefined),
    saveConfig: (next) =>
      record('saveConfig', [next], () => {
        config = next;
        desk.saved = next;
      }),
  };
  return desk;
}

/** Lets Ink process input and effects. */
export const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));
