import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CredentialError } from '../../proxy/src/errors.js';
import { readServingDir, TlsReloader, type ServingCredentials } from './serving-tls.js';
import pino from 'pino';
import { issueLeaf, makeCa, writeSecretDir } from './testing/pki.js';

const tmp = mkdtempSync(join(tmpdir(), 'tlsmesh-serving-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ca = makeCa(join(tmp, 'ca'));
const a = issueLeaf(ca, { sans: ['DNS:injector.tlsmesh.svc'], usage: 'server' });
const b = issueLeaf(ca, { sans: ['DNS:injector.tlsmesh.svc'], usage: 'server' });
const silentLogger = pino({ level: 'silent' });

describe('readServingDir', () => {
  it('reads a kubelet-style Secret dir through ..data', async () => {
    const dir = join(tmp, 'kubelet');
    writeSecretDir(dir, { 'tls.crt': a.certPem, 'tls.key': a.keyPem, 'ca.crt': ca.certPem });
    const creds = await readServingDir(dir);
    expect(creds.cert.toString()).toBe(a.certPem);
    expect(creds.notAfter.getTime()).toBeGreaterThan(Date.now());
  });

  it('reads plain files', async () => {
    const dir = mkdtempSync(join(tmp, 'plain-'));
    writeFileSync(join(dir, 'tls.crt'), b.certPem);
    writeFileSync(join(dir, 'tls.key'), b.keyPem);
    expect((await readServingDir(dir)).key.toString()).toBe(b.keyPem);
  });

  it.each([
    ['a key of another certificate', () => ({ 'tls.crt': a.certPem, 'tls.key': b.keyPem }), /tls\.key: does not match tls\.crt$/],
    ['a certificate that is not PEM', () => ({ 'tls.crt': 'hello', 'tls.key': a.keyPem }), /tls\.crt: not a PEM certificate$/],
    ['no key', () => ({ 'tls.crt': a.certPem }), /cannot read .*tls\.key: no such file$/],
    ['nothing', () => ({}), /^serving certificate: .* holds none of tls\.crt, tls\.key$/],
  ] as [string, () => Record<string, string>, RegExp][])('refuses %s', async (_n, files, message) => {
    const dir = mkdtempSync(join(tmp, 'bad-'));
    for (const [name, text] of Object.entries(files())) writeFileSync(join(dir, name), text);
    const err = await readServingDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('TlsReloader', () => {
  it('swaps on a ..data rotation, keeps the old certificate on a bad one, and ignores unchanged bytes', async () => {
    const dir = join(tmp, 'rotating');
    writeSecretDir(dir, { 'tls.crt': a.certPem, 'tls.key': a.keyPem, 'ca.crt': ca.certPem });
    const reloads: ServingCredentials[] = [];
    const errors: unknown[] = [];
    const r = new TlsReloader({ log: silentLogger, dir, pollSeconds: 0, current: await readServingDir(dir), onReload: (c) => reloads.push(c), onError: (e) => errors.push(e) });
    await r.check();
    expect([reloads.length, errors.length]).toEqual([0, 0]);

    writeSecretDir(dir, { 'tls.crt': b.certPem, 'tls.key': a.keyPem, 'ca.crt': ca.certPem });
    await r.check();
    expect(reloads.length).toBe(0);
    expect((errors[0] as Error).message).toMatch(/does not match/);

    writeSecretDir(dir, { 'tls.crt': b.certPem, 'tls.key': b.keyPem, 'ca.crt': ca.certPem });
    await r.check();
    expect(reloads.map((c) => c.cert.toString())).toEqual([b.certPem]);
    await r.stop();
  });

  it('follows directory events without being asked', async () => {
    const dir = join(tmp, 'watched');
    writeSecretDir(dir, { 'tls.crt': a.certPem, 'tls.key': a.keyPem, 'ca.crt': ca.certPem });
    const reloads: ServingCredentials[] = [];
    const r = new TlsReloader({ log: silentLogger, dir, pollSeconds: 0, current: await readServingDir(dir), onReload: (c) => reloads.push(c), onError: () => undefined });
    r.start();
    try {
      writeSecretDir(dir, { 'tls.crt': b.certPem, 'tls.key': b.keyPem, 'ca.crt': ca.certPem });
      const deadline = Date.now() + 10_000;
      while (reloads.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(reloads.map((c) => c.cert.toString())).toEqual([b.certPem]);
    } finally {
      await r.stop();
    }
  });
});
