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

/**
 * xsd:dateTime in local time with the zone offset, milliseconds kept: 2026-11-25T04:12:33.123+01:00.
 * An offset that is not a whole number of minutes (local mean time before 1900 or so) is written in UTC.
 */
export function isoWithOffset(d: Date): string {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new RangeError('not a time');
  const offset = -d.getTimezoneOffset();
  if (!Number.isInteger(offset)) return d.toISOString();
  const local = new Date(t + offset * 60_000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const abs = Math.abs(offset);
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  return `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}.${pad(local.getUTCMilliseconds(), 3)}${zone}`;
}
