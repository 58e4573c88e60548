import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { githubAudit } from '../../src/normalize/github-audit.js';
import { FORMATS } from '../../src/normalize/index.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { decodeText, decodeValue, detectFormat } from '../../src/pipeline/decode.js';
import { TokenEvent } from '../../schemas/token-event.js';

const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const DIR = new URL('../fixtures/vendors/github_audit/', import.meta.url);
const VENDORS = new URL('../fixtures/vendors/', import.meta.url);
const fixture = (name: string): Record<string, any> => JSON.parse(readFileSync(new URL(`${name}.json`, DIR), 'utf8'));

function run(raw: Record<string, unknown>): TokenEvent[] {
  expect(githubAudit.detect(raw)).toBe(true);
  const parsed = githubAudit.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected: ${parsed.error.message}`);
  const events = githubAudit.normalize(parsed.data, ctx);
  for (const e of events) expect(TokenEvent.safeParse(e).success).toBe(true);
  return events;
}

// GitHub's own base64 SHA-256 of the fixture tokens, as the audit log carries them.
const PAT_HASH = 'M/PRUNwd+MJ6fBokxXaXr7pkjC1fDQ3/TwYy+IQIRQs=';
const FINE_GRAINED_HASH = 'PNkJKyXfy6R5lx4xPemIocs2aImckrIykit3OdoOH6U=';
const APP_HASH = 'eaIugkQ5CWlKAEYeaCRpkprRJaISTNZO34m9wP8mMAQ=';
const OAUTH_HASH = '2+k8tIoo5PgQWydlAGFZeQOViJb9nwnRyrY8XMCvIOo=';
const tokenId = (id: string): string => ctx.fingerprint('github:token_id', id);
const T0 = 1741082400000;

describe('github audit normalizer', () => {
  it('maps oauth_access.create to a mint of the token named by token_id, with its scopes', () => {
    expect(run(fixture('oauth-access-create'))).toEqual([
      {
        event_id: 'github_audit:Qm9rZW4tY3JlYXRlLTAwMQ',
        source: 'github_audit',
        platform: 'github',
        action: 'mint',
        time: T0,
        // GitHub logs classic PATs and OAuth app tokens alike as oauth_access: the kind is left to the uses
        token: { fp: tokenId('9100001'), kind: 'unknown' },
        issuer: 'ci-bot',
        minted_by: 'ci-bot',
        subject: 'ci-bot',
        authority: 'github',
        service: 'acme-corp',
        scopes_granted: ['repo', 'workflow', 'read:org'],
        network: { ip: '198.51.100.40' },
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
        outcome: 'success',
        operation: 'oauth_access.create',
      },
    ]);
  });

  it('maps events carrying hashed_token + programmatic_access_type to uses of that token', () => {
    expect(run(fixture('git-clone-with-pat'))).toEqual([
      {
        event_id: 'github_audit:Z2l0LWNsb25lLTAwMg',
        source: 'github_audit',
        platform: 'github',
        action: 'use',
        time: T0 + 600_000,
        token: { fp: tokenId('9100001'), kind: 'api_key' },
        issuer: 'ci-bot',
        subject: 'ci-bot',
        authority: 'github',
        service: 'acme/payments-service',
        network: { ip: '10.30.1.9' },
        user_agent: 'git/2.43.0',
        outcome: 'success',
        operation: 'git.clone',
      },
    ]);
    // only the hash: keyed on it (a different identity than token_id, see the normalizer's header)
    expect(run(fixture('git-fetch-hashed-token-only'))).toMatchObject([{ action: 'use', token: { fp: ctx.fingerprint('github:hashed_token', PAT_HASH), kind: 'api_key' } }]);
    expect(run(fixture('app-installation-token-use'))).toMatchObject([
      { action: 'use', token: { fp: ctx.fingerprint('github:hashed_token', APP_HASH), kind: 'oauth_access' }, issuer: 'release-bot', subject: 'release-bot[bot]' },
    ]);
    expect(run(fixture('oauth-token-use'))).toMatchObject([
      { action: 'use', token: { fp: ctx.fingerprint('github:hashed_token', OAUTH_HASH), kind: 'oauth_access' }, issuer: 'deploy-dashboard', subject: 'dana-lee' },
    ]);
  });

  it('links a fine-grained PAT grant, its use and its revocation as one token', () => {
    const [granted] = run(fixture('pat-access-granted'));
    const [used] = run(fixture('api-call-with-fine-grained-pat'));
    const [revoked] = run(fixture('pat-access-revoked'));
    expect(granted).toMatchObject({ action: 'mint', token: { fp: tokenId('9200002'), kind: 'api_key' }, issuer: 'dana-lee' });
    expect(used).toMatchObject({ action: 'use', token: { fp: granted!.token.fp, kind: 'api_key' }, network: { ip: '192.0.2.44' } });
    // revoked by an org admin: the token's owner stays the issuer
    expect(revoked).toMatchObject({ action: 'revoke', token: { fp: granted!.token.fp }, issuer: 'dana-lee', subject: 'dana-lee' });
    expect(run(fixture('oauth-access-destroy'))).toMatchObject([{ action: 'revoke', token: { fp: tokenId('9100001') } }]);
  });

  it('keys OAuth authorizations on user + app and installations on their id, so create and destroy join', () => {
    const [authorized] = run(fixture('oauth-authorization-create'));
    const [deauthorized] = run(fixture('oauth-authorization-destroy'));
    expect(authorized).toMatchObject({ action: 'mint', issuer: 'deploy-dashboard', minted_by: 'dana-lee', scopes_granted: ['repo:status', 'read:user'] });
    expect(deauthorized).toMatchObject({ action: 'revoke', token: { fp: authorized!.token.fp } });
    const [installed] = run(fixture('integration-installation-create'));
    expect(installed).toMatchObject({ action: 'mint', token: { fp: ctx.fingerprint('github:installation', '55001234'), kind: 'oauth_access' }, issuer: 'release-bot', minted_by: 'acme-admin' });
    const uninstalled = { ...fixture('integration-installation-create'), action: 'integration_installation.destroy', _document_id: 'dW5pbnN0YWxsLTAxNg' };
    expect(run(uninstalled)).toMatchObject([{ action: 'revoke', token: { fp: installed!.token.fp } }]);
  });

  it('yields nothing for events without a token, and drops revokes that name no token', () => {
    expect(run(fixture('repo-update-web-ui'))).toEqual([]);
    const anonymousRevoke = fixture('oauth-access-destroy');
    delete anonymousRevoke.token_id;
    expect(run(anonymousRevoke)).toEqual([]);
    // an unidentified mint still counts for its issuer, keyed on the event
    const anonymousMint = fixture('oauth-access-create');
    delete anonymousMint.token_id;
    expect(run(anonymousMint)).toMatchObject([{ action: 'mint', token: { fp: ctx.fingerprint('github_audit:event', 'github_audit:Qm9rZW4tY3JlYXRlLTAwMQ') } }]);
  });

  it('accepts ISO timestamps and string token ids from exports; without _document_id the id is a keyed digest', () => {
    const [e] = run(fixture('stream-export-without-document-id'));
    expect(e).toMatchObject({ action: 'use', time: Date.parse('2025-03-04T10:20:00.000Z'), token: { fp: tokenId('9100001') } });
    expect(e!.event_id).toMatch(/^github_audit:1741083600000:[0-9a-f]{20}$/);
    const reordered = Object.fromEntries(Object.entries(fixture('stream-export-without-document-id')).reverse());
    expect(run(reordered)[0]!.event_id).toBe(e!.event_id);
  });

  it('rejects partial and hostile events with a clear reason', () => {
    expect(decodeValue(fixture('invalid-unparseable-timestamp'), ctx)).toMatchObject({ ok: false, format: 'github_audit', error: { code: 'schema_violation', message: expect.stringContaining('not a parseable timestamp') } });
    expect(decodeValue(fixture('invalid-token-scopes-object'), ctx)).toMatchObject({ ok: false, format: 'github_audit', error: { message: expect.stringContaining('token_scopes') } });
    const longHash = fixture('git-clone-with-pat');
    longHash.hashed_token = 'A'.repeat(300);
    expect(githubAudit.schema.safeParse(longHash).success).toBe(false);
    expect(githubAudit.detect({ action: 'Allowed', '@timestamp': T0, actor: 'x' })).toBe(false);
    expect(githubAudit.detect({ action: 'git.clone', actor: 'x' })).toBe(false);
  });

  it('detects GitHub audit events, and no other vendor fixture as GitHub', () => {
    for (const dir of readdirSync(VENDORS)) {
      if (dir === 'github_audit') continue;
      for (const f of readdirSync(new URL(`${dir}/`, VENDORS)).filter((x) => x.endsWith('.json'))) {
        expect(githubAudit.detect(JSON.parse(readFileSync(new URL(`${dir}/${f}`, VENDORS), 'utf8'))), `${dir}/${f}`).toBe(false);
      }
    }
    for (const f of readdirSync(DIR).filter((x) => x.endsWith('.json'))) {
      const raw = fixture(f.slice(0, -5));
      for (const other of FORMATS) if (other.id !== 'github_audit') expect(other.detect(raw), `${other.id} on github_audit/${f}`).toBe(false);
      expect(detectFormat(raw)?.id).toBe('github_audit');
    }
  });

  it('replays the fixture stream through decodeText with auto-detection', () => {
    const lines = readFileSync(new URL('replay.ndjson', DIR), 'utf8').split('\n').filter((l) => l.trim());
    const events: TokenEvent[] = [];
    for (const line of lines) {
      const r = decodeText(line, ctx);
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
      expect(r.format).toBe('github_audit');
      events.push(...r.events);
    }
    expect(events.map((e) => `${e.action}:${e.operation}`)).toEqual([
      'mint:integration_installation.create',
      'mint:oauth_access.create',
      'mint:personal_access_token.access_granted',
      'use:repo.download_zip',
      'use:protected_branch.policy_override',
      'mint:oauth_authorization.create',
      'use:issue.create',
      'revoke:oauth_authorization.destroy',
      'use:git.clone',
      'use:git.fetch',
      'use:git.push',
      'revoke:oauth_access.destroy',
      'revoke:personal_access_token.access_revoked',
    ]);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
  });

  it('never lets a hashed token into normalized output', () => {
    const out = JSON.stringify(readdirSync(DIR).filter((f) => f.endsWith('.json') && !f.startsWith('invalid-')).flatMap((f) => run(fixture(f.slice(0, -5)))));
    for (const h of [PAT_HASH, FINE_GRAINED_HASH, APP_HASH, OAUTH_HASH]) expect(out).not.toContain(h.slice(0, 16));
    expect(out).not.toContain('9100001');
  });
});
