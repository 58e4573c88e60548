/**
 * Glob patterns for operator-written rules (issuers, scopes, audiences, user agents, workloads):
 * `*` matches any run of characters, `?` one character; everything else is literal and the
 * match is case-sensitive and whole-string. Compiled once per pattern, never per event.
 */
export type GlobMatcher = (value: string) => boolean;

export function compileGlob(pattern: string): GlobMatcher {
  if (!pattern.includes('*') && !pattern.includes('?')) return (v) => v === pattern;
  if (pattern === '*') return () => true;
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  const re = new RegExp(`^${source}$`, 's');
  return (v) => re.test(v);
}

/** True when any of the compiled patterns matches. */
export function compileGlobs(patterns: readonly string[]): GlobMatcher {
  const ms = patterns.map(compileGlob);
  return (v) => ms.some((m) => m(v));
}
