// docs/install.md stays true to what it documents: the files it names exist,
// the controller config table lists exactly the schema's fields, and the
// controller metrics it names are exactly those registered.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { controllerConfigSchema } from '../../injector/src/controller/config.js';
import { ControllerMetrics } from '../../injector/src/controller/metrics.js';
import { ROOT } from '../../injector/src/testing/process.js';

const doc = readFileSync(join(ROOT, 'docs/install.md'), 'utf8');

/** Field paths of a zod object schema, nested objects as `a.b` (what the table documents). */
function fields(schema: unknown, prefix = ''): string[] {
  let s = schema as { def?: { type: string; innerType?: unknown; in?: unknown; shape?: Record<string, unknown> }; shape?: Record<string, unknown> };
  while (s.def && ['default', 'prefault', 'optional', 'pipe', 'transform'].includes(s.def.type)) s = (s.def.innerType ?? s.def.in) as typeof s;
  const shape = s.def?.type === 'object' ? s.def.shape : undefined;
  if (!shape) return [prefix];
  return Object.entries(shape).flatMap(([k, v]) => {
    const inner = fields(v, prefix ? `${prefix}.${k}` : k);
    // issuerRef is documented as one value (its three fields together).
    return k === 'issuerRef' ? [k] : inner;
  });
}

describe('docs/install.md', () => {
  it('names only files that exist', () => {
    const paths = [...new Set([...doc.matchAll(/`(deploy\/[\w./-]*)`/g)].map((m) => m[1]!.replace(/\/$/, '')))];
    expect(paths.length).toBeGreaterThan(5);
    for (const p of paths) expect(existsSync(join(ROOT, p)), p).toBe(true);
  });

  it('documents every controller config field, and no other', () => {
    const section = doc.slice(doc.indexOf('`controller.yaml`:'), doc.indexOf('Its metrics:'));
    const documented = [...section.matchAll(/^\| `([^`]+)`(?:, `([^`]+)`)? \|/gm)].flatMap((m) => [m[1]!, m[2]].filter(Boolean) as string[]);
    expect(documented.sort()).toEqual(fields(controllerConfigSchema).sort());
  });

  it('names exactly the controller metrics that exist', () => {
    const registry = new Registry();
    new ControllerMetrics(registry);
    const named = [...new Set([...doc.matchAll(/`(tlsmesh_controller_[a-z_]+)/g)].map((m) => m[1]!))];
    expect(named.sort()).toEqual(registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name).sort());
  });
});
