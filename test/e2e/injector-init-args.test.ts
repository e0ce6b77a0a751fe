// The injector and `tlsmesh init` agree: for every golden case, the init step's
// arguments are accepted by the real `tlsmesh init --dry-run`, the rules it
// prints exempt exactly the uid the sidecar runs as, redirect to the ports the
// generated proxy config listens on, and carry the exclusions the pod asked for.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Container } from '../../injector/src/k8s.js';
import { MAIN, ROOT } from '../../injector/src/testing/process.js';

const DIR = join(ROOT, 'injector/testdata');

interface Found {
  init: Container;
  proxy: Container;
  config: { inbound: { listen: string }[]; outbound: { listen: string }[] };
}

function injectedPods(file: string): Found[] {
  const text = readFileSync(join(DIR, file), 'utf8');
  const objects: unknown[] = file.endsWith('.json') ? [JSON.parse(text)] : parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS());
  const out: Found[] = [];
  const visit = (o: unknown): void => {
    if (!o || typeof o !== 'object') return;
    const r = o as Record<string, unknown>;
    if (Array.isArray(r.items)) return r.items.forEach(visit);
    for (const v of Object.values(r)) if (v && typeof v === 'object') visit(v);
    const spec = r.spec as { initContainers?: Container[]; containers?: Container[] } | undefined;
    const init = spec?.initContainers?.find((c) => c.name === 'tlsmesh-init');
    const meta = r.metadata as { annotations?: Record<string, string> } | undefined;
    if (init && meta?.annotations?.['tlsmesh.io/proxy-config']) {
      const proxy = [...(spec!.initContainers ?? []), ...(spec!.containers ?? [])].find((c) => c.name === 'tlsmesh-proxy')!;
      out.push({ init, proxy, config: parse(meta.annotations['tlsmesh.io/proxy-config']) as Found['config'] });
    }
  };
  objects.forEach(visit);
  return out;
}

const goldens = readdirSync(DIR).filter((f) => f.includes('.golden.'));
const cases = goldens.flatMap((f) => injectedPods(f).map((p, i) => [`${f} #${i + 1}`, p] as const));

describe('the init step of every golden case, run by tlsmesh init --dry-run', () => {
  it('has cases to check', () => expect(cases.length).toBeGreaterThanOrEqual(12));

  it.each(cases)('%s', (_name, { init, proxy, config }) => {
    const args = init.args as string[];
    expect(args[0]).toBe('init');
    const r = spawnSync(process.execPath, [MAIN, ...args, '--dry-run'], { encoding: 'utf8' });
    expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const rules = r.stdout;
    const uid = (proxy.securityContext as { runAsUser: number }).runAsUser;
    expect(rules).toContain(`--uid-owner ${uid} -j RETURN`);
    const inboundPort = config.inbound[0]!.listen.split(':').pop();
    const outboundPort = config.outbound[0]!.listen.split(':').pop();
    expect(rules).toContain(`REDIRECT --to-ports ${inboundPort}`);
    expect(rules).toContain(`REDIRECT --to-ports ${outboundPort}`);
    expect(rules).toContain('--dport 15020 -j RETURN');
    const flag = (name: string) => {
      const i = args.indexOf(name);
      return i < 0 ? [] : args[i + 1]!.split(',');
    };
    for (const p of [...flag('--exclude-inbound-ports'), ...flag('--exclude-outbound-ports')]) expect(rules).toContain(`--dport ${p} -j RETURN`);
    for (const c of flag('--exclude-outbound-cidrs')) expect(rules).toContain(`-d ${c} -j RETURN`);
  });
});
