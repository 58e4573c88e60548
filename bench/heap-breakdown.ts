/**
 * Where a component's retained heap goes (bench/heap-per-token.ts --breakdown): two V8 heap
 * snapshots, one before the component is fed and one after; every object allocated in between and
 * reachable from the component is attributed to the property path it was first reached by
 * (breadth first), e.g. `value.first_event.network` or `map#table`. Strings and boxed numbers are
 * labelled by the property holding them, so `value.issuer` sums the issuer strings of all records.
 * Heavy (the snapshot is parsed in this process): run it with a small --tokens.
 */
import { getHeapSnapshot } from 'node:v8';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

async function take(): Promise<Snapshot> {
  const chunks: string[] = [];
  for await (const c of getHeapSnapshot()) chunks.push(typeof c === 'string' ? c : (c as Buffer).toString('utf8'));
  return JSON.parse(chunks.join('')) as Snapshot;
}

/** The ids of every object now: objects in a later snapshot with an id not in it were allocated since. */
export async function snapshotMark(): Promise<Set<number>> {
  const s = await take();
  const nf = s.snapshot.meta.node_fields.length;
  const idAt = s.snapshot.meta.node_fields.indexOf('id');
  const ids = new Set<number>();
  for (let i = 0; i < s.nodes.length; i += nf) ids.add(s.nodes[i + idAt]!);
  return ids;
}

/** Edges not followed: prototypes, code (and hidden classes: internal edges named `map`). */
const SKIP_EDGE = new Set(['__proto__', 'prototype', 'constructor', 'shared', 'code', 'feedback_cell', 'feedback_vector', 'script', 'native_context']);

/** Bytes by label, for objects not in `before` reachable from globalThis[rootName]. */
export async function breakdown(rootName: string, before: Set<number>, depth = 3): Promise<Map<string, { bytes: number; count: number }>> {
  const s = await take();
  const m = s.snapshot.meta;
  const nf = m.node_fields.length;
  const ef = m.edge_fields.length;
  const [nType, nName, nId, nSize, nEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => m.node_fields.indexOf(f)) as [number, number, number, number, number];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => m.edge_fields.indexOf(f)) as [number, number, number];
  const nodeTypes = m.node_types[0];
  const edgeTypes = m.edge_types[0];
  const count = s.nodes.length / nf;
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += s.nodes[i * nf + nEdges]! * ef;
    firstEdge[i + 1] = e;
  }
  const edgeName = (e: number): string => {
    const t = edgeTypes[s.edges[e + eType]!];
    const v = s.edges[e + eName]!;
    return t === 'element' || t === 'hidden' ? String(v) : s.strings[v]!;
  };
  // the root: a property of the global object named rootName
  let root = -1;
  for (let i = 0; i < count && root < 0; i++) {
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += ef) {
      if (edgeTypes[s.edges[e + eType]!] === 'property' && s.strings[s.edges[e + eName]!] === rootName) {
        root = s.edges[e + eTo]! / nf;
        break;
      }
    }
  }
  if (root < 0) throw new Error(`heap breakdown: root ${rootName} not found`);
  const label = new Map<number, string>([[root, '']]);
  const out = new Map<string, { bytes: number; count: number }>();
  const queue = [root];
  for (let q = 0; q < queue.length; q++) {
    const n = queue[q]!;
    const own = label.get(n)!;
    if (!before.has(s.nodes[n * nf + nId]!)) {
      const key = `${own || '(root)'} <${nodeTypes[s.nodes[n * nf + nType]!]}${nodeTypes[s.nodes[n * nf + nType]!] === 'object' ? ':' + s.strings[s.nodes[n * nf + nName]!] : ''}>`;
      const o = out.get(key) ?? { bytes: 0, count: 0 };
      o.bytes += s.nodes[n * nf + nSize]!;
      o.count++;
      out.set(key, o);
    }
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += ef) {
      const t = edgeTypes[s.edges[e + eType]!]!;
      if (t === 'weak' || t === 'shortcut') continue;
      const name = edgeName(e);
      if (SKIP_EDGE.has(name) || (t === 'internal' && name === 'map')) continue;
      // an LRU list's links: records are labelled by the path from their table instead
      if (t === 'property' && (name === 'prev' || name === 'next' || name === 'head' || name === 'tail')) continue;
      const to = s.edges[e + eTo]! / nf;
      if (label.has(to)) continue;
      const toType = nodeTypes[s.nodes[to * nf + nType]!];
      if (toType === 'code' || (toType === 'hidden' && before.has(s.nodes[to * nf + nId]!))) continue;
      // property and context-variable edges name a step; array/table elements add [] once; internal edges add nothing
      let next = own;
      if (t === 'property' || t === 'context') next = [...(own === '' ? [] : own.split('.')), name].slice(-depth).join('.');
      else if (t === 'element' && !own.endsWith('[]')) next = `${own}[]`;
      label.set(to, next);
      queue.push(to);
    }
  }
  return out;
}

/**
 * The record field a path belongs to: the step after `value` (a keyed store's entry value), else
 * the first step of a path cut short by the depth limit; the store's own table, slot columns, keys
 * and touched times are `(keyed entry)`; memo caches `(caches)`.
 */
function fieldOf(label: string): string {
  const parts = label.replace(/ <.*$/, '').split('.');
  // a keyed store's values live in its `values` array (one slot per key): the step after `values[]` is the record field
  const vs = parts.lastIndexOf('values[]');
  if (vs >= 0 && parts.slice(0, vs).every((p) => p !== 'interner')) return vs + 1 < parts.length ? parts[vs + 1]!.replace('[]', '') : '(record object)';
  const v = parts.lastIndexOf('value');
  if (v >= 0) return v + 1 < parts.length ? parts[v + 1]!.replace('[]', '') : '(record object)';
  if (parts.some((p) => p === 'cache' || p === 'locators' || p === 'resolve')) return '(caches)';
  if (parts.some((p) => p === 'map' || p === 'tokens' || p === 'records' || p === 'issuers' || p === 'workloads')) return '(keyed entry: table, slots, key, time)';
  return parts[0]!.replace('[]', '') || '(root)';
}

export function formatBreakdown(rows: Map<string, { bytes: number; count: number }>, keys: number, top = 25): string {
  const total = [...rows.values()].reduce((a, r) => a + r.bytes, 0);
  const fields = new Map<string, number>();
  for (const [k, r] of rows) fields.set(fieldOf(k), (fields.get(fieldOf(k)) ?? 0) + r.bytes);
  const lines = [`    snapshot: ${Math.round(total / keys)} bytes/key reachable and new; by record field (bytes/key):`];
  for (const [f, b] of [...fields.entries()].sort((a, b) => b[1] - a[1])) if (b / keys >= 0.5) lines.push(`      ${(b / keys).toFixed(1).padStart(7)}  ${f}`);
  lines.push(`    top ${top} paths (bytes/key · objects/key):`);
  for (const [k, r] of [...rows.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) {
    lines.push(`      ${(r.bytes / keys).toFixed(1).padStart(7)}  ${(r.count / keys).toFixed(2).padStart(6)}  ${k}`);
  }
  return lines.join('\n') + '\n';
}
