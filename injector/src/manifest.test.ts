import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultInjectorConfig } from './config.js';
import { InjectError } from './errors.js';
import { injectManifest } from './manifest.js';

const cfg = defaultInjectorConfig();
const POD = `apiVersion: v1
kind: Pod
metadata:
  name: p # keep me
spec:
  containers:
  - name: app
    image: x
    volumeMounts:
    - {name: data, mountPath: /d}
  volumes:
  - name: data
    secret:
      secretName: s
      defaultMode: 0440
`;

describe('injectManifest', () => {
  it('prints input without pods back byte for byte', () => {
    const text = '# just a service\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n\n---\nkind: ConfigMap\n';
    expect(injectManifest(text, cfg)).toEqual({ output: text, reports: [] });
  });

  it('keeps comments, kubectl-style sequence indentation, and YAML 1.1 octal modes', () => {
    const out = injectManifest(POD, cfg).output;
    expect(out).toContain('  name: p # keep me\n');
    expect(out).toContain('  containers:\n  - name: app\n');
    expect(out).toContain('    - { name: data, mountPath: /d }\n');
    expect(out).toContain('      defaultMode: 0440\n');
    expect(parse(out, { version: '1.1' }).spec.volumes[0].secret.defaultMode).toBe(0o440);
  });

  it('prints JSON for JSON input', () => {
    const json = JSON.stringify(parse(POD, { version: '1.1' }));
    const out = injectManifest(json, cfg).output;
    expect(JSON.parse(out).spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['tlsmesh-init', 'tlsmesh-proxy']);
    expect(out.endsWith('}\n')).toBe(true);
    expect(injectManifest(out, cfg).output).toBe(out);
  });

  it('reports each pod template, injected or skipped, with where it was', () => {
    const text = `${POD}---\napiVersion: v1\nkind: Pod\nmetadata: {name: h}\nspec: {hostNetwork: true, containers: [{name: a, image: x}]}\n`;
    expect(injectManifest(text, cfg).reports.map((r) => [r.object, r.decision.inject])).toEqual([
      ['document 1: Pod/p', true],
      ['document 2: Pod/h', false],
    ]);
  });

  it('falls back to a full re-render when a patch would cross an alias, still correct', () => {
    const text = `x-containers: &cs\n  - name: app\n    image: x\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers: *cs\n  initContainers: *cs\n`;
    const out = injectManifest(text, cfg).output;
    const obj = parse(out, { version: '1.1' });
    expect(obj.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['tlsmesh-init', 'tlsmesh-proxy', 'app']);
  });

  it.each([
    ['invalid YAML', 'a: [1, 2\nb: c\n', /^invalid YAML at line \d+: /],
    ['duplicate keys', 'a: 1\na: 2\n', /^invalid YAML at line 2: /],
    ['invalid JSON', '{"a": }', /^invalid JSON: /],
    ['a bad annotation', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  annotations:\n    tlsmesh.io/inject: "yes"\nspec:\n  containers: [{name: a}]\n', 'Pod/x: tlsmesh.io/inject: expected "true" or "false", got "yes"'],
  ])('refuses %s with one line', (_n, text, message) => {
    let err: unknown;
    try {
      injectManifest(text, cfg);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InjectError);
    const m = (err as InjectError).message;
    if (typeof message === 'string') expect(m).toBe(message);
    else expect(m).toMatch(message);
    expect(m).not.toContain('\n');
  });
});
