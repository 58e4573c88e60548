import type { DetectorMeta } from '../types.js';

export const TOKEN_REPLAY_KINDS = [
  'second_context',
  'use_after_revocation',
  'use_after_expiry',
  'one_time_reuse',
  'vendor_reuse_signal',
] as const;
export type TokenReplayKind = (typeof TOKEN_REPLAY_KINDS)[number];

export const meta: DetectorMeta = {
  id: 'token_replay',
  version: 1,
  title: 'Token replay',
  description:
    'One token used from a second context (network + user agent family / workload / ASN) while its home context is active, ' +
    'used after revocation or expiry, a one-time token (rotating refresh token, code) used twice, or a vendor reuse signal.',
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
    '5. If benign (new NAT egress, moved workload), declare the range in egress_ranges.',
  ].join('\n'),
  kinds: {
    second_context: { title: 'Token used from a second context', severity: 'high', mitre_attack: ['T1550.001', 'T1078.004'] },
    use_after_revocation: { title: 'Token used after revocation', severity: 'critical', mitre_attack: ['T1550.001', 'T1078.004'] },
    use_after_expiry: { title: 'Token used after expiry', severity: 'high', mitre_attack: ['T1550.001'] },
    one_time_reuse: { title: 'One-time token used twice', severity: 'high', mitre_attack: ['T1550.001', 'T1528'] },
    vendor_reuse_signal: { title: 'Vendor reported token reuse', severity: 'high', mitre_attack: ['T1550.001', 'T1528'] },
  },
};
