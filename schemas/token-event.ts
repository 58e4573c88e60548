/**
 * The canonical token event: the one shared data model every vendor normalizer
 * produces and every detector consumes. Vendor quirks stop at the normalizer.
 *
 * Never holds a raw token, key id, secret or cookie: `token.fp` (and `parent_fp`)
 * are keyed HMAC fingerprints computed at the edge (src/core/fingerprint.ts).
 */
import { z } from 'zod';

/** Vendor formats tokenwatch decodes. One normalizer per format (src/normalize/). */
export const SOURCE_FORMATS = [
  'cloudtrail',
  'okta',
  'entra_signin',
  'entra_graph',
  'gcp_audit',
  'k8s_audit',
  'auth0',
  'kong',
  'envoy',
  'aws_apigw',
  'entra_audit',
  'security_lake',
  'guardduty',
  'keycloak',
  'vault_audit',
  'github_audit',
] as const;
export const SourceFormat = z.enum(SOURCE_FORMATS);
export type SourceFormat = z.infer<typeof SourceFormat>;

/** Platform families; "one token seen across distinct platforms" compares these. */
export const PLATFORMS = ['aws', 'gcp', 'azure', 'okta', 'auth0', 'k8s', 'gateway', 'keycloak', 'vault', 'github'] as const;
export const Platform = z.enum(PLATFORMS);
export type Platform = z.infer<typeof Platform>;

export const TOKEN_ACTIONS = [
  'mint', // a new token/key/session was issued
  'use', // a token authenticated a call
  'revoke', // a token was revoked / key deleted or deactivated
  'reuse_signal', // the vendor itself flagged reuse (Okta detect_reuse, Auth0 ferrt)
] as const;
export const TokenAction = z.enum(TOKEN_ACTIONS);
export type TokenAction = z.infer<typeof TokenAction>;

export const TOKEN_KINDS = [
  'sts_session', // AWS temporary credentials (ASIA…)
  'aws_access_key', // long-term IAM user key (AKIA…)
  'oauth_access', // OAuth2 / OIDC access token
  'oauth_refresh', // OAuth2 refresh token (one-time when rotation is on)
  'id_token', // OIDC ID token / signed JWT
  'api_key', // static API key / Okta API token
  'gcp_access', // GCP short-lived access token from iamcredentials
  'gcp_sa_key', // GCP service-account key
  'k8s_sa_token', // Kubernetes service-account token
  'session', // an IdP session (cookie-based); fingerprinted, never stored raw
  'app_secret', // Entra application / service-principal client secret (passwordCredentials), by KeyIdentifier
  'app_certificate', // Entra application / service-principal certificate (keyCredentials), by KeyIdentifier
  'vault_token', // HashiCorp Vault token, identified by its accessor
  'unknown',
] as const;
export const TokenKind = z.enum(TOKEN_KINDS);
export type TokenKind = z.infer<typeof TokenKind>;

/** What kind of workload a workload-bound credential belongs to. */
export const WORKLOAD_KINDS = ['ec2_instance', 'k8s_pod', 'ci_oidc', 'lambda', 'ecs_task', 'gce_instance', 'other'] as const;
export const WorkloadKind = z.enum(WORKLOAD_KINDS);
export type WorkloadKind = z.infer<typeof WorkloadKind>;

const Fingerprint = z.string().regex(/^tw1:[0-9a-f]{32}$/, 'must be a tokenwatch fingerprint (tw1:<32 hex>)');

export const TokenEvent = z.object({
  /** Deterministic id: `<source>:<vendor event id>[:n]`, or a hash of the raw event when the vendor has none. */
  event_id: z.string().min(1).max(256),
  source: SourceFormat,
  platform: Platform,
  action: TokenAction,
  /** Event time, epoch milliseconds (UTC). Detectors read time only from here. */
  time: z.number().int().nonnegative(),
  token: z.object({
    fp: Fingerprint,
    kind: TokenKind,
    /** Non-secret hint for humans: the key prefix (ASIA/AKIA) or JWT `kid`/`typ`; never the value. */
    hint: z.string().max(32).optional(),
    /** Refresh tokens with rotation, one-time codes: a second use is reuse. */
    one_time: z.boolean().optional(),
  }),
  /** The credential that was used to mint this one (AssumeRole caller key, refresh token). */
  parent_fp: Fingerprint.optional(),
  /** The workload / role / service account / OAuth client that holds the token. */
  issuer: z.string().max(512).optional(),
  /** Who asked for the token (the caller of AssumeRole, the delegating principal). */
  minted_by: z.string().max(512).optional(),
  /** The authority that issued it: STS, an Okta authorization server, Entra tenant, GCP iamcredentials. */
  authority: z.string().max(512).optional(),
  /** The end subject the token acts for (user, sub claim) when it differs from issuer. */
  subject: z.string().max(512).optional(),
  /** Audiences the token was minted for (aud claim, resource id, STS role's service). */
  audience: z.array(z.string().max(512)).max(64).optional(),
  /** The service the event was observed at (eventSource, API gateway route's service, resource). */
  service: z.string().max(512).optional(),
  scopes_requested: z.array(z.string().max(256)).max(256).optional(),
  scopes_granted: z.array(z.string().max(256)).max(256).optional(),
  scopes_used: z.array(z.string().max(256)).max(256).optional(),
  issued_at: z.number().int().nonnegative().optional(),
  expires_at: z.number().int().nonnegative().optional(),
  network: z
    .object({
      ip: z.string().max(64).optional(),
      asn: z.string().max(64).optional(),
      /** Vendor-reported network label (e.g. AWS service principal, "AWS Internal"). */
      label: z.string().max(128).optional(),
      // filled by the enrichment stage (src/enrich/) from network.ip; a vendor-given asn is kept
      /** Address scope: public, or private/shared (CGNAT)/loopback/link_local/multicast/reserved, which are never looked up. */
      scope: z.enum(['public', 'private', 'shared', 'loopback', 'link_local', 'multicast', 'reserved']).optional(),
      /** Organization of the AS (asn), e.g. "Amazon.com, Inc.". */
      as_org: z.string().max(256).optional(),
      /** ISO 3166-1 alpha-2 country of the address block's registration. */
      country: z.string().length(2).optional(),
      /** Cloud whose published ranges hold the address: aws, gcp, azure, or a provider named in config. */
      cloud_provider: z.string().max(32).optional(),
      /** The cloud's region label (us-east-1, europe-west1, eastus; GLOBAL for AWS edge services). */
      cloud_region: z.string().max(64).optional(),
      /** The cloud's service label (EC2, S3, CLOUDFRONT, AMAZON; Google Cloud; AzureStorage). */
      cloud_service: z.string().max(128).optional(),
    })
    .optional(),
  user_agent: z.string().max(1024).optional(),
  /** The workload the credential is bound to (EC2 instance id, pod, CI run). */
  workload: z
    .object({ kind: WorkloadKind, id: z.string().max(256) })
    .optional(),
  outcome: z.enum(['success', 'failure']).optional(),
  /** The operation name as the vendor spelled it (eventName, eventType, method). */
  operation: z.string().max(256).optional(),
  /** Vendor-reported reuse/compromise reason, for reuse_signal events. */
  signal: z.string().max(256).optional(),
  /** The envelope(s) the vendor record arrived in, outermost first (src/envelopes). */
  envelope: z.string().max(128).optional().describe('envelope the record was unwrapped from, outermost first: eventbridge, cloudwatch_logs, cloudtrail_lookup_events, elasticsearch/logstash, …'),
});
export type TokenEvent = z.infer<typeof TokenEvent>;
