import { describe, expect, it } from 'vitest';
import { parseMetrics, sum } from './prom-text.js';

const TEXT = `# HELP tlsmesh_handshakes_total mTLS handshakes
# TYPE tlsmesh_handshakes_total counter
tlsmesh_handshakes_total{direction="inbound",result="ok",reason=""} 4
tlsmesh_handshakes_total{direction="inbound",result="error",reason="untrusted"} 2
tlsmesh_handshakes_total{direction="outbound",result="error",reason="untrusted"} 1
tlsmesh_connections_active{direction="inbound"} 3
odd_metric{path="a\\"b,c=d"} 1.5
process_start_time_seconds 1700000000
`;

describe('parseMetrics', () => {
  it('reads names, labels (escaped quotes and commas inside values) and values; skips comments', () => {
    const all = parseMetrics(TEXT);
    expect(all).toHaveLength(6);
    expect(all.find((s) => s.name === 'odd_metric')).toEqual({ name: 'odd_metric', labels: { path: 'a"b,c=d' }, value: 1.5 });
    expect(all.find((s) => s.name === 'process_start_time_seconds')).toEqual({ name: 'process_start_time_seconds', labels: {}, value: 1_700_000_000 });
  });

  it('keeps only the names asked for', () => {
    expect(parseMetrics(TEXT, (n) => n === 'tlsmesh_connections_active')).toEqual([{ name: 'tlsmesh_connections_active', labels: { direction: 'inbound' }, value: 3 }]);
  });
});

describe('sum', () => {
  const all = parseMetrics(TEXT);
  it.each([
    [{}, 7],
    [{ result: 'error' }, 3],
    [{ direction: 'inbound', result: 'error', reason: 'untrusted' }, 2],
    [{ reason: '' }, 4],
    [{ reason: 'protocol' }, 0],
  ])('%j -> %s', (match, want) => {
    expect(sum(all, 'tlsmesh_handshakes_total', match)).toBe(want);
  });
});
