/** The fuzz targets by name; each is loaded only when asked for. */
import type { FuzzTarget } from '../target.js';

const TARGETS: Record<string, () => Promise<FuzzTarget>> = {
  part10: async () => (await import('./part10.js')).part10Target,
  dicomdir: async () => (await import('./dicomdir.js')).dicomdirTarget,
  cms: async () => (await import('./cms.js')).cmsTarget,
  pdu: async () => (await import('./pdu.js')).pduTarget,
  'audit-log': async () => (await import('./audit-log.js')).auditLogTarget,
  iso9660: async () => (await import('./iso9660.js')).iso9660Target,
  fat: async () => (await import('./fat.js')).fatTarget,
  zip: async () => (await import('./zip.js')).zipTarget,
};

/** Not part of `all`: the campaign's own test. */
const HIDDEN: Record<string, () => Promise<FuzzTarget>> = {
  selftest: async () => (await import('./selftest.js')).selftestTarget,
};

export const TARGET_NAMES: readonly string[] = Object.keys(TARGETS);

export async function loadTarget(name: string): Promise<FuzzTarget> {
  const load = TARGETS[name] ?? HIDDEN[name];
  if (!load) throw new Error(`no fuzz target named ${name} (targets: ${TARGET_NAMES.join(', ')})`);
  return load();
}
