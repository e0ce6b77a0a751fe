// A tiny in-process Kubernetes API server: just enough of the real one's
// list/watch/create/update/delete semantics for the certificate controller's
// tests, over plain HTTP on 127.0.0.1. What it does the way kube-apiserver does:
//   - one global, increasing resourceVersion (etcd's revision), on every object and list
//   - list answers `{kind: XList, metadata: {resourceVersion}, items}`; built-in
//     kinds' items carry no apiVersion/kind, custom resources' items do
//   - watch (`?watch=true|1`) streams one JSON event per line over a chunked 200;
//     without resourceVersion (or "0") it first sends ADDED for every current
//     object; from a resourceVersion older than the compacted history it sends one
//     ERROR event holding a 410 `Expired` Status and closes, like the watch cache
//   - labelSelector (=, ==, !=, in, notin, exists, !exists) on list and watch; an
//     object that stops matching is sent as DELETED (old content, new
//     resourceVersion), one that starts matching as ADDED
//   - create 201 (409 AlreadyExists; 404 when the namespace is missing; 400 when
//     resourceVersion is set), update 200 (404; 409 Conflict on a stale
//     resourceVersion; status kept for kinds with a status subresource;
//     generation bumped when spec changes), delete 200 with the object (404)
//   - errors are `Status` objects with the real reason strings
// What it does not do: authn/authz, pagination, field selectors, patch, garbage
// collection of owner references, namespace finalization (a deleted namespace
// and its objects vanish at once), admission.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

interface Resource {
  plural: string;
  group: string; // '' for core
  version: string;
  kind: string;
  namespaced: boolean;
  builtin: boolean;
  statusSubresource: boolean;
}

export const RESOURCES: Record<string, Resource> = {
  namespaces: { plural: 'namespaces', group: '', version: 'v1', kind: 'Namespace', namespaced: false, builtin: true, statusSubresource: true },
  serviceaccounts: { plural: 'serviceaccounts', group: '', version: 'v1', kind: 'ServiceAccount', namespaced: true, builtin: true, statusSubresource: false },
  certificates: { plural: 'certificates', group: 'cert-manager.io', version: 'v1', kind: 'Certificate', namespaced: true, builtin: false, statusSubresource: true },
};
export type ResourceName = keyof typeof RESOURCES;

interface Change {
  rv: number;
  old?: Obj;
  cur?: Obj;
}

interface Watcher {
  resource: string;
  namespace?: string;
  selector: Selector;
  res: ServerResponse;
}

export interface Fault {
  method: string;
  /** Matched against the path without the query. */
  path: RegExp;
  /** Also matched against `watch` being present, when given. */
  watch?: boolean;
  status: number;
  times: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

export class FakeApiServer {
  private readonly server: Server;
  private rv = 1;
  /** History older than this resourceVersion is gone: watching from before it is 410. */
  private compactedRv = 0;
  private readonly store = new Map<string, Map<string, Obj>>();
  private readonly history = new Map<string, Change[]>();
  private readonly watchers = new Set<Watcher>();
  private readonly faults: Fault[] = [];
  readonly requests: RequestRecord[] = [];

  private constructor() {
    for (const r of Object.keys(RESOURCES)) {
      this.store.set(r, new Map());
      this.history.set(r, []);
    }
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(): Promise<FakeApiServer> {
    const fake = new FakeApiServer();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Current objects of a resource (copies), sorted by namespace/name. */
  list(resource: ResourceName): Obj[] {
    return [...this.store.get(resource)!.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, o]) => clone(o));
  }

  get(resource: ResourceName, namespace: string | undefined, name: string): Obj | undefined {
    const o = this.store.get(resource)!.get(key(namespace, name));
    return o && clone(o);
  }

  /** Create or replace, as another client would (no resourceVersion checks). */
  apply(resource: ResourceName, obj: Obj): Obj {
    const r = RESOURCES[resource]!;
    const k = key(r.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name);
    const old = this.store.get(resource)!.get(k);
    return old ? this.write(resource, k, old, clone(obj), false) : this.insert(resource, k, clone(obj));
  }

  remove(resource: ResourceName, namespace: string | undefined, name: string): boolean {
    const k = key(namespace, name);
    const old = this.store.get(resource)!.get(k);
    if (!old) return false;
    this.erase(resource, k, old);
    return true;
  }

  /** Answer the next `times` matching requests with `status` (a Status body). */
  fail(fault: Omit<Fault, 'times'> & { times?: number }): void {
    this.faults.push({ times: 1, ...fault });
  }

  /**
   * What happens when the API server's watch cache drops history (restart, etcd
   * compaction): every open watch gets an ERROR 410 event and is closed, and
   * watching from any resourceVersion seen so far answers 410.
   */
  expireHistory(): void {
    this.compactedRv = this.rv;
    for (const h of this.history.values()) h.length = 0;
    for (const w of [...this.watchers]) this.endWatch(w, expired(this.compactedRv - 1, this.rv));
  }

  /** Close every open watch stream normally, as the server's watch timeout does. */
  closeWatches(): void {
    for (const w of [...this.watchers]) this.endWatch(w);
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  watchesOf(resource: ResourceName): number {
    return [...this.watchers].filter((w) => w.resource === resource).length;
  }

  async close(): Promise<void> {
    this.closeWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- storage -------------------------------------------------------------

  private insert(resource: string, k: string, obj: Obj): Obj {
    const r = RESOURCES[resource]!;
    this.rv += 1;
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    obj.metadata = { ...obj.metadata, uid: obj.metadata.uid ?? randomUUID(), resourceVersion: String(this.rv), creationTimestamp: new Date(0).toISOString() };
    if (!r.builtin) obj.metadata.generation = 1;
    this.store.get(resource)!.set(k, obj);
    this.publish(resource, { rv: this.rv, cur: obj });
    return clone(obj);
  }

  /** `viaMainResource`: a PUT on the object, which cannot change status when there is a status subresource. */
  private write(resource: string, k: string, old: Obj, obj: Obj, viaMainResource = true): Obj {
    const r = RESOURCES[resource]!;
    this.rv += 1;
    const next: Obj = { ...obj, apiVersion: apiVersionOf(r), kind: r.kind };
    if (r.statusSubresource && viaMainResource) {
      if (old.status === undefined) delete next.status;
      else next.status = old.status;
    }
    const generation = (old.metadata.generation as number | undefined) ?? 1;
    next.metadata = {
      ...obj.metadata,
      uid: old.metadata.uid,
      creationTimestamp: old.metadata.creationTimestamp,
      resourceVersion: String(this.rv),
      ...(r.builtin ? {} : { generation: JSON.stringify(old.spec) === JSON.stringify(obj.spec) ? generation : generation + 1 }),
    };
    this.store.get(resource)!.set(k, next);
    this.publish(resource, { rv: this.rv, old, cur: next });
    return clone(next);
  }

  private erase(resource: string, k: string, old: Obj): Obj {
    if (resource === 'namespaces') {
      for (const [name, r] of Object.entries(RESOURCES)) {
        if (!r.namespaced) continue;
        for (const [ok, o] of [...this.store.get(name)!.entries()]) if (o.metadata.namespace === old.metadata.name) this.erase(name, ok, o);
      }
    }
    this.rv += 1;
    this.store.get(resource)!.delete(k);
    const gone = { ...clone(old), metadata: { ...clone(old).metadata, resourceVersion: String(this.rv) } };
    this.publish(resource, { rv: this.rv, old: gone });
    return gone;
  }

  private publish(resource: string, change: Change): void {
    this.history.get(resource)!.push(change);
    for (const w of this.watchers) if (w.resource === resource) this.send(w, change);
  }

  // --- watch ---------------------------------------------------------------

  private send(w: Watcher, { old, cur }: Change): void {
    const inNs = (o?: Obj) => o !== undefined && (w.namespace === undefined || o.metadata.namespace === w.namespace);
    const was = inNs(old) && w.selector(old!.metadata.labels ?? {});
    const is = inNs(cur) && w.selector(cur!.metadata.labels ?? {});
    if (!was && is) writeEvent(w.res, 'ADDED', cur!);
    else if (was && is) writeEvent(w.res, 'MODIFIED', cur!);
    else if (was && !is) {
      // kube-apiserver's cacher: the previous content with the event's resourceVersion.
      const rv = cur?.metadata.resourceVersion ?? old!.metadata.resourceVersion;
      writeEvent(w.res, 'DELETED', { ...old!, metadata: { ...old!.metadata, resourceVersion: rv } });
    }
  }

  private endWatch(w: Watcher, last?: Obj): void {
    if (!this.watchers.delete(w)) return;
    if (last) writeEvent(w.res, 'ERROR', last);
    w.res.end();
  }

  private watch(resource: string, namespace: string | undefined, q: Record<string, string>, selector: Selector, res: ServerResponse): void {
    const from = q.resourceVersion;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // The real server sends the headers at once, before any event.
    res.flushHeaders();
    const w: Watcher = { resource, namespace, selector, res };
    if (from !== undefined && from !== '' && from !== '0') {
      const n = Number(from);
      if (!Number.isInteger(n) || n < this.compactedRv) {
        writeEvent(res, 'ERROR', expired(n, this.compactedRv));
        res.end();
        return;
      }
      for (const change of this.history.get(resource)!) if (change.rv > n) this.send(w, change);
    } else {
      for (const o of this.store.get(resource)!.values()) this.send(w, { rv: this.rv, cur: o });
    }
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
    const timeout = Number(q.timeoutSeconds);
    if (timeout > 0) {
      const t = setTimeout(() => this.endWatch(w), timeout * 1000);
      res.on('close', () => clearTimeout(t));
    }
  }

  // --- HTTP ----------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const q = Object.fromEntries(u.searchParams);
    const method = req.method ?? 'GET';
    const isWatch = q.watch === 'true' || q.watch === '1';
    const record: RequestRecord = { method, path: u.pathname, query: q, status: 0 };
    this.requests.push(record);
    const reply = (status: number, body: unknown) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const fault = this.faults.find((f) => f.method === method && f.path.test(u.pathname) && (f.watch === undefined || f.watch === isWatch));
    if (fault) {
      fault.times -= 1;
      if (fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
      reply(fault.status, status(fault.status, reasonFor(fault.status), `injected failure for ${method} ${u.pathname}`));
      return;
    }
    const route = parsePath(u.pathname);
    if (!route) return reply(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const r = RESOURCES[route.resource]!;
    const selector = parseSelector(q.labelSelector ?? '');
    if (!selector) return reply(400, status(400, 'BadRequest', `unable to parse requirement: ${q.labelSelector}`));
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const objects = this.store.get(route.resource)!;
      const k = route.name !== undefined ? key(route.namespace, route.name) : '';
      const what = `${r.group ? `${r.plural}.${r.group}` : r.plural} "${route.name}"`;
      if (method === 'GET' && route.name === undefined) {
        if (isWatch) {
          record.status = 200;
          return this.watch(route.resource, route.namespace, q, selector, res);
        }
        const items = [...objects.values()]
          .filter((o) => route.namespace === undefined || o.metadata.namespace === route.namespace)
          .filter((o) => selector(o.metadata.labels ?? {}))
          .map((o) => (r.builtin ? stripTypeMeta(o) : clone(o)));
        return reply(200, { apiVersion: apiVersionOf(r), kind: `${r.kind}List`, metadata: { resourceVersion: String(this.rv) }, items });
      }
      if (method === 'GET') {
        const o = objects.get(k);
        return o ? reply(200, o) : reply(404, status(404, 'NotFound', `${what} not found`));
      }
      if (method === 'DELETE' && route.name !== undefined) {
        const o = objects.get(k);
        return o ? reply(200, this.erase(route.resource, k, o)) : reply(404, status(404, 'NotFound', `${what} not found`));
      }
      let obj: Obj;
      try {
        obj = JSON.parse(body) as Obj;
        if (!obj || typeof obj !== 'object' || typeof obj.metadata?.name !== 'string') throw new Error('metadata.name');
      } catch {
        return reply(400, status(400, 'BadRequest', 'the body is not a valid object with metadata.name'));
      }
      if (r.namespaced && obj.metadata.namespace !== undefined && obj.metadata.namespace !== route.namespace) {
        return reply(400, status(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
      }
      if (r.namespaced) obj.metadata.namespace = route.namespace;
      if (method === 'POST' && route.name === undefined) {
        const ok = key(route.namespace, obj.metadata.name);
        if (obj.metadata.resourceVersion) return reply(400, status(400, 'BadRequest', 'resourceVersion should not be set on objects to be created'));
        if (r.namespaced && !this.store.get('namespaces')!.has(key(undefined, route.namespace!))) {
          return reply(404, status(404, 'NotFound', `namespaces "${route.namespace}" not found`));
        }
        if (objects.has(ok)) return reply(409, status(409, 'AlreadyExists', `${r.plural}${r.group ? `.${r.group}` : ''} "${obj.metadata.name}" already exists`));
        return reply(201, this.insert(route.resource, ok, obj));
      }
      if (method === 'PUT' && route.name !== undefined) {
        if (obj.metadata.name !== route.name) return reply(400, status(400, 'BadRequest', 'the name of the object does not match the name on the URL'));
        const old = objects.get(k);
        if (!old) return reply(404, status(404, 'NotFound', `${what} not found`));
        const given = obj.metadata.resourceVersion;
        if (given !== undefined && given !== '' && given !== old.metadata.resourceVersion) {
          return reply(409, status(409, 'Conflict', `Operation cannot be fulfilled on ${what}: the object has been modified; please apply your changes to the latest version and try again`));
        }
        return reply(200, this.write(route.resource, k, old, obj));
      }
      return reply(405, status(405, 'MethodNotAllowed', `${method} is not supported here`));
    });
  }
}

function parsePath(path: string): { resource: string; namespace?: string; name?: string } | undefined {
  const prefix = path.startsWith('/api/v1/') ? '/api/v1/' : path.startsWith('/apis/cert-manager.io/v1/') ? '/apis/cert-manager.io/v1/' : undefined;
  if (!prefix) return undefined;
  const seg = path.slice(prefix.length).split('/').map(decodeURIComponent);
  let namespace: string | undefined;
  // `namespaces/<ns>/<plural>[/<name>]` is namespaced; `namespaces[/<name>]` is the Namespace itself.
  if (seg[0] === 'namespaces' && seg.length >= 3) {
    namespace = seg[1];
    seg.splice(0, 2);
  }
  const [plural, name, extra] = seg;
  const r = plural === undefined ? undefined : RESOURCES[plural];
  if (!r || extra !== undefined || name === '') return undefined;
  if (apiVersionOf(r) !== prefix.slice(prefix.indexOf('/', 1) + 1, -1)) return undefined;
  if (r.namespaced ? namespace === undefined && name !== undefined : namespace !== undefined) return undefined;
  return { resource: plural!, namespace, name };
}

export type Selector = (labels: Record<string, string>) => boolean;

/** Kubernetes label selector syntax; undefined when it does not parse. */
export function parseSelector(text: string): Selector | undefined {
  const reqs: Selector[] = [];
  const parts = text.match(/(?:[^,(]|\([^)]*\))+/g) ?? [];
  for (const raw of parts) {
    const p = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(p))) {
      const [, k, op, v] = m as unknown as [string, string, string, string];
      reqs.push(op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v);
    } else if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) {
      const [, k, op, list] = m as unknown as [string, string, string, string];
      const vals = new Set(list.split(',').map((s) => s.trim()));
      reqs.push(op === 'in' ? (l) => l[k] !== undefined && vals.has(l[k]!) : (l) => l[k] === undefined || !vals.has(l[k]!));
    } else if ((m = /^(!?)([\w./-]+)$/.exec(p))) {
      const [, not, k] = m as unknown as [string, string, string];
      reqs.push(not ? (l) => !(k in l) : (l) => k in l);
    } else {
      return undefined;
    }
  }
  return (labels) => reqs.every((r) => r(labels));
}

function key(namespace: string | undefined, name: string): string {
  return namespace === undefined ? name : `${namespace}/${name}`;
}

function apiVersionOf(r: Resource): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

function clone<T>(o: T): T {
  return structuredClone(o);
}

function stripTypeMeta(o: Obj): Obj {
  const { apiVersion: _a, kind: _k, ...rest } = clone(o);
  return rest as Obj;
}

function writeEvent(res: ServerResponse, type: string, object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}

function expired(requested: number, oldest: number): Obj {
  return status(410, 'Expired', `too old resource version: ${requested} (${oldest})`) as unknown as Obj;
}

function reasonFor(code: number): string {
  return { 400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 410: 'Expired', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' }[code] ?? 'Unknown';
}

export function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}
