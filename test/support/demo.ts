// Helpers for the `tlsmesh demo` end-to-end tests: read its work dir and
// summary from the output, and find any process it left behind (every child
// carries TLSMESH_DEMO_DIR=<work dir> in its environment).
import { readdirSync, readFileSync } from 'node:fs';

export function workDirOf(out: string): string | undefined {
  return /work dir (\/\S+?)\)/.exec(out)?.[1];
}

/** Pids of live processes whose environment names this demo work dir. */
export function processesOf(dir: string): number[] {
  return demoProcesses(`TLSMESH_DEMO_DIR=${dir}\0`);
}

/** Pids of live demo children whose work dir is anywhere under `parent`. */
export function demoProcessesUnder(parent: string): number[] {
  return demoProcesses(`TLSMESH_DEMO_DIR=${parent}/`);
}

function demoProcesses(mark: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1');
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      // A zombie (state Z) is gone already, only not yet reaped by its parent.
      if (env.includes(mark) && !/^\d+ \(.*\) Z /.test(stat)) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

export interface DemoSummary {
  pass: boolean;
  ok: number;
  failed: number;
  rotations: { frontend: number; backend: number };
  refused: Record<string, number>;
  tries: number;
  refusedAsExpected: number;
  removed: boolean;
}

/** Parse the summary block `tlsmesh demo` prints at the end (the same in both modes). */
export function parseSummary(out: string): DemoSummary | undefined {
  const at = out.lastIndexOf('tlsmesh demo summary:');
  if (at < 0) return undefined;
  const s = out.slice(at);
  const req = /requests\s+(\d+) ok, (\d+) failed/.exec(s);
  const rot = /rotations\s+frontend (\d+), backend (\d+)/.exec(s);
  const att = /attacker\s+(\d+) tries, (\d+) refused with the expected reason/.exec(s);
  const ref = /refused\s+(.*)/.exec(s)?.[1] ?? '';
  if (!req || !rot || !att) return undefined;
  const refused: Record<string, number> = {};
  for (const m of ref.matchAll(/([a-z_]+) (\d+)/g)) refused[m[1]!] = Number(m[2]);
  return {
    pass: /tlsmesh demo summary: (\x1b\[[0-9;]*m)*PASS/.test(s),
    ok: Number(req[1]),
    failed: Number(req[2]),
    rotations: { frontend: Number(rot[1]), backend: Number(rot[2]) },
    refused,
    tries: Number(att[1]),
    refusedAsExpected: Number(att[2]),
    removed: /cleanup\s+\d+ processes stopped, work dir removed/.test(s),
  };
}

/** `[0:07] attacker: KIND  refused by the S sidecar (D): REASON` lines. */
export function attackLines(out: string): { kind: string; line: string; counted?: string; sidecar?: string; direction?: string }[] {
  return [...out.matchAll(/attacker: (\w+)\s+(.*)/g)].map((m) => {
    const r = /^refused by the (\w+) sidecar \((\w+)\): (\w+)/.exec(m[2]!);
    return { kind: m[1]!, line: m[0], sidecar: r?.[1], direction: r?.[2], counted: r?.[3] };
  });
}
