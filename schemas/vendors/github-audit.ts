/**
 * GitHub audit log event, as the REST API (`GET /orgs/{org}/audit-log`,
 * `/enterprises/{enterprise}/audit-log`), audit log streaming and JSON exports deliver it: a flat
 * object with `action` (`<category>.<operation>`), `@timestamp` (epoch ms; `created_at` too),
 * `actor`, `_document_id`, and for calls made with a token `hashed_token` (base64 SHA-256 of the
 * token, computed by GitHub), `programmatic_access_type`, `token_id` and `token_scopes`.
 * Only the members the normalizer reads are typed; every other member passes through. No unions
 * of objects or arrays: the schema then compiles to a fast acceptor (src/pipeline/schema-acceptor.ts).
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

const optStr = (max = 512) => z.string().max(max).nullish();
const Time = z.union([z.number().positive(), z.string().max(64)]).refine((v) => parseTime(v) !== undefined, 'not a parseable timestamp');
/** GitHub ids are numbers in the API and strings in some exports. */
const Id = z.union([z.number().int().nonnegative(), z.string().max(128)]).nullish();

export const GithubAuditEvent = z
  .looseObject({
    action: z.string().regex(/^[a-z0-9_]+(?:\.[a-z0-9_]+)+$/, 'must be a GitHub audit action (category.operation)'),
    '@timestamp': Time.nullish(),
    created_at: Time.nullish(),
    _document_id: optStr(128),
    actor: optStr(256),
    actor_id: Id,
    actor_ip: optStr(64),
    user: optStr(256),
    user_agent: optStr(1024),
    /** A string, or a list on some enterprise-level events: read defensively, only for `service`. */
    org: z.unknown().optional(),
    business: optStr(256),
    repo: z.unknown().optional(),
    hashed_token: optStr(256),
    token_id: Id,
    programmatic_access_type: optStr(128),
    /** Comma-separated, as GitHub documents it ("repo,workflow"). */
    token_scopes: optStr(4096),
    operation_type: optStr(64),
    integration: optStr(256),
    installation_id: Id,
    oauth_application_id: Id,
    oauth_application_name: optStr(256),
    oauth_application: optStr(256),
  })
  .superRefine((e, ctx) => {
    if (e['@timestamp'] == null && e.created_at == null) ctx.addIssue({ code: 'custom', path: ['@timestamp'], message: 'a GitHub audit event needs @timestamp or created_at' });
  });
export type GithubAuditEvent = z.output<typeof GithubAuditEvent>;
