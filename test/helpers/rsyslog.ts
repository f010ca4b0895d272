/**
 * rsyslog as an audit repository for tests (PS3.15 A.6 syslog over TLS): a configuration in a folder of
 * its own that listens with TLS on 127.0.0.1:PORT only (imtcp over the GnuTLS stream driver, strict TLS
 * mode 1, client certificates required and checked against the test CA: `x509/certvalid`), reads
 * RFC 5425 octet-counted frames, and writes each message it receives twice, one JSON line each:
 * - msg.jsonl: `{"pri","hostname","app","procid","msgid","timestamp","msg"}`, the parsed RFC 5424 fields;
 * - raw.jsonl: the whole SYSLOG-MSG as received, a JSON string.
 * Control characters are not escaped on reception and a trailing LF is kept, so `msg` is the MSG
 * octets exactly (BOM included); JSON escaping (`format="json"`) makes each message one line.
 * No other inputs or outputs (no imuxsock, no imklog); its own pid file and work folder.
 *
 * Run it inside `runInNetns` (test/helpers/netns.ts): `bashStart()` and `bashStop()` are bash lines
 * for the scenario script. The PKI is makeTestPki's (openssl, EC P-256), which GnuTLS takes as is.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface RsyslogPki {
  /** CA certificate the client certificates must chain to (PEM). */
  readonly ca: string;
  /** rsyslog's server certificate and key (PEM). */
  readonly cert: string;
  readonly key: string;
}

export interface ReceivedSyslog {
  pri: string;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  /** TIMESTAMP as rsyslog understood it, written back in RFC 3339. */
  timestamp: string;
  /** The MSG part, BOM included. */
  msg: string;
}

export interface RsyslogHarness {
  readonly dir: string;
  readonly port: number;
  readonly conf: string;
  readonly pidFile: string;
  readonly workDir: string;
  readonly logFile: string;
  readonly msgFile: string;
  readonly rawFile: string;
  /** Bash lines: start rsyslogd in the background and wait (20 s at most) until it listens; exit 97 if it does not. */
  bashStart(): string;
  /** Bash lines: wait (20 s at most) until `n` messages were written to msg.jsonl. */
  bashWaitMessages(n: number): string;
  /** Bash lines: SIGTERM rsyslogd (it writes out what it holds) and wait until it is gone. */
  bashStop(): string;
  /** The messages received so far, in order, parsed. */
  received(): ReceivedSyslog[];
  /** The whole SYSLOG-MSGs received so far, in order. */
  receivedRaw(): string[];
  /** rsyslogd's own output (errors, refused connections). */
  log(): string;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
/** A RainerScript string literal. */
const rs = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function rsyslogConfig(options: { port: number; pki: RsyslogPki; workDir: string; msgFile: string; rawFile: string }): string {
  const { port, pki, workDir, msgFile, rawFile } = options;
  const field = (name: string, property: string, first = false, extra = ''): string =>
    `  constant(value="${first ? '{' : '\\",'}\\"${name}\\":\\"")\n  property(name="${property}" format="json"${extra})`;
  return `# dcmsafe test audit repository: syslog over TLS (RFC 5425) on 127.0.0.1:${port} only.
global(
  workDirectory=${rs(workDir)}
  maxMessageSize="128k"
  defaultNetstreamDriver="gtls"
  defaultNetstreamDriverCAFile=${rs(pki.ca)}
  defaultNetstreamDriverCertFile=${rs(pki.cert)}
  defaultNetstreamDriverKeyFile=${rs(pki.key)}
  net.enableDNS="off"
  parser.escapeControlCharactersOnReceive="off"
  parser.dropTrailingLFOnReception="off"
)
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")

template(name="dcmsafeMsg" type="list") {
${field('pri', 'pri', true)}
${field('hostname', 'hostname')}
${field('app', 'app-name')}
${field('procid', 'procid')}
${field('msgid', 'msgid')}
${field('timestamp', 'timereported', false, ' dateFormat="rfc3339"')}
${field('msg', 'msg')}
  constant(value="\\"}\\n")
}
template(name="dcmsafeRaw" type="list") {
  constant(value="\\"")
  property(name="rawmsg" format="json")
  constant(value="\\"\\n")
}

ruleset(name="audit") {
  action(type="omfile" file=${rs(msgFile)} template="dcmsafeMsg")
  action(type="omfile" file=${rs(rawFile)} template="dcmsafeRaw")
}
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="audit")
`;
}

const lines = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
};

/** Writes the configuration into `dir` (created) for `port`; nothing runs yet. */
export function rsyslogHarness(dir: string, port: number, pki: RsyslogPki): RsyslogHarness {
  const workDir = path.join(dir, 'work');
  mkdirSync(workDir, { recursive: true });
  const h = {
    dir,
    port,
    conf: path.join(dir, 'rsyslog.conf'),
    pidFile: path.join(dir, 'rsyslogd.pid'),
    workDir,
    logFile: path.join(dir, 'rsyslogd.log'),
    msgFile: path.join(dir, 'msg.jsonl'),
    rawFile: path.join(dir, 'raw.jsonl'),
  };
  writeFileSync(h.conf, rsyslogConfig({ port, pki, workDir, msgFile: h.msgFile, rawFile: h.rawFile }));
  return {
    ...h,
    bashStart: () => `
      rm -f ${q(h.pidFile)}
      rsyslogd -n -f ${q(h.conf)} -i ${q(h.pidFile)} >> ${q(h.logFile)} 2>&1 &
      if ! timeout 20 bash -c 'until ss -Hltn "sport = :${port}" | grep -q LISTEN; do sleep 0.05; done'; then
        echo "rsyslogd does not listen on ${port}"; cat ${q(h.logFile)}; exit 97
      fi`,
    bashWaitMessages: (n: number) => `
      timeout 20 bash -c 'until n=$({ wc -l < "$1"; } 2>/dev/null); [ "\${n:-0}" -ge ${n} ]; do sleep 0.05; done' _ ${q(h.msgFile)} || echo "rsyslog wrote fewer than ${n} messages"`,
    bashStop: () => `
      if [ -s ${q(h.pidFile)} ]; then
        rspid=$(cat ${q(h.pidFile)})
        kill -TERM "$rspid" 2>/dev/null
        timeout 20 bash -c "while kill -0 $rspid 2>/dev/null; do sleep 0.05; done" || echo "rsyslogd $rspid did not stop"
      fi`,
    received: () => lines(h.msgFile).map((l) => JSON.parse(l) as ReceivedSyslog),
    receivedRaw: () => lines(h.rawFile).map((l) => JSON.parse(l) as string),
    log: () => lines(h.logFile).join('\n'),
  };
}
