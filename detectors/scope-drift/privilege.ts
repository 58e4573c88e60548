/**
 * Scope privilege classification: admin > write > other (unclassified) > read.
 * Pure and pattern-based so it works across OAuth scopes (`orders:write`, `okta.users.manage`),
 * Microsoft Graph permissions (`Directory.ReadWrite.All`) and AWS-style actions (`iam:*`,
 * `s3:PutObject`). Words are matched as whole tokens (camelCase and punctuation split) so
 * `compute` never matches `put`.
 */
import type { Severity } from '../../schemas/alert.js';

export type PrivilegeLevel = 'admin' | 'write' | 'other' | 'read';

/** Higher weight = more dangerous; drives score and severity. */
export const PRIVILEGE_WEIGHT: Readonly<Record<PrivilegeLevel, number>> = {
  admin: 1,
  write: 0.75,
  other: 0.5,
  read: 0.25,
};

/** Severity when a scope of this level newly appears for an issuer. */
export const PRIVILEGE_SEVERITY: Readonly<Record<PrivilegeLevel, Severity>> = {
  admin: 'critical',
  write: 'high',
  other: 'medium',
  read: 'low',
};

// Permissions known to allow tenant-wide takeover even though they do not say "admin".
const ADMIN_EXACT = [
  /^directory\.readwrite\.all$/,
  /^approleassignment\.readwrite\.all$/,
  /^application\.readwrite\.all$/,
  /^rolemanagement\./,
  /^https:\/\/www\.googleapis\.com\/auth\/cloud-platform$/,
  /^cloud-platform$/,
];
const READ_ONLY_MARKERS = /(^|[^a-z])(readonly|read-only|read_only)([^a-z]|$)/;

const ADMIN_WORDS = new Set(['admin', 'administrator', 'manage', 'management', 'root', 'owner', 'superuser', 'sudo', 'impersonate']);
const WRITE_WORDS = new Set([
  'write', 'delete', 'create', 'update', 'modify', 'put', 'post', 'patch', 'edit', 'attach', 'detach', 'set', 'add',
  'remove', 'start', 'stop', 'terminate', 'run', 'invoke', 'send', 'upload', 'revoke', 'grant', 'rotate', 'deploy',
  'exec', 'execute', 'pass', 'assume', 'restore', 'import', 'enable', 'disable', 'reset', 'change', 'replace',
]);
const READ_WORDS = new Set([
  'read', 'get', 'list', 'describe', 'view', 'openid', 'profile', 'email', 'offline', 'search', 'query', 'lookup',
  'introspect', 'userinfo', 'address', 'phone', 'head', 'batchget', 'scan',
]);

/** Split `iam:CreateAccessKey`, `okta.users.manage`, `User.ReadWrite.All` into lower-case words. */
export function scopeWords(scope: string): string[] {
  return scope
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

export function classifyScope(scope: string): PrivilegeLevel {
  const lower = scope.trim().toLowerCase();
  if (lower.length === 0) return 'other';
  if (READ_ONLY_MARKERS.test(lower)) return 'read';
  if (lower.includes('*')) return 'admin';
  if (ADMIN_EXACT.some((re) => re.test(lower))) return 'admin';
  const letters = lower.replace(/[^a-z]/g, '');
  if (letters.includes('fullcontrol') || letters.includes('fullaccess')) return 'admin';
  const ws = scopeWords(scope);
  if (ws.some((w) => ADMIN_WORDS.has(w))) return 'admin';
  const isWrite = ws.some((w) => WRITE_WORDS.has(w));
  // Changing IAM is privilege escalation by definition (`iam:PutRolePolicy`, `iam:CreateAccessKey`).
  if (isWrite && /^iam:/.test(lower)) return 'admin';
  if (isWrite) return 'write';
  if (ws.some((w) => READ_WORDS.has(w))) return 'read';
  return 'other';
}

/** The highest-weight level among scopes (`read` for an empty list). */
export function highestPrivilege(levels: Iterable<PrivilegeLevel>): PrivilegeLevel {
  let best: PrivilegeLevel = 'read';
  for (const l of levels) if (PRIVILEGE_WEIGHT[l] > PRIVILEGE_WEIGHT[best]) best = l;
  return best;
}
