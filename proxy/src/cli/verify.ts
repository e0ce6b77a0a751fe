// `tlsmesh verify --bundle CA.pem [--expect ID] [--pin PIN] CERT.pem`: run the
// proxy's own peer checks on a certificate file and print each one.
import { readFile } from 'node:fs/promises';
import { UsageError, oneLine } from '../errors.js';
import { verifyChain } from '../identity/chain.js';
import { explainPeer, type PeerEvidence } from '../identity/peer-check.js';
import { IdMatcher, SpiffeId, patternProblem, trustDomainProblem } from '../identity/spiffe-id.js';
import { PinSet, pinProblem, spkiPinOf } from '../identity/pin.js';
import { parseCertificates, readCertFacts } from '../identity/x509.js';
import { parseDuration, parseFlags, required } from './args.js';

async function readPem(flag: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`verify: ${flag}: ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : oneLine(err)}`);
  }
}

function parseOrUsage<T>(flag: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new UsageError(`verify: ${flag}: ${oneLine(err)}`);
  }
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'verify',
    args,
    {
      bundle: { type: 'string' },
      expect: { type: 'string', multiple: true },
      pin: { type: 'string', multiple: true },
      'trust-domain': { type: 'string' },
      role: { type: 'string' },
      skew: { type: 'string' },
    },
    true,
  );
  const bundleFile = required('verify', 'bundle', values.bundle);
  if (positionals.length !== 1) throw new UsageError('verify: expected exactly one CERT.pem');
  for (const e of values.expect ?? []) {
    const p = patternProblem(e);
    if (p) throw new UsageError(`verify: --expect: ${e}: ${p}`);
  }
  for (const p of values.pin ?? []) {
    const why = pinProblem(p);
    if (why) throw new UsageError(`verify: --pin: ${why}`);
  }
  const role = values.role ?? 'any';
  if (role !== 'any' && role !== 'client' && role !== 'server') throw new UsageError('verify: --role: expected client, server or any');
  const skewMs = values.skew === undefined ? 5000 : parseDuration(values.skew);
  if (skewMs === undefined) throw new UsageError('verify: --skew: expected a duration like 5s');
  const certFile = positionals[0]!;
  const anchors = parseOrUsage('--bundle', async () => parseCertificates(await readPem('--bundle', bundleFile), bundleFile));
  const chain = parseOrUsage(certFile, async () => parseCertificates(await readPem(certFile, certFile), certFile));
  const [bundle, certs] = await Promise.all([anchors, chain]).catch((err: unknown) => {
    throw err instanceof UsageError ? err : new UsageError(`verify: ${oneLine(err)}`);
  });
  const leafCert = certs[0]!;
  // A leaf we cannot read is what a peer could send: the checks say why it is refused.
  const { facts: leaf, unreadable } = readCertFacts(leafCert, certFile);
  // Trust anchors we cannot read only do not help guess the trust domain.
  const trustDomain = values['trust-domain'] ?? guessTrustDomain(values.expect, bundle.flatMap((b) => readCertFacts(b).facts?.uris ?? []), leaf?.uris ?? []);
  if (trustDomain === '') throw new UsageError('verify: --trust-domain: required (it cannot be derived from --expect, the bundle or the certificate)');
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem) throw new UsageError(`verify: --trust-domain: ${tdProblem}`);

  const now = Date.now();
  const verdict = verifyChain(leafCert, certs.slice(1), bundle, now, skewMs);
  const path = verdict.path;
  // Time problems are the validity check's to report; the chain check is about trust.
  const structural = verdict.ok || verdict.reason !== 'untrusted' ? verifyChain(leafCert, certs.slice(1), bundle) : verdict;
  const evidence: PeerEvidence = {
    leaf,
    unreadable,
    chain: structural.ok ? { ok: true } : { ok: false, reason: structural.reason, detail: structural.detail },
    chainPins: (structural.ok ? structural.path : path).map(spkiPinOf),
  };
  const results = explainPeer(
    evidence,
    {
      trustDomain,
      allow: values.expect ? IdMatcher.compile(values.expect) : undefined,
      pins: values.pin ? PinSet.from(values.pin) : undefined,
      role,
      skewMs,
    },
    now,
  );
  if (!verdict.ok && verdict.reason !== 'untrusted' && structural.ok) {
    // An intermediate or anchor out of its validity window: report it under validity.
    const v = results.find((r) => r.check === 'validity');
    if (v && v.ok) Object.assign(v, { ok: false, reason: verdict.reason, detail: verdict.detail });
  }
  const width = Math.max(...results.map((r) => r.check.length));
  for (const r of results) {
    process.stdout.write(`${r.ok ? 'PASS' : 'FAIL'}  ${r.check.padEnd(width)}  ${r.ok ? r.detail : `${r.reason}: ${r.detail}`}\n`);
  }
  const failed = results.find((r) => !r.ok);
  process.stdout.write(failed ? `refused: ${failed.reason}\n` : `accepted: ${leaf?.uris[0] ?? ''}\n`);
  return failed ? 1 : 0;
}

function guessTrustDomain(expect: string[] | undefined, anchorUris: string[], leafUris: string[]): string {
  for (const candidate of [...(expect ?? []).map((e) => e.replace(/\/\*$/, '')), ...anchorUris, ...leafUris]) {
    const id = SpiffeId.tryParse(candidate);
    if (id) return id.trustDomain;
  }
  return '';
}
