/**
 * Spreading a File-set over several discs when it does not fit one (PS3.11: no multi-volume
 * File-sets, so every disc is a complete File-set with its own DICOMDIR). Studies stay whole and in
 * order (patient, then study date) whenever a study fits a disc; a study larger than a disc is split
 * by series, then by instance. Sizes are estimates of the image space each file takes; the caller
 * checks the real image size and moves the last study on if an estimate was short.
 */
import { DcmsafeError } from '../errors/index.js';
import type { PlannedInstance } from '../dicom/fileset/plan.js';
import { BLOCK } from '../media/capacity.js';

/** Image space a file takes: whole blocks, plus its directory record and DICOMDIR record. */
export function footprint(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK + 256 + 512;
}

/** Fixed space of every disc: system area, descriptors, path tables, root files, directories. */
export const DISC_OVERHEAD = 1024 * 1024;

export interface Group {
  readonly key: string;
  readonly instances: PlannedInstance[];
  readonly bytes: number;
}

function groupBy(instances: readonly PlannedInstance[], key: (p: PlannedInstance) => string, sizes: ReadonlyMap<string, number>): Group[] {
  const groups: Group[] = [];
  for (const p of instances) {
    const k = key(p);
    let g = groups[groups.length - 1];
    if (!g || g.key !== k) {
      g = { key: k, instances: [], bytes: 0 };
      groups.push(g);
    }
    g.instances.push(p);
    (g as { bytes: number }).bytes += footprint(sizes.get(p.instance.path) as number);
  }
  return groups;
}

/**
 * Assigns instances (in plan order: patient, study, series, instance) to discs of `capacity` bytes.
 * Returns the instances of each disc.
 */
export function splitIntoDiscs(instances: readonly PlannedInstance[], sizes: ReadonlyMap<string, number>, capacity: number): PlannedInstance[][] {
  const room = capacity - DISC_OVERHEAD;
  if (room <= 0) throw new DcmsafeError('USAGE', `a medium of ${capacity} bytes is too small for a File-set`, { capacity });
  const discs: PlannedInstance[][] = [];
  let current: PlannedInstance[] = [];
  let used = 0;
  const close = (): void => {
    if (current.length > 0) discs.push(current);
    current = [];
    used = 0;
  };
  const place = (group: Group): void => {
    if (used + group.bytes <= room) {
      current.push(...group.instances);
      used += group.bytes;
      return;
    }
    if (group.bytes <= room) {
      close();
      current.push(...group.instances);
      used = group.bytes;
      return;
    }
    // Larger than a whole disc: fill this one and go on, series by series, then instance by instance.
    const series = groupBy(group.instances, (p) => p.instance.seriesInstanceUID ?? p.instance.sopInstanceUID, sizes);
    for (const s of series) {
      if (series.length > 1 && s.bytes <= room) {
        place(s);
        continue;
      }
      for (const p of s.instances) {
        const one = footprint(sizes.get(p.instance.path) as number);
        if (one > room) {
          throw new DcmsafeError('MEDIA_CAPACITY', `${p.instance.path} (${sizes.get(p.instance.path)} bytes) does not fit on the medium`, { file: p.instance.path, capacity });
        }
        if (used + one > room) close();
        current.push(p);
        used += one;
      }
    }
  };
  const studyKey = (p: PlannedInstance): string => `${p.instance.patient.id ?? ''}|${p.instance.studyInstanceUID ?? p.instance.sopInstanceUID}`;
  for (const study of groupBy(instances, studyKey, sizes)) place(study);
  close();
  return discs;
}
