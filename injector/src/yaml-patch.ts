// Applying a JSON Patch to a parsed YAML document in place, so that `tlsmesh
// inject` keeps the comments, key order and formatting of everything it did not
// change. The caller verifies the result and falls back to a full re-render
// when a path crosses something a patch cannot edit in place (an alias).
import { isAlias, isMap, isSeq, type Document, type Node } from 'yaml';
import { parsePointer, type Operation } from './patch.js';

export function applyToDocument(doc: Document, ops: readonly Operation[]): void {
  for (const op of ops) {
    const tokens = parsePointer(op.path);
    if (tokens.length === 0) {
      if (op.op === 'remove') throw new Error('cannot remove the document root');
      doc.contents = doc.createNode(op.value) as Node;
      continue;
    }
    const parent = walk(doc, tokens.slice(0, -1));
    const last = tokens[tokens.length - 1]!;
    if (isMap(parent)) {
      if (op.op === 'remove') {
        if (!parent.delete(last)) throw new Error(`no key at ${op.path}`);
      } else {
        parent.set(last, doc.createNode(op.value));
      }
    } else if (isSeq(parent)) {
      const idx = last === '-' ? parent.items.length : Number(last);
      if (!Number.isInteger(idx) || idx < 0 || idx > parent.items.length) throw new Error(`bad index at ${op.path}`);
      if (op.op === 'add') parent.items.splice(idx, 0, doc.createNode(op.value));
      else if (op.op === 'remove') parent.items.splice(idx, 1);
      else parent.items[idx] = doc.createNode(op.value);
    } else {
      throw new Error(`not a collection at ${op.path}`);
    }
  }
}

function walk(doc: Document, tokens: readonly string[]): unknown {
  let node: unknown = doc.contents;
  for (const t of tokens) {
    if (isAlias(node)) throw new Error('path crosses an alias');
    if (isMap(node)) node = node.get(t, true);
    else if (isSeq(node)) node = node.items[Number(t)];
    else throw new Error('path leaves the document');
  }
  if (isAlias(node)) throw new Error('path ends at an alias');
  return node;
}
