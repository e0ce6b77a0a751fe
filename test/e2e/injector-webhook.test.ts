// The webhook as operators run it: `tlsmesh injector` as a real process serving
// HTTPS on 127.0.0.1, called by curl and by Node's https client with good and
// bad bodies. It must answer each with the right status and a one-line reason,
// and keep serving.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jsonpatch from 'fast-json-patch';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInjectorConfig } from '../../injector/src/config.js';
import { injectManifest } from '../../injector/src/manifest.js';
import { admissionReview, container, pod } from '../../injector/src/testing/builders.js';
import { issueLeaf, makeCa, writeSecretDir, type Ca } from '../../injector/src/testing/pki.js';
import { startCli, type Running } from '../../injector/src/testing/process.js';

const run = promisify(execFile);
const HOST = 'tlsmesh-injector.tlsmesh-system.svc';
const MAX = 64 * 1024;

let tmp: string;
let ca: Ca;
let proc: Running;
let port: number;
let configText: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-webhook-'));
  ca = makeCa(join(tmp, 'ca'));
  const leaf = issueLeaf(ca, { sans: [`DNS:${HOST}`], usage: 'server' });
  writeSecretDir(join(tmp, 'tls'), { 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem, 'ca.crt': ca.certPem });
  configText = `listen: 127.0.0.1:0\ntls:\n  dir: ${join(tmp, 'tls')}\ntrustDomain: cluster.local\nmaxRequestBytes: ${MAX}\nsidecar:\n  image: ghcr.io/tlsmesh/tlsmesh:0.1.0\n`;
  writeFileSync(join(tmp, 'injector.yaml'), configText);
  proc = startCli(['injector', '--config', join(tmp, 'injector.yaml')]);
  port = (await proc.waitFor((e) => e.msg === 'injector listening')).port as number;
});

afterAll(async () => {
  await proc?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

interface Reply {
  status: number;
  type: string;
  body: string;
}

/** curl, verifying the serving certificate against the CA for the Service's DNS name. */
async function curl(path: string, args: string[]): Promise<Reply> {
  const out = join(tmp, `curl-${Math.random().toString(36).slice(2)}`);
  const { stdout } = await run('curl', [
    '-sS', '--max-time', '20', '--cacert', ca.certFile, '--resolve', `${HOST}:${port}:127.0.0.1`,
    '-o', out, '-w', '%{http_code} %{content_type}', ...args, `https://${HOST}:${port}${path}`,
  ]);
  const [status, type] = stdout.split(' ');
  const { readFileSync } = await import('node:fs');
  const body = readFileSync(out, 'utf8');
  rmSync(out);
  return { status: Number(status), type: type ?? '', body };
}

/** Node's https client, verifying the certificate for the Service's DNS name. */
function node(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}, chunked = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', servername: HOST, port, path, method, ca: ca.certPem, headers: { ...(body !== undefined && !chunked ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } },
      (res) => {
        let data = '';
        res.setEncoding('utf8').on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), body: data }));
      },
    );
    req.on('error', reject);
    if (body !== undefined && chunked) {
      const b = Buffer.from(body);
      for (let i = 0; i < b.length; i += 8192) req.write(b.subarray(i, i + 8192));
      req.end();
    } else {
      req.end(body);
    }
  });
}

const json = { 'content-type': 'application/json' };
const offline = (p: object) => parse(injectManifest(JSON.stringify(p), parseInjectorConfig(parse(configText))).output) as object;
const patched = (p: object, reply: Reply) => {
  const res = JSON.parse(reply.body) as { response: { patch: string } };
  const ops = JSON.parse(Buffer.from(res.response.patch, 'base64').toString()) as jsonpatch.Operation[];
  return jsonpatch.applyPatch(structuredClone(p), ops, true, false).newDocument;
};

describe('tlsmesh injector over HTTPS', () => {
  const p = pod({ name: 'web-1', namespace: 'shop', serviceAccountName: 'web', containers: [container('web', { ports: [{ containerPort: 8080 }], readinessProbe: { httpGet: { port: 8080, path: '/ready' } } })] });

  it('curl: a pod creation gets the uid back and a patch equal to `tlsmesh inject`', async () => {
    writeFileSync(join(tmp, 'review.json'), JSON.stringify(admissionReview(p, { uid: 'curl-uid', namespace: 'shop' })));
    const reply = await curl('/inject', ['-H', 'content-type: application/json', '--data-binary', `@${join(tmp, 'review.json')}`]);
    expect([reply.status, reply.type]).toEqual([200, 'application/json']);
    const res = JSON.parse(reply.body);
    expect(res).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'curl-uid', allowed: true, patchType: 'JSONPatch' } });
    expect(patched(p, reply)).toEqual(offline(p));
  });

  it('node: the same through https.request', async () => {
    const reply = await node('POST', '/inject', JSON.stringify(admissionReview(p, { uid: 'node-uid', namespace: 'shop' })), json);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).response.uid).toBe('node-uid');
    expect(patched(p, reply)).toEqual(offline(p));
  });

  it('node: a Deployment review and an UPDATE pass unchanged; /inject/opt-in skips a pod that did not ask', async () => {
    for (const [path, review] of [
      ['/inject', admissionReview({ kind: 'Deployment' }, { uid: 'd', kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' } })],
      ['/inject', admissionReview(p, { uid: 'd', operation: 'UPDATE' })],
      ['/inject/opt-in', admissionReview(p, { uid: 'd' })],
    ] as const) {
      const reply = await node('POST', path, JSON.stringify(review), json);
      expect(JSON.parse(reply.body).response).toEqual({ uid: 'd', allowed: true });
    }
  });

  it('curl: a pod with a bad annotation is denied with every problem named', async () => {
    const bad = pod({ name: 'bad', annotations: { 'tlsmesh.io/inbound-ports': 'x', 'tlsmesh.io/sidecar-mode': 'y' } });
    writeFileSync(join(tmp, 'bad.json'), JSON.stringify(admissionReview(bad, { uid: 'bad-uid', namespace: 'shop' })));
    const reply = await curl('/inject', ['-H', 'content-type: application/json', '--data-binary', `@${join(tmp, 'bad.json')}`]);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).response).toEqual({
      uid: 'bad-uid',
      allowed: false,
      status: { code: 400, message: 'tlsmesh injector: shop/Pod/bad: tlsmesh.io/inbound-ports: expected all or comma-separated ports, got "x"; tlsmesh.io/sidecar-mode: expected one of native, container, got "y"' },
    });
  });

  const bad: [string, () => Promise<Reply>, number, string | RegExp][] = [
    ['curl: not JSON', () => curl('/inject', ['-H', 'content-type: application/json', '--data-binary', 'hello']), 400, /^request body is not JSON: .+\n$/],
    ['node: not JSON', () => node('POST', '/inject', '{"apiVersion":', json), 400, /^request body is not JSON: .+\n$/],
    ['curl: an empty body', () => curl('/inject', ['-H', 'content-type: application/json', '--data-binary', '']), 400, /^request body is not JSON: .+\n$/],
    ['node: not an AdmissionReview', () => node('POST', '/inject', JSON.stringify(pod()), json), 400, 'request body is not an AdmissionReview: kind: expected AdmissionReview, got "Pod"\n'],
    ['curl: admission.k8s.io/v1beta1', () => curl('/inject', ['-H', 'content-type: application/json', '--data-binary', JSON.stringify({ ...admissionReview(pod()), apiVersion: 'admission.k8s.io/v1beta1' })]), 400, 'apiVersion: expected admission.k8s.io/v1, got "admission.k8s.io/v1beta1"\n'],
    ['node: no request', () => node('POST', '/inject', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), json), 400, 'request: required (an object)\n'],
    ['curl: no uid', () => curl('/inject', ['-H', 'content-type: application/json', '--data-binary', JSON.stringify({ ...admissionReview(pod()), request: { ...(admissionReview(pod()).request as object), uid: undefined } })]), 400, 'request.uid: required (a non-empty string)\n'],
    ['node: a CREATE without object', () => node('POST', '/inject', JSON.stringify({ ...admissionReview(pod()), request: { ...(admissionReview(pod()).request as object), object: undefined } }), json), 400, 'request.object: required (an object (operation CREATE))\n'],
    ['curl: form-encoded', () => curl('/inject', ['--data-binary', '{}']), 415, 'content-type: expected application/json, got "application/x-www-form-urlencoded"\n'],
    ['node: oversized, with content-length', () => node('POST', '/inject', 'x'.repeat(MAX + 1), json), 413, `request body of ${MAX + 1} bytes is larger than the ${MAX} bytes allowed\n`],
    ['node: oversized, chunked', () => node('POST', '/inject', JSON.stringify({ pad: 'x'.repeat(MAX * 2) }), json, true), 413, `request body is larger than the ${MAX} bytes allowed\n`],
    ['curl: oversized', () => curl('/inject', ['-H', 'content-type: application/json', '--data-binary', `@${join(tmp, 'big.json')}`]), 413, `request body of ${MAX * 4} bytes is larger than the ${MAX} bytes allowed\n`],
    ['curl: another path', () => curl('/mutate', ['-H', 'content-type: application/json', '--data-binary', '{}']), 404, 'not found: /mutate (the webhook answers POST /inject)\n'],
    ['node: GET /inject', () => node('GET', '/inject'), 405, 'method GET not allowed on /inject: use POST\n'],
  ];

  it.each(bad.map(([n, ...rest]) => [`${n} -> ${rest[1]}`, ...rest] as const))('%s, with a one-line reason; the server keeps serving', async (_n, send, status, message) => {
    writeFileSync(join(tmp, 'big.json'), 'x'.repeat(MAX * 4));
    const reply = await send();
    expect(reply.status).toBe(status);
    expect(reply.type).toMatch(/^text\/plain/);
    if (typeof message === 'string') expect(reply.body).toBe(message);
    else expect(reply.body).toMatch(message);
    expect(reply.body.split('\n').length).toBe(2);
    expect((await node('GET', '/healthz')).body).toBe('ok\n');
    const good = await node('POST', '/inject', JSON.stringify(admissionReview(pod(), { uid: 'after' })), json);
    expect(JSON.parse(good.body).response).toMatchObject({ uid: 'after', allowed: true });
  });

  it('curl refuses the server without the CA: the certificate is really verified', async () => {
    const err = await run('curl', ['-sS', '--max-time', '10', '--resolve', `${HOST}:${port}:127.0.0.1`, `https://${HOST}:${port}/healthz`]).catch((e: { code: number }) => e);
    expect((err as { code: number }).code).toBe(60);
  });

  it('/metrics counts reviews, patches, errors by reason and latency', async () => {
    const reply = await curl('/metrics', []);
    expect(reply.status).toBe(200);
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(reply.body)?.[1]);
    expect(value('tlsmesh_injector_reviews_total{outcome="injected",dry_run="false"}')).toBeGreaterThanOrEqual(2 + bad.length);
    expect(value('tlsmesh_injector_reviews_total{outcome="denied",dry_run="false"}')).toBe(1);
    expect(value('tlsmesh_injector_reviews_total{outcome="ignored",dry_run="false"}')).toBe(2);
    expect(value('tlsmesh_injector_patches_total')).toBeGreaterThanOrEqual(2 + bad.length);
    expect(value('tlsmesh_injector_errors_total{reason="bad_json"}')).toBe(3);
    expect(value('tlsmesh_injector_errors_total{reason="too_large"}')).toBe(3);
    expect(value('tlsmesh_injector_errors_total{reason="missing_field"}')).toBe(3);
    expect(value('tlsmesh_injector_errors_total{reason="inject_error"}')).toBe(1);
    expect(value('tlsmesh_injector_skipped_total{reason="not_opted_in"}')).toBe(1);
    expect(value('tlsmesh_injector_review_duration_seconds_count')).toBeGreaterThan(0);
    expect(value('tlsmesh_injector_tls_expiry_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000);
  });
});
