/**
 * V8's lean heap heuristics (`--optimize-for-size`) for create and import, long runs over thousands
 * of files: by default V8 lets garbage (read buffers, encrypted blocks) pile up to several times the
 * live data before collecting, and that slack was most of the peak memory (create of 800 secure CT
 * slices: 231 MB by default, about 170 MB lean; the import bench's 1 891 secure files: 260 MB against
 * 138 MB). Verify keeps V8's default: there the lean heuristics doubled the time (a DICOMDIR of a
 * million records: 2.3x slower). The flag is read when V8 sizes its heap next, so it takes effect at
 * run time. DCMSAFE_GC=throughput turns it off.
 */
import { setFlagsFromString } from 'node:v8';

export function leanHeap(env: NodeJS.ProcessEnv = process.env): void {
  if (env.DCMSAFE_GC !== 'throughput') setFlagsFromString('--optimize-for-size');
}
