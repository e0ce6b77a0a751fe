import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ca, leaf, tempDir } from '../../../test/support/pki.js';
import { createMetrics } from '../metrics.js';
import { ConfigError } from '../errors.js';
import { AcmeManager, acmeCertificateDir } from './acme.js';
import { Http01Challenges } from './redirect.js';
import type { ServerCertificate } from './webpki.js';

const log = pino({ level: 'silent' });
const tmp = tempDir();
let notFound: https.Server;
let caFile: string;
let directory: string;

beforeAll(async () => {
  // An "ACME server" whose directory answers 404: an order fails at once (no retries for 4xx).
  const serverCa = await ca({ name: 'acme test CA' });
  const cert = await leaf({ issuer: serverCa, dnsNames: ['localhost'] });
  notFound = https.createServer({ key: cert.key.privatePem, cert: cert.certPem }, (_req, res) => {
    res.writeHead(404);
    res.end();
  });
  notFound.listen(0, '127.0.0.1');
  await once(notFound, 'listening');
  caFile = join(tmp.dir, 'ca.pem');
  writeFileSync(caFile, serverCa.certPem);
  directory = `https://localhost:${(notFound.address() as AddressInfo).port}/dir`;
});

afterAll(() => {
  notFound?.close();
  tmp.cleanup();
});

const cfg = (o: Record<string, unknown> = {}) => ({
  directory: 'https://acme.example/dir',
  names: ['shop.example.com', 'www.shop.example.com'],
  storageDir: join(tmp.dir, 'store'),
  keyType: 'ecdsa-p256' as const,
  termsOfServiceAgreed: true,
  ...o,
});

const fakeCert = (dnsNames: string[], notBefore: number, notAfter: number) => ({ leaf: { dnsNames, notBefore, notAfter, serialNumber: '01' } }) as unknown as ServerCertificate;

function manager(o: { current?: ServerCertificate; now?: number; cfg?: Record<string, unknown> } = {}) {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  let now = o.now ?? Date.parse('2026-11-29T12:00:00Z');
  const m = new AcmeManager({
    cfg: cfg(o.cfg),
    field: 'inbound[0]',
    listener: 'edge',
    challenges: new Http01Challenges(),
    current: () => o.current,
    reload: async () => 'ok',
    metrics,
    log,
    clock: () => now,
  });
  return { m, metrics, setNow: (t: number) => (now = t) };
}

describe('AcmeManager.dueAt', () => {
  const day = 86_400_000;
  const t0 = Date.parse('2026-11-01T00:00:00Z');

  it('orders at once without a certificate', () => {
    const { m } = manager({ now: t0 });
    expect(m.dueAt()).toBe(t0);
  });

  it('orders at once when the stored certificate does not cover every name', () => {
    const { m } = manager({ now: t0, current: fakeCert(['shop.example.com'], t0, t0 + 90 * day) });
    expect(m.dueAt()).toBe(t0);
  });

  it('renews at two thirds of the lifetime (day 60 of 90)', () => {
    const { m } = manager({ now: t0, current: fakeCert(['shop.example.com', 'www.shop.example.com'], t0, t0 + 90 * day) });
    expect(m.dueAt()).toBe(t0 + 60 * day);
  });

  it('a wildcard SAN covers the names too', () => {
    const { m } = manager({ now: t0, current: fakeCert(['*.shop.example.com', 'shop.example.com'], t0, t0 + 90 * day) });
    expect(m.dueAt()).toBe(t0 + 60 * day);
  });

  it('keeps the certificate in storageDir/<first name>', () => {
    expect(acmeCertificateDir(cfg())).toBe(join(tmp.dir, 'store', 'shop.example.com'));
  });
});

describe('AcmeManager failures', () => {
  it('a caBundle that cannot be read is a config error naming the field', () => {
    expect(() => manager({ cfg: { caBundle: join(tmp.dir, 'missing.pem') } })).toThrow(ConfigError);
    expect(() => manager({ cfg: { caBundle: join(tmp.dir, 'missing.pem') } })).toThrow(/^config: inbound\[0\]\.acme\.caBundle: cannot use .*missing\.pem: ENOENT$/);
  });

  it('a failed order is counted, keeps the current certificate, and is retried with backoff', async () => {
    const current = fakeCert(['shop.example.com', 'www.shop.example.com'], Date.now() - 1000, Date.now() + 1000);
    const { m, metrics } = manager({ current, now: Date.parse('2026-11-29T12:00:00Z'), cfg: { directory, caBundle: caFile, storageDir: join(tmp.dir, 'fail') } });
    await m.orderNow();
    expect((await metrics.acmeOrders.get()).values.find((v) => v.labels.result === 'error')?.value).toBe(1);
    const s = m.status() as { lastOrder: { result: string; error: string }; nextOrderAt: string; consecutiveFailures: number };
    expect(s.lastOrder.result).toBe('error');
    expect(s.lastOrder.error).toMatch(/404/);
    expect(s.consecutiveFailures).toBe(1);
    expect(s.nextOrderAt).toBe('2026-11-29T12:00:10.000Z');
    await m.orderNow();
    expect((m.status() as { nextOrderAt: string }).nextOrderAt).toBe('2026-11-29T12:00:20.000Z');
    m.stop();
  });
});
