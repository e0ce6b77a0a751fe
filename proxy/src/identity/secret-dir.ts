// Read a cert-manager Secret directory as one consistent snapshot. Kubelet's
// atomic writer swaps the `..data` symlink; we read every file through the
// target `..data` pointed at, and retry when it moved while we read.
import { readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface SecretSnapshot {
  kind: 'snapshot';
  /** The `..data` target (`..2026_...`), or `plain` for a directory of plain files. */
  version: string;
  files: ReadonlyMap<string, Buffer>;
  missing: readonly string[];
}

export interface SecretAbsent {
  kind: 'absent';
  why: string;
}

const ATTEMPTS = 5;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

async function readAll(base: string, names: readonly string[]): Promise<{ files: Map<string, Buffer>; missing: string[] }> {
  const files = new Map<string, Buffer>();
  const missing: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      try {
        files.set(name, await readFile(join(base, name)));
      } catch (err) {
        if (errno(err) === 'ENOENT') missing.push(name);
        else throw err;
      }
    }),
  );
  return { files, missing };
}

async function dataTarget(dir: string): Promise<string | undefined> {
  try {
    return await readlink(join(dir, '..data'));
  } catch (err) {
    const code = errno(err);
    if (code === 'ENOENT' || code === 'EINVAL') return undefined;
    throw err;
  }
}

async function statKey(dir: string, names: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    names.map(async (n) => {
      try {
        const s = await stat(join(dir, n));
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    }),
  );
  return parts.join('|');
}

export async function readSecretDir(dir: string, names: readonly string[]): Promise<SecretSnapshot | SecretAbsent> {
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) return { kind: 'absent', why: `${dir} is not a directory` };
  } catch (err) {
    return { kind: 'absent', why: errno(err) === 'ENOENT' ? `${dir} does not exist` : `${dir}: ${errno(err)}` };
  }
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      const target = await dataTarget(dir);
      if (target !== undefined) {
        const { files, missing } = await readAll(join(dir, target), names);
        if ((await dataTarget(dir)) !== target) continue; // swapped while we read
        if (files.size === 0) return { kind: 'absent', why: `${dir}/..data holds none of ${names.join(', ')}` };
        return { kind: 'snapshot', version: target, files, missing };
      }
      const before = await statKey(dir, names);
      const { files, missing } = await readAll(dir, names);
      if ((await statKey(dir, names)) !== before) continue; // replaced while we read
      if (files.size === 0) return { kind: 'absent', why: `${dir} holds none of ${names.join(', ')}` };
      return { kind: 'snapshot', version: 'plain', files, missing };
    } catch (err) {
      // The old `..2026_...` folder was deleted under us: read again.
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') continue;
      return { kind: 'absent', why: `${dir}: ${(err as Error).message}` };
    }
  }
  return { kind: 'absent', why: `${dir} kept changing while being read` };
}
