/**
 * IP → ASN + AS organization, and IP → country, from the CSV files of ip-location-db
 * (https://github.com/sapics/ip-location-db, CC BY 4.0: RouteViews, DB-IP, NRO). By default
 * the npm packages `@ip-location-db/asn` and `@ip-location-db/asn-country`; a user can point
 * `enrich.asn_csv` / `enrich.country_csv` at newer files in the same format.
 *
 * CSV rows: `start,end,asn,org` (asn) or `start,end,CC` (country); start/end inclusive,
 * either address text or (the `-num` IPv4 files) a decimal number.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TokenwatchError } from '../core/errors.js';
import { parseIpv4, parseIpv6 } from './ip-address.js';
import { Ipv4RangeBuilder, Ipv6RangeBuilder, StringInterner, type Ipv4RangeTable, type Ipv6RangeTable } from './range-table.js';

export interface CsvPaths {
  ipv4?: string | undefined;
  ipv6?: string | undefined;
}

export interface AsnTables {
  v4: Ipv4RangeTable;
  v6: Ipv6RangeTable;
  /** Interned AS organization names; range value `b` indexes it. Range value `a` is the AS number. */
  orgs: readonly string[];
  /** "@ip-location-db/asn 2.3.2026061719" or the file names and modification dates. */
  version: string;
}

export interface CountryTables {
  v4: Ipv4RangeTable;
  v6: Ipv6RangeTable;
  /** Interned ISO 3166 alpha-2 codes; range value `a` indexes it. */
  countries: readonly string[];
  version: string;
}

const require = createRequire(import.meta.url);

/** Directory and version of an installed npm data package. */
export function packageFiles(name: string): { dir: string; version: string } {
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${name}/package.json`);
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `enrichment data package ${name} is not installed: run npm install, or set enrich.asn_csv / enrich.country_csv to files`, undefined, { cause });
  }
  const version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version?: string }).version ?? 'unknown';
  return { dir: dirname(pkgJson), version };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'latin1'); // org names are re-decoded below only when they are not ASCII
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `cannot read enrichment file ${path}: ${(cause as Error).message}`, undefined, { cause });
  }
}

/** Calls `row(line, start, end, commas)` for every non-empty line; `commas` holds the first three comma offsets. */
function forEachRow(text: string, path: string, row: (lineStart: number, lineEnd: number, c1: number, c2: number, c3: number) => void): void {
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    lineNo++;
    if (end > pos) {
      const c1 = text.indexOf(',', pos);
      const c2 = c1 < 0 ? -1 : text.indexOf(',', c1 + 1);
      if (c1 < 0 || c1 >= end || c2 < 0 || c2 > end) throw new TokenwatchError('config_invalid', `${path}:${lineNo}: expected start,end,value`);
      const c3 = text.indexOf(',', c2 + 1);
      row(pos, end, c1, c2, c3 < 0 || c3 > end ? -1 : c3);
    }
    pos = nl + 1;
  }
}

/** IPv4 bound: dotted quad or decimal number (the `-num` files). */
function v4Bound(text: string, from: number, to: number): number {
  const dotted = parseIpv4(text, from, to);
  if (dotted >= 0) return dotted;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return to > from && n <= 0xffffffff ? n : -1;
}

function unquote(text: string, from: number, to: number): string {
  let s = text.slice(from, to);
  if (s.length >= 2 && s.charCodeAt(0) === 34 && s.charCodeAt(s.length - 1) === 34) s = s.slice(1, -1).replaceAll('""', '"');
  // the file was read as latin1 (fast, one byte per char): re-decode names that held UTF-8 bytes
  return /[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

function loadRanges(
  v4Path: string,
  v6Path: string,
  value: (text: string, c2: number, c3: number, end: number) => [number, number],
): { v4: Ipv4RangeTable; v6: Ipv6RangeTable } {
  const v4 = new Ipv4RangeBuilder();
  const v4Text = readText(v4Path);
  forEachRow(v4Text, v4Path, (ls, le, c1, c2, c3) => {
    const start = v4Bound(v4Text, ls, c1);
    const end = v4Bound(v4Text, c1 + 1, c2);
    if (start < 0 || end < start) throw new TokenwatchError('config_invalid', `${v4Path}: bad IPv4 range "${v4Text.slice(ls, c2)}"`);
    const [a, b] = value(v4Text, c2, c3, le);
    v4.add(start, end, a, b);
  });
  const v6 = new Ipv6RangeBuilder();
  const v6Text = readText(v6Path);
  const start = new Uint32Array(4);
  const end = new Uint32Array(4);
  forEachRow(v6Text, v6Path, (ls, le, c1, c2, c3) => {
    if (!parseIpv6(v6Text, start, ls, c1) || !parseIpv6(v6Text, end, c1 + 1, c2)) {
      throw new TokenwatchError('config_invalid', `${v6Path}: bad IPv6 range "${v6Text.slice(ls, c2)}" (use the address-text IPv6 file, not -num)`);
    }
    const [a, b] = value(v6Text, c2, c3, le);
    v6.add(start, end, a, b);
  });
  return { v4: v4.build(), v6: v6.build() };
}

const ASN_PACKAGE = '@ip-location-db/asn';
const COUNTRY_PACKAGE = '@ip-location-db/asn-country';

/** ASN tables from the configured CSV files, or from the installed `@ip-location-db/asn` package. */
export function loadAsnCsv(paths: CsvPaths = {}): AsnTables {
  const pkg = paths.ipv4 && paths.ipv6 ? undefined : packageFiles(ASN_PACKAGE);
  const v4Path = paths.ipv4 ?? join(pkg!.dir, 'asn-ipv4-num.csv');
  const v6Path = paths.ipv6 ?? join(pkg!.dir, 'asn-ipv6.csv');
  const orgs = new StringInterner();
  const pair: [number, number] = [0, 0];
  const tables = loadRanges(v4Path, v6Path, (text, c2, c3, end) => {
    const asnEnd = c3 < 0 ? end : c3;
    let asn = 0;
    for (let i = c2 + 1; i < asnEnd; i++) asn = asn * 10 + (text.charCodeAt(i) - 48);
    pair[0] = asn >>> 0;
    pair[1] = c3 < 0 ? orgs.intern('') : orgs.intern(unquote(text, c3 + 1, end));
    return pair;
  });
  return { ...tables, orgs: orgs.values, version: describe(pkg && { name: ASN_PACKAGE, version: pkg.version }, paths) };
}

/** Country tables from the configured CSV files, or from the installed `@ip-location-db/asn-country` package. */
export function loadCountryCsv(paths: CsvPaths = {}): CountryTables {
  const pkg = paths.ipv4 && paths.ipv6 ? undefined : packageFiles(COUNTRY_PACKAGE);
  const v4Path = paths.ipv4 ?? join(pkg!.dir, 'asn-country-ipv4-num.csv');
  const v6Path = paths.ipv6 ?? join(pkg!.dir, 'asn-country-ipv6.csv');
  const countries = new StringInterner();
  const pair: [number, number] = [0, 0];
  const tables = loadRanges(v4Path, v6Path, (text, c2, c3, end) => {
    pair[0] = countries.intern(text.slice(c2 + 1, c3 < 0 ? end : c3).trim().toUpperCase());
    return pair;
  });
  return { ...tables, countries: countries.values, version: describe(pkg && { name: COUNTRY_PACKAGE, version: pkg.version }, paths) };
}

function describe(pkg: { name: string; version: string } | undefined, paths: CsvPaths): string {
  const files = [paths.ipv4, paths.ipv6].filter((p): p is string => p !== undefined).map(fileStamp);
  return [pkg && `${pkg.name} ${pkg.version}`, ...files].filter(Boolean).join(' + ');
}

/** `name (modified 2026-06-17)`: what a user-supplied file is, for the alert's provenance. */
export function fileStamp(path: string): string {
  try {
    const { mtime } = statSync(path);
    return `${path} (modified ${mtime.toISOString().slice(0, 10)})`;
  } catch {
    return path;
  }
}
