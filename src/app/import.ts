/**
 * An import to a DICOM peer with its audit trail (PS3.15 A.5.3): the pipeline's events collected as it
 * runs, then Import, Begin Transferring and Instances Transferred per patient (local identities), and
 * a Security Alert when the peer's TLS certificate is refused. Shared by `dcmsafe import` and the
 * front desk.
 */
import { auditImport, auditNodeRefused, ImportAudit } from '../audit/events.js';
import type { PatientRef } from '../audit/messages.js';
import type { AuditTrail } from '../audit/trail.js';
import { isDcmsafeError } from '../errors/index.js';
import { openStoreSession, type PeerOptions } from '../net/client.js';
import { importMedia, type ImportOptions, type ImportReport } from '../pipelines/import-media.js';
import { systemClock } from '../util/clock.js';

/** The patient an instance is stored as: the local identity given or mapped, else the medium's own. */
function localPatient(options: Pick<ImportOptions, 'local' | 'map'>, foreignId: string): PatientRef {
  const l = options.local ?? options.map?.find((r) => r.foreignPatientId === foreignId)?.local;
  return l ? { id: l.patientId, ...(l.patientName ? { name: l.patientName } : {}) } : { id: foreignId };
}

export async function importAudited(trail: AuditTrail, peer: PeerOptions, options: Omit<ImportOptions, 'destination' | 'openSession'>): Promise<ImportReport> {
  const clock = options.clock ?? systemClock;
  const collected = new ImportAudit(() => clock.now());
  const destination = { host: peer.host, port: peer.port, aeTitle: peer.calledAE };
  const report = await importMedia({
    ...options,
    destination: { host: peer.host, port: peer.port, calledAE: peer.calledAE },
    openSession: (contexts) => openStoreSession({ ...peer, contexts }),
    onEvent: (e) => {
      collected.onEvent(e);
      options.onEvent?.(e);
    },
  }).catch(async (e: unknown) => {
    if (isDcmsafeError(e) && e.code === 'NET_TLS') await auditNodeRefused(trail, destination, e.message);
    throw e;
  });
  await auditImport(trail, report, destination, collected, (foreignId) => localPatient(options, foreignId));
  return report;
}
