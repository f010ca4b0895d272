/** The clock, injected everywhere a time is written, so tests and reproducible builds can pin it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function fixedClock(at: Date | string | number): Clock {
  const t = new Date(at).getTime();
  if (Number.isNaN(t)) throw new RangeError(`not a time: ${String(at)}`);
  return { now: () => new Date(t) };
}

/**
 * SOURCE_DATE_EPOCH (reproducible-builds.org) pins the clock for the command line: seconds since
 * 1970-01-01 UTC. Unset or invalid: the system clock.
 */
export function clockFromEnvironment(env: NodeJS.ProcessEnv = process.env): Clock {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch && /^\d+$/.test(epoch)) return fixedClock(Number(epoch) * 1000);
  return systemClock;
}

/** DA (YYYYMMDD) and TM (HHMMSS) in UTC, PS3.5 §6.2. */
export function dicomDate(d: Date): string {
  return `${d.getUTCFullYear().toString().padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

export function dicomTime(d: Date): string {
  return `${String(d.getUTCHours()).padStart(2, '0')}${String(d.getUTCMinutes()).padStart(2, '0')}${String(d.getUTCSeconds()).padStart(2, '0')}`;
}
