import { describe, expect, it } from 'vitest';
import type { PlannedInstance } from '../../src/dicom/fileset/plan.js';
import { DISC_OVERHEAD, footprint, splitIntoDiscs } from '../../src/pipelines/split.js';

function instance(path: string, patient: string, study: string, series: string): PlannedInstance {
  return { instance: { path, sopInstanceUID: path, studyInstanceUID: study, seriesInstanceUID: series, patient: { id: patient, name: '', birthDate: '', sex: '' } } } as unknown as PlannedInstance;
}

const MB = 1_000_000;

describe('splitting a File-set over discs', () => {
  const capacity = DISC_OVERHEAD + 10 * MB;

  it('keeps studies whole and in order when each fits a disc', () => {
    const items = [
      instance('a1', 'P1', 'S1', 'A'), instance('a2', 'P1', 'S1', 'A'), // 6 MB study
      instance('b1', 'P1', 'S2', 'B'), // 5 MB study: does not fit after S1
      instance('c1', 'P2', 'S3', 'C'), // 3 MB: fits after S2
    ];
    const sizes = new Map([['a1', 3 * MB], ['a2', 3 * MB], ['b1', 5 * MB], ['c1', 3 * MB]]);
    const discs = splitIntoDiscs(items, sizes, capacity);
    expect(discs.map((d) => d.map((p) => p.instance.path))).toEqual([['a1', 'a2'], ['b1', 'c1']]);
  });

  it('splits a study larger than a disc by series, then by instance', () => {
    const items = [instance('s1', 'P', 'S', 'X'), instance('s2', 'P', 'S', 'X'), instance('t1', 'P', 'S', 'Y'), instance('t2', 'P', 'S', 'Y'), instance('t3', 'P', 'S', 'Y')];
    const sizes = new Map(items.map((p) => [p.instance.path, 4 * MB]));
    const discs = splitIntoDiscs(items, sizes, capacity);
    expect(discs.map((d) => d.map((p) => p.instance.path))).toEqual([['s1', 's2'], ['t1', 't2'], ['t3']]);
    for (const d of discs) expect(d.reduce((n, p) => n + footprint(sizes.get(p.instance.path) as number), 0)).toBeLessThanOrEqual(capacity - DISC_OVERHEAD);
  });

  it('refuses a single file larger than the medium', () => {
    expect(() => splitIntoDiscs([instance('huge', 'P', 'S', 'X')], new Map([['huge', 20 * MB]]), capacity)).toThrow(expect.objectContaining({ code: 'MEDIA_CAPACITY' }));
  });

  it('puts everything on one disc when it fits', () => {
    const items = [instance('a', 'P', 'S', 'X'), instance('b', 'Q', 'T', 'Y')];
    expect(splitIntoDiscs(items, new Map([['a', 1000], ['b', 1000]]), capacity)).toHaveLength(1);
  });
});
