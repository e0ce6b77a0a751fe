// Write a Secret directory the way kubelet's atomic writer does: a new
// timestamped folder, `..data_tmp` pointing at it, one rename over `..data`,
// top-level links through `..data`, then the old folder removed. A reader that
// follows `..data` never sees a mix of old and new files.
import { randomInt } from 'node:crypto';
import { chown, mkdir, readlink, rename, rm, symlink, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';

export interface SecretFile {
  data: string | Buffer;
  mode?: number;
}

export interface WriteOptions {
  /** Like a pod's fsGroup: group-own the files and let the group read the key. */
  fsGroup?: number;
  now?: Date;
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** `..2026_11_29_06_00_00.123456789`, as kubelet names them. */
export function timestampedName(now: Date): string {
  const d = now;
  const stamp = `${d.getUTCFullYear()}_${two(d.getUTCMonth() + 1)}_${two(d.getUTCDate())}_${two(d.getUTCHours())}_${two(d.getUTCMinutes())}_${two(d.getUTCSeconds())}`;
  return `..${stamp}.${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

export async function writeAtomic(dir: string, files: Record<string, SecretFile>, o: WriteOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  let old: string | undefined;
  try {
    old = await readlink(join(dir, '..data'));
  } catch {
    old = undefined;
  }
  const name = timestampedName(o.now ?? new Date());
  const folder = join(dir, name);
  await mkdir(folder, { mode: 0o755 });
  for (const [file, f] of Object.entries(files)) {
    const mode = o.fsGroup !== undefined && f.mode === 0o600 ? 0o640 : (f.mode ?? 0o644);
    await writeFile(join(folder, file), f.data, { mode });
    if (o.fsGroup !== undefined) await chown(join(folder, file), process.getuid?.() ?? 0, o.fsGroup);
  }
  const tmp = join(dir, '..data_tmp');
  await rm(tmp, { force: true });
  await symlink(name, tmp);
  await rename(tmp, join(dir, '..data'));
  for (const file of Object.keys(files)) {
    const link = join(dir, file);
    if (!(await exists(link))) await symlink(join('..data', file), link);
  }
  if (old && old !== name) await rm(join(dir, old), { recursive: true, force: true });
  return name;
}
