// `tlsmesh controller` as a real process: the built CLI, its config files as a
// user writes them, a kubeconfig pointing at the fake API server. It becomes
// ready once listed, creates the Certificate, serves its metrics, exits 0 on
// SIGTERM; a bad config exits 2 with one line naming the field.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAIN, startCli, type Running } from '../../injector/src/testing/process.js';
import { FakeApiServer } from '../support/fake-apiserver.js';
import { eventually, namespace, serviceAccount } from '../support/controller-harness.js';

let dir: string;
let fake: FakeApiServer;
let proc: Running | undefined;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tlsmesh-controller-cli-'));
  fake = await FakeApiServer.start();
});
afterEach(async () => {
  await proc?.stop();
  proc = undefined;
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function writeFiles(controllerYaml: string, injectorYaml = 'trustDomain: mesh.example\nidentity:\n  secretNameTemplate: svid-{serviceAccount}\n'): string {
  writeFileSync(join(dir, 'injector.yaml'), injectorYaml);
  writeFileSync(join(dir, 'controller.yaml'), controllerYaml);
  writeFileSync(
    join(dir, 'kubeconfig'),
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: fake, cluster: {server: "${fake.url}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: test, user: {}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: test}}]',
      'current-context: fake',
      '',
    ].join('\n'),
  );
  return join(dir, 'controller.yaml');
}

describe('tlsmesh controller (process)', () => {
  it('runs against the API server: ready once listed, creates the Certificate, serves metrics, stops on SIGTERM', async () => {
    fake.apply('namespaces', namespace('shop'));
    fake.apply('serviceaccounts', serviceAccount('shop', 'web'));
    const config = writeFiles('injectorConfig: injector.yaml\nduration: 48h\nadmin: {listen: "127.0.0.1:0"}\n');
    proc = startCli(['controller', '--config', config, '--kubeconfig', join(dir, 'kubeconfig')]);
    const started = await proc.waitFor((e) => e.msg === 'controller started');
    expect(started).toMatchObject({ server: fake.url, trustDomain: 'mesh.example', secretNameTemplate: 'svid-{serviceAccount}', duration: '48h0m0s' });
    const admin = `http://127.0.0.1:${started.adminPort as number}`;

    const cert = await eventually(() => fake.get('certificates', 'shop', 'svid-web'), 'the Certificate');
    expect(cert.spec).toMatchObject({ secretName: 'svid-web', uris: ['spiffe://mesh.example/ns/shop/sa/web'], duration: '48h0m0s' });
    await proc.waitFor((e) => e.msg === 'certificate created' && e.certificate === 'shop/svid-web');
    expect((await fetch(`${admin}/healthz/live`)).status).toBe(200);
    expect((await fetch(`${admin}/healthz/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toContain('tlsmesh_controller_actions_total{action="create",result="ok"} 1');
    expect(metrics).toContain('tlsmesh_controller_synced 1');

    expect(await proc.stop()).toBe(0);
    expect(proc.stderr()).toBe('');
  });

  it('is not ready while the API server cannot be listed', async () => {
    fake.fail({ method: 'GET', path: /^\/api\/v1\/namespaces$/, watch: false, status: 500, times: 1_000_000 });
    const config = writeFiles('injectorConfig: injector.yaml\nadmin: {listen: "127.0.0.1:0"}\nbackoff: {initialSeconds: 0.05, maxSeconds: 0.1}\n');
    proc = startCli(['controller', '--config', config, '--kubeconfig', join(dir, 'kubeconfig')]);
    const started = await proc.waitFor((e) => e.msg === 'controller started');
    await proc.waitFor((e) => e.msg === 'list failed' && e.resource === 'namespaces');
    const res = await fetch(`http://127.0.0.1:${started.adminPort as number}/healthz/ready`);
    expect(res.status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${started.adminPort as number}/healthz/live`)).status).toBe(200);
  });

  it.each([
    ['controller.yaml', 'injectorConfig: injector.yaml\nrenewBefore: 30h\n', undefined, 'config: renewBefore: must be shorter than duration'],
    ['the injector config', 'injectorConfig: injector.yaml\n', 'sidecar: {mode: sometimes}\n', 'config: injectorConfig: INJECTOR: sidecar.mode: expected one of native, container'],
    ['a missing injector config', 'injectorConfig: nowhere.yaml\n', undefined, 'config: injectorConfig: NOWHERE: cannot read NOWHERE: no such file'],
  ])('a bad %s exits 2 with one line naming the field', (_what, controllerYaml, injectorYaml, message) => {
    const config = writeFiles(controllerYaml, injectorYaml);
    const r = spawnSync(process.execPath, [MAIN, 'controller', '--config', config, '--kubeconfig', join(dir, 'kubeconfig')], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`${message.replaceAll('INJECTOR', join(dir, 'injector.yaml')).replaceAll('NOWHERE', join(dir, 'nowhere.yaml'))}\n`);
    expect(r.stdout).toBe('');
  });

  it.each([
    [['--config'], 'controller: --config: expected a value'],
    [['--bogus'], 'controller: unknown flag: --bogus'],
    [[], 'controller: --config: required'],
    [['--config', 'CONFIG', '--kubeconfig', '/nonexistent/kubeconfig'], 'controller: --kubeconfig: cannot load /nonexistent/kubeconfig: ENOENT: no such file or directory, open \'/nonexistent/kubeconfig\''],
  ])('bad flags %j exit 2: %s', (args, message) => {
    const config = writeFiles('injectorConfig: injector.yaml\n');
    const r = spawnSync(process.execPath, [MAIN, 'controller', ...args.map((a) => (a === 'CONFIG' ? config : a))], { encoding: 'utf8', env: { ...process.env, TLSMESH_CONTROLLER_CONFIG: '' } });
    expect(r.stderr).toBe(`${message}\n`);
    expect(r.status).toBe(2);
  });
});
