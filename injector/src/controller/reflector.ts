// List-then-watch into a local cache, the way client-go's reflector does it:
// list (the cache becomes exactly that, at its resourceVersion), then watch from
// that resourceVersion; a watch that ends normally resumes where it stopped; a
// 410 Expired (as an ERROR event or an HTTP status) means history is gone, so
// list again; any other failure backs off and resumes. The cache is replaced only
// by a complete list, never emptied by a failure.
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { sleep, type Clock } from './clock.js';
import { keyOf, type KubeObject } from './types.js';

export interface WatchEvent {
  type: string;
  object: unknown;
}

export interface WatchHandle {
  /** Settles when the stream ends: null when it closed normally. */
  done: Promise<Error | null>;
  abort(): void;
}

/** The API calls a reflector makes for one resource (kube-client.ts implements it). */
export interface ListWatchClient<T> {
  readonly resource: string;
  list(): Promise<{ items: T[]; resourceVersion: string }>;
  watch(resourceVersion: string, timeoutSeconds: number, onEvent: (e: WatchEvent) => void): Promise<WatchHandle>;
}

export type WatchEnd = 'closed' | 'expired' | 'error';

export interface ReflectorHooks {
  /** The cache changed (a list, or an event). */
  onChange(): void;
  onListError?(err: unknown, retryInMs: number): void;
  onWatchEnd?(how: WatchEnd, err?: unknown): void;
}

export interface ReflectorOptions<T> {
  client: ListWatchClient<T>;
  clock: Clock;
  random: () => number;
  backoff: BackoffPolicy;
  /** Each watch asks the server to end it after this many seconds x [1, 2), like client-go. */
  watchTimeoutSeconds: number;
  hooks: ReflectorHooks;
}

/** The HTTP status of a failed API call, a watch ERROR event or a thrown watch error. */
export function statusCodeOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (e && typeof e.code === 'number') return e.code;
  if (e && typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export class Reflector<T extends KubeObject> {
  private readonly items = new Map<string, T>();
  private resourceVersion: string | undefined;
  private attempts = 0;
  private synced = false;
  private readonly stopper = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly o: ReflectorOptions<T>) {}

  get hasSynced(): boolean {
    return this.synced;
  }

  get lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  values(): T[] {
    return [...this.items.values()];
  }

  /** Record the result of our own write at once, ahead of its watch event. */
  upsert(obj: T): void {
    this.items.set(keyOf(obj.metadata), obj);
  }

  remove(key: string): void {
    this.items.delete(key);
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.running;
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (this.resourceVersion === undefined && !(await this.list())) continue;
      const end = await this.watchOnce();
      if (this.stopped) return;
      this.o.hooks.onWatchEnd?.(end.how, end.err);
      if (end.events > 0) this.attempts = 0;
      if (end.how === 'expired') {
        this.resourceVersion = undefined;
      } else if (end.how === 'error' || (end.events === 0 && end.early)) {
        // A watch that failed, or ended long before its time with nothing in it,
        // is retried after a backoff: never a hot loop against a struggling server.
        await this.backoff();
      }
    }
  }

  private async list(): Promise<boolean> {
    try {
      const { items, resourceVersion } = await this.o.client.list();
      if (this.stopped) return false;
      this.items.clear();
      for (const item of items) this.items.set(keyOf(item.metadata), item);
      this.resourceVersion = resourceVersion;
      this.synced = true;
      this.attempts = 0;
      this.o.hooks.onChange();
      return true;
    } catch (err) {
      if (this.stopped) return false;
      const delay = this.nextDelay();
      this.o.hooks.onListError?.(err, delay);
      await sleep(this.o.clock, delay, this.stopper.signal);
      return false;
    }
  }

  private nextDelay(): number {
    this.attempts += 1;
    return backoffDelay(this.o.backoff, this.attempts, this.o.random());
  }

  private async backoff(): Promise<void> {
    await sleep(this.o.clock, this.nextDelay(), this.stopper.signal);
  }

  private async watchOnce(): Promise<{ how: WatchEnd; err?: unknown; events: number; early: boolean }> {
    const timeoutSeconds = Math.round(this.o.watchTimeoutSeconds * (1 + this.o.random()));
    const started = this.o.clock.now();
    let events = 0;
    let expiredBy: unknown;
    let failedBy: unknown;
    let handle: WatchHandle;
    try {
      handle = await this.o.client.watch(this.resourceVersion!, timeoutSeconds, (e) => {
        if (expiredBy !== undefined || failedBy !== undefined) return;
        if (e.type === 'ERROR') {
          const status = e.object as { code?: number; message?: string };
          const err = Object.assign(new Error(`watch ${this.o.client.resource}: ${status?.message ?? 'ERROR event'}`), { code: status?.code });
          if (status?.code === 410) expiredBy = err;
          else failedBy = err;
          handle?.abort();
          return;
        }
        const obj = e.object as T;
        const rv = obj?.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (e.type === 'BOOKMARK') return;
        events += 1;
        if (e.type === 'DELETED') this.items.delete(keyOf(obj.metadata));
        else if (e.type === 'ADDED' || e.type === 'MODIFIED') this.items.set(keyOf(obj.metadata), obj);
        this.o.hooks.onChange();
      });
    } catch (err) {
      return statusCodeOf(err) === 410 ? { how: 'expired', err, events, early: true } : { how: 'error', err, events, early: true };
    }
    if (expiredBy !== undefined || failedBy !== undefined) handle.abort();
    // The server ends the watch after timeoutSeconds; a connection that silently
    // died never would, so give up on it a little after that.
    const cancelGuard = this.o.clock.setTimer((timeoutSeconds + 30) * 1000, () => handle.abort());
    const onStop = () => handle.abort();
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    if (this.stopped) handle.abort();
    const doneErr = await handle.done;
    cancelGuard();
    this.stopper.signal.removeEventListener('abort', onStop);
    const early = this.o.clock.now() - started < (timeoutSeconds * 1000) / 2;
    if (expiredBy !== undefined) return { how: 'expired', err: expiredBy, events, early };
    if (failedBy !== undefined) return { how: 'error', err: failedBy, events, early };
    if (doneErr && !this.stopped) {
      return statusCodeOf(doneErr) === 410 ? { how: 'expired', err: doneErr, events, early } : { how: 'error', err: doneErr, events, early };
    }
    return { how: 'closed', events, early };
  }
}
