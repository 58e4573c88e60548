/**
 * The clouds' published IP ranges → provider, region, service, read from the official file
 * formats (no npm package ships them; `scripts/update-enrichment-data.sh` downloads them):
 *
 * - AWS `ip-ranges.json`: `prefixes[].{ip_prefix, region, service}`, `ipv6_prefixes[].{ipv6_prefix, …}`.
 *   One block is listed under `AMAZON` (every Amazon range) and again under `EC2`, `S3`…; the
 *   specific service wins.
 * - Google Cloud `cloud.json`: `prefixes[].{ipv4Prefix | ipv6Prefix, service, scope}` (scope = region).
 * - Azure Service Tags (`ServiceTags_Public_<date>.json`): `values[].properties.{region,
 *   systemService, addressPrefixes}`. Tags nest (`AzureCloud` ⊃ `AzureCloud.eastus` ⊃
 *   `Storage.EastUS`): each address takes its region and service from the most specific tag.
 *
 * CIDRs are nested or disjoint, so all entries are flattened once, at load, into disjoint
 * segments where the innermost block decides; lookups are then one binary search.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { TokenwatchError } from '../core/errors.js';
import { parseCidr } from './ip-address.js';
import { Ipv4RangeBuilder, Ipv6RangeBuilder, StringInterner, type Ipv4RangeTable, type Ipv6RangeTable } from './range-table.js';

export const CLOUD_RANGE_FORMATS = ['aws', 'gcp', 'azure'] as const;
export type CloudRangeFormat = (typeof CLOUD_RANGE_FORMATS)[number];

export interface CloudRangeFile {
  provider: string;
  file: string;
  /** File format; defaults to the provider name when that is aws, gcp or azure. */
  format?: CloudRangeFormat | undefined;
}

export interface CloudTables {
  v4: Ipv4RangeTable;
  v6: Ipv6RangeTable;
  /** Range value `a` = provider index << 24 | (region index + 1); `b` = service index + 1 (0 = none). */
  providers: readonly string[];
  labels: readonly string[];
  /** Per provider: "ip-ranges.json createDate 2026-06-17-19-13-03" and the like. */
  versions: Record<string, string>;
}

/** One published block before flattening. */
interface Block {
  start: bigint;
  end: bigint;
  /** Higher = more specific among blocks with the same bounds. */
  priority: number;
  provider: number;
  region: number; // label index or -1
  service: number; // label index or -1
}

type Emit = (cidr: string, region: string, service: string, priority: number) => void;

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `cannot read cloud ranges ${path}: ${(cause as Error).message}`, undefined, { cause });
  }
}

function fail(path: string, what: string): never {
  throw new TokenwatchError('config_invalid', `cloud ranges ${path}: ${what}`);
}

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Reads one file; returns its version string. */
function readAws(path: string, doc: Obj, emit: Emit): string {
  if (!Array.isArray(doc.prefixes)) fail(path, 'not an AWS ip-ranges.json (no "prefixes" array)');
  for (const p of arr(doc.prefixes) as Obj[]) emit(str(p.ip_prefix), str(p.region), str(p.service), p.service === 'AMAZON' ? 0 : 1);
  for (const p of arr(doc.ipv6_prefixes) as Obj[]) emit(str(p.ipv6_prefix), str(p.region), str(p.service), p.service === 'AMAZON' ? 0 : 1);
  return `ip-ranges.json createDate ${str(doc.createDate) || '?'} syncToken ${str(doc.syncToken) || '?'}`;
}

function readGcp(path: string, doc: Obj, emit: Emit): string {
  if (!Array.isArray(doc.prefixes)) fail(path, 'not a Google Cloud cloud.json (no "prefixes" array)');
  for (const p of arr(doc.prefixes) as Obj[]) emit(str(p.ipv4Prefix) || str(p.ipv6Prefix), str(p.scope), str(p.service), 0);
  return `cloud.json creationTime ${str(doc.creationTime) || '?'} syncToken ${str(doc.syncToken) || '?'}`;
}

function readAzure(path: string, doc: Obj, emit: Emit): string {
  if (!Array.isArray(doc.values)) fail(path, 'not an Azure Service Tags file (no "values" array)');
  for (const v of arr(doc.values) as Obj[]) {
    const props = (v.properties ?? {}) as Obj;
    const region = str(props.region);
    const service = str(props.systemService);
    const priority = (service ? 2 : 0) + (region ? 1 : 0);
    for (const cidr of arr(props.addressPrefixes)) emit(str(cidr), region, service, priority);
  }
  return `${basename(path)} changeNumber ${String(doc.changeNumber ?? '?')} cloud ${str(doc.cloud) || '?'}`;
}

const READERS: Record<CloudRangeFormat, (path: string, doc: Obj, emit: Emit) => string> = { aws: readAws, gcp: readGcp, azure: readAzure };

function wordsToBig(w: Uint32Array): bigint {
  return (BigInt(w[0]!) << 96n) | (BigInt(w[1]!) << 64n) | (BigInt(w[2]!) << 32n) | BigInt(w[3]!);
}

function bigToWords(b: bigint, out: Uint32Array): Uint32Array {
  for (let i = 3; i >= 0; i--) {
    out[i] = Number(b & 0xffffffffn);
    b >>= 32n;
  }
  return out;
}

export function loadCloudRanges(files: readonly CloudRangeFile[]): CloudTables {
  const providers = new StringInterner();
  const labels = new StringInterner();
  const v4Blocks: Block[] = [];
  const v6Blocks: Block[] = [];
  const versions: Record<string, string> = {};
  for (const f of files) {
    const format = f.format ?? ((CLOUD_RANGE_FORMATS as readonly string[]).includes(f.provider) ? (f.provider as CloudRangeFormat) : undefined);
    if (!format) fail(f.file, `no format for provider "${f.provider}": set format to one of ${CLOUD_RANGE_FORMATS.join(', ')}`);
    const doc = readJson(f.file);
    if (doc === null || typeof doc !== 'object') fail(f.file, 'not a JSON object');
    const provider = providers.intern(f.provider);
    if (provider > 255) fail(f.file, 'more than 256 cloud providers');
    let bad = 0;
    let good = 0;
    const version = READERS[format](f.file, doc as Obj, (cidr, region, service, priority) => {
      const r = parseCidr(cidr);
      if (!r) {
        bad++;
        return;
      }
      good++;
      const block: Block = {
        start: r.v4 ? BigInt(r.start) : wordsToBig(r.start),
        end: r.v4 ? BigInt(r.end) : wordsToBig(r.end),
        priority,
        provider,
        region: region ? labels.intern(region) : -1,
        service: service ? labels.intern(service) : -1,
      };
      (r.v4 ? v4Blocks : v6Blocks).push(block);
    });
    if (good === 0) fail(f.file, `no valid CIDR prefix (${bad} invalid)`);
    const stamp = `${version} (${basename(f.file)}, modified ${statSync(f.file).mtime.toISOString().slice(0, 10)})`;
    versions[f.provider] = versions[f.provider] ? `${versions[f.provider]}; ${stamp}` : stamp;
  }
  const v4 = new Ipv4RangeBuilder();
  flatten(v4Blocks, (start, end, a, b) => v4.add(Number(start), Number(end), a, b));
  const v6 = new Ipv6RangeBuilder();
  const s = new Uint32Array(4);
  const e = new Uint32Array(4);
  flatten(v6Blocks, (start, end, a, b) => v6.add(bigToWords(start, s), bigToWords(end, e), a, b));
  return { v4: v4.build(), v6: v6.build(), providers: providers.values, labels: labels.values, versions };
}

/**
 * Nested-or-disjoint blocks → disjoint segments in address order. A stack holds the blocks
 * that contain the cursor, outermost first; each segment takes provider from the innermost
 * block and region/service from the innermost block that has one.
 */
function flatten(blocks: Block[], out: (start: bigint, end: bigint, a: number, b: number) => void): void {
  blocks.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : x.end > y.end ? -1 : x.end < y.end ? 1 : x.priority - y.priority));
  const stack: Block[] = [];
  let cursor = 0n;
  const emit = (end: bigint): void => {
    if (cursor > end) return;
    const top = stack[stack.length - 1]!;
    let region = -1;
    let service = -1;
    for (let i = stack.length - 1; i >= 0 && (region < 0 || service < 0); i--) {
      if (region < 0) region = stack[i]!.region;
      if (service < 0) service = stack[i]!.service;
    }
    out(cursor, end, ((top.provider << 24) | (region + 1)) >>> 0, service + 1);
    cursor = end + 1n;
  };
  for (const block of blocks) {
    while (stack.length > 0 && stack[stack.length - 1]!.end < block.start) {
      emit(stack[stack.length - 1]!.end);
      stack.pop();
    }
    if (stack.length > 0) emit(block.start - 1n);
    cursor = block.start;
    stack.push(block);
  }
  while (stack.length > 0) {
    emit(stack[stack.length - 1]!.end);
    stack.pop();
  }
}
