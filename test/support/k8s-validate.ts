// Validate Kubernetes objects against the published schemas (the
// kubernetes-models family: the API's OpenAPI schema and cert-manager's CRDs),
// strictly: besides what the schema checks, every field must be one the
// schema knows. The schema alone lets a misspelt `failurPolicy` through, and the
// API server would drop it without a word; here it is an error.
//
// How "known" is found: the compiled schema validator reads each property it
// knows by name; the object is wrapped in Proxies that record those reads. A
// key never read is unknown, except in maps (labels, data...), which the
// validator enumerates.

type Model = { new (data: unknown): object; prototype: { validate(): void } };

const CERT_MANAGER_GROUPS = new Set(['cert-manager.io', 'acme.cert-manager.io', 'trust.cert-manager.io', 'policy.cert-manager.io']);

export async function modelFor(apiVersion: string, kind: string): Promise<Model | undefined> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const spec = CERT_MANAGER_GROUPS.has(group!) ? `@kubernetes-models/cert-manager/${group}/${version}` : group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  try {
    const mod = (await import(spec)) as Record<string, Model>;
    return mod[kind];
  } catch {
    return undefined;
  }
}

interface Seen {
  keys: Set<string>;
  enumerated: boolean;
}

function track(value: unknown, seen: WeakMap<object, Seen>): unknown {
  if (value === null || typeof value !== 'object') return value;
  let rec = seen.get(value);
  if (!rec) {
    rec = { keys: new Set(), enumerated: false };
    seen.set(value, rec);
  }
  const r = rec;
  return new Proxy(value, {
    get(t, k, recv) {
      if (typeof k === 'string') r.keys.add(k);
      return track(Reflect.get(t, k, recv), seen);
    },
    has(t, k) {
      if (typeof k === 'string') r.keys.add(k);
      return Reflect.has(t, k);
    },
    ownKeys(t) {
      r.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

function unknownFields(value: unknown, seen: WeakMap<object, Seen>, path: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  const rec = seen.get(value);
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const p = Array.isArray(value) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
    if (!Array.isArray(value) && rec && !rec.enumerated && !rec.keys.has(k)) out.push(p);
    else out.push(...unknownFields(v, seen, p));
  }
  return out;
}

/** Every problem with `obj`: schema errors, unknown fields, an unknown kind. Empty = valid. */
export async function validateObject(obj: unknown): Promise<string[]> {
  const o = obj as { apiVersion?: unknown; kind?: unknown } | null;
  if (!o || typeof o !== 'object' || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') return ['not a Kubernetes object (apiVersion and kind)'];
  const Model = await modelFor(o.apiVersion, o.kind);
  if (!Model) return [`no schema for ${o.apiVersion} ${o.kind}`];
  const model = new Model(obj);
  const seen = new WeakMap<object, Seen>();
  const problems: string[] = [];
  try {
    Model.prototype.validate.call(track(model, seen));
  } catch (err) {
    problems.push(...String((err as Error).message).split('\n').filter(Boolean));
  }
  for (const f of unknownFields(model, seen, '')) problems.push(`${f}: unknown field`);
  return problems;
}
