// Golden files: every input in injector/testdata is injected offline and
// compared with its `.golden` twin (regenerate with UPDATE_GOLDEN=1). Each case
// is also checked against the Kubernetes schema, the proxy schema, the webhook
// (its JSON Patch applied by an independent RFC 6902 implementation must give
// the offline result) and a second run (byte-identical output).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig, parseYaml } from '../../proxy/src/config/index.js';
import { proxyConfigSchema } from '../../proxy/src/config/schema.js';
import { parseInjectorConfig, type InjectorConfig } from './config.js';
import { isObject } from './k8s.js';
import { injectManifest } from './manifest.js';
import { ANNOTATION } from './names.js';
import { admissionReview } from './testing/builders.js';
import { validateObject } from '../../test/support/k8s-validate.js';
import { answerReview } from './webhook.js';

const DIR = new URL('../testdata/', import.meta.url).pathname;
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const files = readdirSync(DIR).sort();
const isInput = (f: string) => /\.(ya?ml|json)$/.test(f) && !/\.golden\.|\.config\.ya?ml$/.test(f) && f !== 'config.yaml';
const inputs = files.filter(isInput);
const goldenOf = (f: string) => f.replace(/\.(ya?ml|json)$/, '.golden.$1');
const configOf = (f: string) => f.replace(/\.(ya?ml|json)$/, '.config.yaml');

function configFor(input: string): InjectorConfig {
  const own = join(DIR, configOf(input));
  return parseInjectorConfig(parseYaml(readFileSync(existsSync(own) ? own : join(DIR, 'config.yaml'), 'utf8')));
}

function objectsOf(text: string): unknown[] {
  if (/^\s*[{[]/.test(text)) return [JSON.parse(text)];
  return parseAllDocuments(text, { version: '1.1', merge: true }).map((d) => d.toJS() as unknown);
}

/** Pod templates by path, in document order: [{object, template}] (Lists flattened). */
function templatesOf(objects: unknown[]): { namespace: string; pod: Record<string, unknown> }[] {
  const out: { namespace: string; pod: Record<string, unknown> }[] = [];
  const visit = (o: unknown) => {
    if (!isObject(o)) return;
    const kind = o.kind as string;
    const ns = (isObject(o.metadata) && (o.metadata.namespace as string)) || 'default';
    if (kind?.endsWith('List') && Array.isArray(o.items)) return o.items.forEach(visit);
    const spec = o.spec as Record<string, unknown> | undefined;
    const t =
      kind === 'Pod' ? o : kind === 'CronJob' ? ((spec?.jobTemplate as Record<string, unknown>)?.spec as Record<string, unknown>)?.template : ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(kind) ? spec?.template : undefined;
    if (isObject(t)) out.push({ namespace: ns, pod: { apiVersion: 'v1', kind: 'Pod', metadata: t.metadata ?? {}, spec: t.spec } });
  };
  objects.forEach(visit);
  return out;
}

describe('golden files', () => {
  it('has about fifteen cases, and no golden or config without an input (stale-golden check)', () => {
    expect(inputs.length).toBeGreaterThanOrEqual(15);
    for (const f of files.filter((f) => f.includes('.golden.'))) expect(inputs, `${f} has no input`).toContain(f.replace('.golden.', '.'));
    for (const f of files.filter((f) => f.endsWith('.config.yaml'))) expect(inputs.some((i) => configOf(i) === f), `${f} has no input`).toBe(true);
  });

  describe.each(inputs)('%s', (input) => {
    const text = readFileSync(join(DIR, input), 'utf8');
    const cfg = configFor(input);
    const output = injectManifest(text, cfg).output;
    const goldenFile = join(DIR, goldenOf(input));
    if (UPDATE) writeFileSync(goldenFile, output);

    it('matches its golden file', () => {
      expect(existsSync(goldenFile), `missing ${goldenOf(input)}: run UPDATE_GOLDEN=1 npx vitest run injector/src/golden.test.ts`).toBe(true);
      expect(output).toBe(readFileSync(goldenFile, 'utf8'));
    });

    it('is idempotent: a second run prints the same bytes', () => {
      expect(injectManifest(output, cfg).output).toBe(output);
    });

    it('validates against the Kubernetes schema, unknown fields included (kubernetes-models)', async () => {
      for (const obj of objectsOf(output)) {
        const items = isObject(obj) && obj.kind === 'List' ? (obj.items as unknown[]) : [obj];
        for (const item of items) expect(await validateObject(item)).toEqual([]);
      }
    });

    it('generates proxy configs the proxy schema accepts', () => {
      for (const { pod } of templatesOf(objectsOf(output))) {
        const yaml = (pod.metadata as { annotations?: Record<string, string> }).annotations?.[ANNOTATION.proxyConfig];
        if (yaml !== undefined) expect(() => parseConfig(parseYaml(yaml), proxyConfigSchema)).not.toThrow();
      }
    });

    it("the webhook's JSON Patch, applied with fast-json-patch, gives the offline output", () => {
      const before = templatesOf(objectsOf(text));
      const after = templatesOf(objectsOf(output));
      expect(after.length).toBe(before.length);
      before.forEach(({ namespace, pod }, i) => {
        const res = JSON.parse(answerReview(Buffer.from(JSON.stringify(admissionReview(pod, { namespace }))), 'namespace', cfg).body) as {
          response: { allowed: boolean; patch?: string };
        };
        expect(res.response.allowed).toBe(true);
        const patch = res.response.patch ? (JSON.parse(Buffer.from(res.response.patch, 'base64').toString()) as jsonpatch.Operation[]) : [];
        const patched = jsonpatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
        expect(patched).toEqual(after[i]!.pod);
      });
    });
  });
});
