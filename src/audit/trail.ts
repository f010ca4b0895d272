/**
 * The audit trail of one dcmsafe run: builds PS3.15 A.5 messages (messages.ts) for what the pipelines
 * did, and hands each to the sinks: the local hash-chained log (log.ts) and the audit repository by
 * syslog over TLS (syslog.ts), through a disk spool so that none is lost while the repository is away.
 * Each message names the operator. Nothing here sees a password or a key.
 */
import { hostname } from 'node:os';
import type { Clock } from '../util/clock.js';
import { isoWithOffset, systemClock } from '../util/clock.js';
import { VERSION } from '../version.js';
import { AuditLog } from './log.js';
import type { AuditContext, AuditKind } from './messages.js';
import { SyslogSpool, type SyslogTarget } from './syslog.js';

export interface AuditTrailOptions {
  /** The local log file (--audit-log, or the configuration's audit.log). */
  readonly log?: string;
  /** The audit repository and the spool folder its messages wait in. */
  readonly repository?: { readonly target: SyslogTarget; readonly spool: string };
  readonly operator: { readonly userId: string; readonly name?: string };
  /** AuditSourceID: the institution, else the host name. */
  readonly auditSourceId?: string;
  readonly aeTitle?: string;
  readonly clock?: Clock;
}

export class AuditTrail {
  private constructor(
    private readonly options: AuditTrailOptions,
    private readonly log: AuditLog | undefined,
    private readonly spool: SyslogSpool | undefined,
    private readonly clock: Clock,
  ) {}

  static async open(options: AuditTrailOptions): Promise<AuditTrail> {
    const host = hostname();
    const spool = options.repository ? await SyslogSpool.open(options.repository.spool, options.repository.target, { hostname: host, appName: 'dcmsafe', procId: String(process.pid) }) : undefined;
    return new AuditTrail(options, options.log ? new AuditLog(options.log) : undefined, spool, options.clock ?? systemClock);
  }

  /** A trail without sinks: messages are built by nobody and go nowhere. */
  static none(): AuditTrail {
    return new AuditTrail({ operator: { userId: 'unknown' } }, undefined, undefined, systemClock);
  }

  get active(): boolean {
    return this.log !== undefined || this.spool !== undefined;
  }

  get operator(): string {
    return this.options.operator.userId;
  }

  context(when: Date = this.clock.now()): AuditContext {
    return {
      when,
      operator: this.options.operator,
      application: { name: 'dcmsafe', version: VERSION, processId: process.pid, host: hostname(), ...(this.options.aeTitle ? { aeTitle: this.options.aeTitle } : {}) },
      auditSourceId: this.options.auditSourceId ?? hostname(),
    };
  }

  /** Builds one message and writes it to every sink (the log durably; the repository's spool durably). */
  async record(kind: AuditKind, build: (ctx: AuditContext) => string, when?: Date): Promise<void> {
    if (!this.active) return;
    const ctx = this.context(when);
    const xml = build(ctx);
    const time = isoWithOffset(ctx.when);
    if (this.log) await this.log.append({ time, kind, operator: this.options.operator.userId, message: xml });
    if (this.spool) await this.spool.enqueue(xml, ctx.when);
  }

  /** Sends what waits in the spool (this run's messages and any left by earlier runs). */
  async flush(): Promise<{ sent: number; pending: number; error?: string; corrupt?: string[] }> {
    if (!this.spool) return { sent: 0, pending: 0 };
    return this.spool.deliver();
  }
}
