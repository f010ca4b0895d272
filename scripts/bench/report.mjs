// The bench's table: one row per comparison, dcmsafe beside its reference, the ratio (dcmsafe speed
// over the reference's, so > 1 means dcmsafe is faster), the target and whether it is met. Speed
// targets are reported only; the peak RSS limit and cases that fail to run set the exit status.
import { MB } from './run.mjs';
import { withSignatures } from './cases.mjs';

export const RSS_LIMIT_MB = 256;
export const TARGETS = { create: 3, createOfBound: 0.5, verify: 3, import: 1, dicomdir: 1, flatness: 1.5 };

const rate = (bytes, s) => bytes / MB / Math.max(s, 0.01); // /usr/bin/time has 10 ms resolution
const f = (x, d = 1) => (x === undefined ? '-' : x.toFixed(d));

/** Rows of { case, d: {rate, s, rss}, r: {rate, s, rss}, ratio, target, ok, rssChecked }. */
export function rows(res) {
  const out = [];
  const bytes = res.dataset?.bytes;
  const mbps = (x) => (x ? `${f(rate(bytes, x.seconds))} MB/s` : '-');
  const side = (x, r) => (x ? { rate: r, s: x.seconds, rss: x.rssMB } : undefined);
  const speedRow = (name, d, r, target, rssChecked = true) => {
    const ratio = d && r ? r.seconds / Math.max(d.seconds, 0.01) : undefined;
    out.push({ case: name, d: side(d, mbps(d)), r: side(r, mbps(r)), ratio, target: `>= ${f(target, 2)}x`, ok: ratio !== undefined && ratio >= target, rssChecked });
  };
  if (res.create) speedRow('create (secure DVD)', res.create.dcmsafe, res.create.reference, TARGETS.create);
  if (res.create && res.limit) {
    const d = rate(bytes, res.create.dcmsafe.seconds);
    const frac = d / res.limit.allCoreMBps;
    out.push({ case: 'create / crypto bound', d: { rate: `${f(d)} MB/s` }, r: { rate: `${f(res.limit.allCoreMBps)} MB/s` }, ratio: frac, target: `>= ${f(TARGETS.createOfBound, 2)}`, ok: frac >= TARGETS.createOfBound, note: `per-core bound ${f(res.limit.perCoreMBps)} MB/s: ${f(d / res.limit.perCoreMBps, 2)}` });
    const signed = withSignatures(res.limit, bytes, res.dataset.files + 1);
    if (signed) out.push({ case: 'create / bound with RSA', d: { rate: `${f(d)} MB/s` }, r: { rate: `${f(signed)} MB/s` }, ratio: d / signed, target: `>= ${f(TARGETS.createOfBound, 2)}`, ok: d / signed >= TARGETS.createOfBound, note: `the all-core bound counting one RSA-3072 signature per file (${f(res.limit.rsa3072SignsPerSecond, 0)}/s per core) beside AES+SHA per byte` });
  }
  if (res.verify) speedRow('verify (secure ISO)', res.verify.dcmsafe, res.verify.reference, TARGETS.verify);
  if (res.import) {
    speedRow('import secure ISO', res.import.secure, res.import.storescu, TARGETS.import);
    speedRow('import plain', res.import.plain, res.import.storescu, TARGETS.import);
  }
  if (res.large) {
    const lb = res.dataset.largeBytes;
    const largeRow = (name, x) => x && out.push({ case: name, d: { rate: `${f(rate(lb, x.seconds))} MB/s`, s: x.seconds, rss: x.rssMB }, target: `RSS <= ${RSS_LIMIT_MB}`, ok: x.rssMB <= RSS_LIMIT_MB, rssChecked: true });
    const label = `${(lb / 2 ** 20).toFixed(0)} MiB`;
    largeRow(`large create ${label}`, res.large.create);
    largeRow(`large verify ${label}`, res.large.verify);
    largeRow(`large import ${label}`, res.import?.large);
  }
  if (res.scale) {
    const largest = res.scale.at(-1);
    for (const row of res.scale) {
      const ratio = row.reference.seconds / Math.max(row.dcmsafe.seconds, 0.01);
      const perInst = (x) => `${f((x.seconds / row.n) * 1e6, 0)} us/inst`;
      out.push({
        case: `DICOMDIR N=${row.n}`,
        d: { rate: perInst(row.dcmsafe), s: row.dcmsafe.seconds, rss: row.dcmsafe.rssMB },
        r: { rate: perInst(row.reference), s: row.reference.seconds, rss: row.reference.rssMB },
        ratio,
        target: row === largest ? `>= ${f(TARGETS.dicomdir, 2)}x` : '',
        ok: row === largest ? ratio >= TARGETS.dicomdir : undefined,
        rssInfo: true, // the library in a bench script, not a dcmsafe command: shown, not enforced
      });
    }
    const flat = res.scaleFlatness;
    out.push({ case: `DICOMDIR flatness`, d: { rate: `${f(flat.dcmsafe, 2)} (work ${f(flat.dcmsafeWork, 2)})` }, r: { rate: f(flat.reference, 2) }, target: `<= ${f(TARGETS.flatness, 2)}`, ok: flat.dcmsafeWork <= TARGETS.flatness, note: `per-instance time at N=${largest.n} over N=${res.scale[0].n}` });
  }
  return out;
}

/** Prints the table; `failures` (cases that did not run) are listed under it. */
export function printTable(list, failures) {
  const head = ['case', 'dcmsafe', 's', 'RSS MB', 'reference', 's', 'RSS MB', 'ratio', 'target', 'result'];
  const lines = list.map((x) => [
    x.case,
    x.d?.rate ?? '-',
    f(x.d?.s, 2),
    f(x.d?.rss, 0),
    x.r?.rate ?? '-',
    f(x.r?.s, 2),
    f(x.r?.rss, 0),
    x.ratio === undefined ? '-' : f(x.ratio, 2),
    x.target ?? '',
    result(x),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const fmt = (l) => l.map((c, i) => (i === 0 || i === 8 || i === 9 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(fmt(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
  for (const x of list.filter((r) => r.note)) console.log(`  ${x.case}: ${x.note}`);
  for (const [name, err] of failures) console.log(`FAILED TO RUN: ${name}: ${String(err.message ?? err).split('\n')[0]}`);
}

/**
 * pass / FAIL for the speed target; "RSS>256!" when a create, verify or import run peaks above the
 * limit (the exit status), "RSS>256 (info)" for the DICOMDIR child, which is reported only.
 */
function result(x) {
  const speed = x.ok === undefined ? '' : x.ok ? 'pass' : 'FAIL';
  if (!(x.d?.rss > RSS_LIMIT_MB)) return speed;
  if (x.rssChecked) return `${speed} RSS>${RSS_LIMIT_MB}!`.trim();
  return x.rssInfo ? `${speed} RSS>${RSS_LIMIT_MB} (info)`.trim() : speed;
}

/** dcmsafe peak RSS values of the create, verify and import runs (the enforced memory limit). */
export function checkedRss(list) {
  return list.filter((x) => x.rssChecked && x.d?.rss !== undefined).map((x) => ({ case: x.case, rssMB: x.d.rss }));
}
