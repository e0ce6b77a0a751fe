// `tlsmesh inject` on a stream of manifests: JSON, or YAML with any number of
// documents. Each document's objects go through injectObject; the change is
// applied to the parsed document as a JSON Patch so comments, order and style
// of everything else survive. When nothing changes, the input is printed back
// byte for byte, which makes a second run on the output a no-op.
import { Document, LineCounter, parseAllDocuments, type ToStringOptions } from 'yaml';
import type { InjectorConfig } from './config.js';
import { InjectError } from './errors.js';
import { NAMESPACE_LABEL } from './names.js';
import { createPatch, deepEqual } from './patch.js';
import { injectObject, type PodReport } from './workloads.js';
import { applyToDocument } from './yaml-patch.js';

export interface ManifestResult {
  output: string;
  reports: PodReport[];
}

/** Offline, every namespace counts as opted in (as `istioctl kube-inject` does). */
const OFFLINE_NAMESPACE = { [NAMESPACE_LABEL]: 'enabled' };

// Kubernetes reads manifests as YAML 1.1 (0644 is octal, merge keys work): so do we.
const PARSE = { version: '1.1', merge: true, uniqueKeys: true, prettyErrors: false } as const;

export function injectManifest(text: string, cfg: InjectorConfig): ManifestResult {
  return /^\s*[{[]/.test(text) ? injectJson(text, cfg) : injectYaml(text, cfg);
}

function injectJson(text: string, cfg: InjectorConfig): ManifestResult {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new InjectError([`invalid JSON: ${(err as Error).message.split('\n')[0]}`], { cause: err });
  }
  const r = injectObject(obj, cfg, OFFLINE_NAMESPACE);
  if (r.object === obj) return { output: text, reports: r.reports };
  return { output: `${JSON.stringify(r.object, null, 2)}\n`, reports: r.reports };
}

function injectYaml(text: string, cfg: InjectorConfig): ManifestResult {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { ...PARSE, lineCounter: lines });
  if (!Array.isArray(docs)) throw new InjectError(['invalid YAML: not a document stream']);
  const bad = docs.flatMap((d) => d.errors)[0];
  if (bad) {
    const line = lines.linePos(bad.pos[0]).line;
    throw new InjectError([`invalid YAML${line ? ` at line ${line}` : ''}: ${bad.message.split('\n')[0]}`]);
  }
  const reports: PodReport[] = [];
  let changed = false;
  docs.forEach((doc, i) => {
    const obj: unknown = doc.toJS({ maxAliasCount: 1000 });
    const where = docs.length > 1 ? `document ${i + 1}: ` : '';
    const r = injectObject(obj, cfg, OFFLINE_NAMESPACE, where);
    reports.push(...r.reports);
    if (r.object === obj) return;
    changed = true;
    patchDocument(doc, obj, r.object);
  });
  if (!changed) return { output: text, reports };
  const opts: ToStringOptions = { lineWidth: 0, indentSeq: indentsSequences(text) };
  return { output: docs.map((d) => d.toString(opts)).join(''), reports };
}

function patchDocument(doc: Document, before: unknown, after: unknown): void {
  try {
    applyToDocument(doc, createPatch(before, after));
    if (deepEqual(doc.toJS({ maxAliasCount: 1000 }), after)) return;
  } catch {
    // fall through: re-render the whole document
  }
  doc.contents = doc.createNode(after) as Document['contents'];
}

/** kubectl writes `key:\n- item`; most hand-written YAML indents. Keep whichever the input uses. */
function indentsSequences(text: string): boolean {
  const flat = text.match(/^( *)[^\s#-][^\n]*:[ \t]*\n\1- /gm)?.length ?? 0;
  const indented = text.match(/^( *)[^\s#-][^\n]*:[ \t]*\n\1 +- /gm)?.length ?? 0;
  return flat === 0 || indented > flat;
}
