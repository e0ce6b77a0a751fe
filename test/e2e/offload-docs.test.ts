// docs/offloading.md documents every offload config field, every offload
// metric the registry holds, and every handshake refusal reason; and lists
// nothing that does not exist.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { offloadFields } from '../../proxy/src/config/offload.js';
import { createMetrics } from '../../proxy/src/metrics.js';
import { OFFLOAD_HANDSHAKE_REASONS } from '../../proxy/src/offload/handshake-reason.js';
import { ROOT } from '../support/processes.js';

const doc = readFileSync(join(ROOT, 'docs/offloading.md'), 'utf8');

/** Field paths of a zod schema: `a`, `a.b`, `a[].c` (optional, default and arrays looked through). */
function fieldPaths(schema: unknown, prefix: string): string[] {
  const def = (schema as { _zod: { def: { type: string; innerType?: unknown; element?: unknown; shape?: Record<string, unknown> } } })._zod.def;
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'nullable':
      return fieldPaths(def.innerType, prefix);
    case 'array':
      return fieldPaths(def.element, `${prefix}[]`);
    case 'object':
      return Object.entries(def.shape!).flatMap(([k, v]) => [`${prefix}.${k}`.replace(/^\./, ''), ...fieldPaths(v, `${prefix}.${k}`.replace(/^\./, ''))]);
    default:
      return [];
  }
}

function tableColumn(section: string): string[] {
  const start = doc.indexOf(section);
  const lines = doc.slice(start).split('\n').slice(1);
  const rows: string[] = [];
  let inTable = false;
  for (const l of lines) {
    if (l.startsWith('|')) {
      inTable = true;
      const m = /^\| `([^`]+)`/.exec(l);
      if (m) rows.push(m[1]!);
    } else if (inTable) break;
  }
  return rows;
}

describe('docs/offloading.md', () => {
  const fields = Object.entries(offloadFields).flatMap(([k, v]) => [k, ...fieldPaths(v, k)]);

  it('documents exactly the offload config fields', () => {
    expect(fields.length).toBeGreaterThan(20);
    expect(tableColumn('## Fields').sort()).toEqual([...new Set(fields)].sort());
  });

  it('documents exactly the offload metrics', async () => {
    const registry = new Registry();
    createMetrics(registry, { defaultMetrics: false });
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => /^tlsmesh_(offload|acme)_/.test(n));
    expect(tableColumn('## Metrics and logs').sort()).toEqual(names.sort());
  });

  it('documents exactly the handshake refusal reasons', () => {
    expect(tableColumn('Handshake failure reasons:').sort()).toEqual([...OFFLOAD_HANDSHAKE_REASONS].sort());
  });
});
