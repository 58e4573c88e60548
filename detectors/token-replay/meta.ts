import type { DetectorMeta } from '../types.js';

export const TOKEN_REPLAY_KINDS = [
  'use_after_revocation',
  'use_after_expiry',
  'one_time_reuse',
  'vendor_reuse_signal',
] as const;
export type TokenReplayKind = (typeof TOKEN_REPLAY_KINDS)[number];

export const meta: DetectorMeta = {
  id: 'token_replay',
  version: 3,
  title: 'Token replay',
  description:
    'Per token: used after revocation or expiry (beyond the clock-skew tolerance), a one-time token (rotating refresh token, code) ' +
    'redeemed twice, or a vendor reuse signal. A revocation logged after an accepted use it precedes (the IdP delivered later than ' +
    'the gateway) is judged when it arrives. A token used from a new context is judged by credential_context, against what its ' +
    'issuer and workload use.',
  key_by: 'token',
  mitre_attack: ['T1550.001', 'T1528', 'T1078.004'],
  // OWASP NHI Top 10 2025: NHI2 Secret Leakage, NHI4 Insecure Authentication, NHI7 Long-Lived Secrets.
  owasp_nhi: ['NHI2:2025', 'NHI4:2025', 'NHI7:2025'],
  runbook: [
    '1. Revoke the token now: STS session → attach an AWSRevokeOlderSessions deny (aws:TokenIssueTime) to the role; ' +
      'OAuth → revoke the token and its refresh-token family at the IdP; API/access key → deactivate it.',
    '2. Rotate the underlying credential (client secret, access key, SA key) and redeploy the legitimate workload.',
    "3. Compare the evidence events' IPs, user agents and workloads with the home context; identify where the copy came from " +
      '(CI logs, env dumps, metadata-service SSRF, developer laptop).',
    '4. Review what the second context did with the token (API calls, data access) and check the IAM role trust policy / ' +
      'OAuth client grants for persistence (new keys, new trust, new apps).',
    '5. A refused use after revocation from the token’s own workload is the revocation working; an accepted one means the ' +
      'revocation has not reached that service (check its token cache and introspection settings).',
  ].join('\n'),
  kinds: {
    use_after_revocation: { title: 'Token used after revocation', severity: 'critical', mitre_attack: ['T1550.001', 'T1078.004'] },
    use_after_expiry: { title: 'Token used after expiry', severity: 'high', mitre_attack: ['T1550.001'] },
    one_time_reuse: { title: 'One-time token used twice', severity: 'high', mitre_attack: ['T1550.001', 'T1528'] },
    vendor_reuse_signal: { title: 'Vendor reported token reuse', severity: 'high', mitre_attack: ['T1550.001', 'T1528'] },
  },
};
