// `tlsmesh verify`: not built yet (see the open issues).
import { UsageError } from '../errors.js';

export async function run(_args: string[]): Promise<number> {
  throw new UsageError('verify: not implemented yet');
}
