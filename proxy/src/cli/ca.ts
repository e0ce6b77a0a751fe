// `tlsmesh ca init|issue`: the dev issuer. Writes the cert-manager Secret
// layout with kubelet's atomic steps; `issue --renew` keeps renewing like
// cert-manager (new key at 2/3 of the lifetime).
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError, oneLine } from '../errors.js';
import { initCa, issueSvid, loadCa, writeSvid, type DevCa, type IssueOptions } from '../ca/dev-ca.js';
import { KEY_TYPES, type KeyType } from '../ca/keys.js';
import { spiffeIdProblem, trustDomainProblem } from '../identity/spiffe-id.js';
import { renewalTime } from '../identity/renewal.js';
import { spkiPinOf } from '../identity/pin.js';
import { X509Certificate } from 'node:crypto';
import { parseDuration, parseFlags, required } from './args.js';

const USAGE = 'usage: tlsmesh ca init --dir DIR --trust-domain TD | tlsmesh ca issue --ca DIR --spiffe-id ID --out SECRETDIR [--ttl 24h] [--dns NAME]... [--renew]';

function keyType(flag: string, v: string | undefined): KeyType | undefined {
  if (v === undefined) return undefined;
  if (!(KEY_TYPES as readonly string[]).includes(v)) throw new UsageError(`ca: --${flag}: expected one of ${KEY_TYPES.join(', ')}`);
  return v as KeyType;
}

async function init(args: string[]): Promise<number> {
  const { values } = parseFlags('ca init', args, {
    dir: { type: 'string' },
    'trust-domain': { type: 'string' },
    'key-type': { type: 'string' },
    force: { type: 'boolean' },
  });
  const dir = required('ca init', 'dir', values.dir);
  const td = required('ca init', 'trust-domain', values['trust-domain']);
  const problem = trustDomainProblem(td);
  if (problem) throw new UsageError(`ca init: --trust-domain: ${problem}`);
  if (!values.force && (await access(join(dir, 'ca.key')).then(() => true, () => false))) {
    throw new UsageError(`ca init: --dir: ${dir} already holds a CA (ca.key); use --force to replace it`);
  }
  const ca = await initCa(dir, td, { keyType: keyType('key-type', values['key-type']) });
  process.stdout.write(`created CA for trust domain ${td} in ${dir} (ca.crt pin ${spkiPinOf(new X509Certificate(ca.certPem))})\n`);
  return 0;
}

async function issue(args: string[]): Promise<number> {
  const { values } = parseFlags('ca issue', args, {
    ca: { type: 'string' },
    'spiffe-id': { type: 'string' },
    out: { type: 'string' },
    ttl: { type: 'string' },
    dns: { type: 'string', multiple: true },
    'key-type': { type: 'string' },
    renew: { type: 'boolean' },
    'fs-group': { type: 'string' },
  });
  const caDir = required('ca issue', 'ca', values.ca);
  const id = required('ca issue', 'spiffe-id', values['spiffe-id']);
  const out = required('ca issue', 'out', values.out);
  const idProblem = spiffeIdProblem(id);
  if (idProblem) throw new UsageError(`ca issue: --spiffe-id: ${idProblem}`);
  const ttlMs = values.ttl === undefined ? 24 * 3_600_000 : parseDuration(values.ttl);
  if (ttlMs === undefined) throw new UsageError(`ca issue: --ttl: expected a duration like 30s, 10m, 1h (got ${values.ttl})`);
  const fsGroup = values['fs-group'] === undefined ? undefined : Number(values['fs-group']);
  if (fsGroup !== undefined && !Number.isInteger(fsGroup)) throw new UsageError('ca issue: --fs-group: expected a numeric group id');
  let ca: DevCa;
  try {
    ca = await loadCa(caDir);
  } catch (err) {
    throw new UsageError(`ca issue: ${oneLine(err)}`);
  }
  const opts: IssueOptions = { spiffeId: id, ttlMs, dnsNames: values.dns, keyType: keyType('key-type', values['key-type']) };
  let svid;
  try {
    svid = await issueSvid(ca, opts);
  } catch (err) {
    throw new UsageError(`ca issue: ${oneLine(err)}`);
  }
  await writeSvid(out, svid, { fsGroup });
  const line = (s: typeof svid) => `issued ${id} serial ${s.serialNumber} notAfter ${s.notAfter.toISOString()} to ${out}\n`;
  process.stdout.write(line(svid));
  if (!values.renew) return 0;
  return renewForever(ca, opts, out, fsGroup, svid, line);
}

/** Renew at 2/3 of each certificate's lifetime with a new key, until SIGTERM/SIGINT. */
function renewForever(
  ca: DevCa,
  opts: IssueOptions,
  out: string,
  fsGroup: number | undefined,
  first: Awaited<ReturnType<typeof issueSvid>>,
  line: (s: Awaited<ReturnType<typeof issueSvid>>) => string,
): Promise<number> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout;
    const schedule = (s: typeof first) => {
      const at = renewalTime(s.notBefore.getTime(), s.notAfter.getTime());
      timer = setTimeout(async () => {
        try {
          const next = await issueSvid(ca, opts);
          await writeSvid(out, next, { fsGroup });
          process.stdout.write(line(next));
          schedule(next);
        } catch (err) {
          process.stderr.write(`ca issue: renewal failed: ${oneLine(err)}; retrying in 1s\n`);
          timer = setTimeout(() => schedule(s), 1000);
        }
      }, Math.max(0, at - Date.now()));
    };
    schedule(first);
    const stop = () => {
      clearTimeout(timer);
      resolve(0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'init':
      return init(rest);
    case 'issue':
      return issue(rest);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return sub === undefined ? 2 : 0;
    default:
      throw new UsageError(`ca: unknown subcommand: ${sub} (init, issue)`);
  }
}
