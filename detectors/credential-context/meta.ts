/** credential_context: a credential used from a context that neither it, its issuer nor its workload uses. */
import type { DetectorMeta } from '../types.js';

export const CREDENTIAL_CONTEXT_KINDS = ['new_context', 'workload_credential_exfiltration'] as const;
export type CredentialContextKind = (typeof CREDENTIAL_CONTEXT_KINDS)[number];

export const meta: DetectorMeta = {
  id: 'credential_context',
  version: 1,
  title: 'Credential used from a new context',
  description:
    'Per issuer (role, OAuth client, service account) and per workload, learns the networks (/24 v4, /48 v6, private /16), ' +
    'ASNs, cloud provider/region and user-agent families its credentials are used from, and how often new ones appear. ' +
    'A token used from a context new to the token, its issuer and its workload is scored by the surprise of each new ' +
    'dimension under that issuer’s own novelty rate; it alerts at once when the surprise is high, or when the token’s ' +
    'earlier context keeps being used after the new one appeared (two contexts active at once). NAT pools, CGNAT/mobile ' +
    'clients, autoscaling fleets, VPC endpoints and multi-SDK apps are learned as the issuer’s own contexts, not declared.',
  key_by: 'issuer',
  mitre_attack: ['T1550.001', 'T1078.004', 'T1528'],
  // OWASP NHI Top 10 2025: NHI2 Secret Leakage, NHI5 Overprivileged NHI (blast radius), NHI7 Long-Lived Secrets.
  owasp_nhi: ['NHI2:2025', 'NHI7:2025', 'NHI5:2025'],
  runbook: [
    '1. Compare the new context (IP, ASN/organisation, cloud region, user agent) with the baseline contexts of the token, ' +
      'its issuer and its workload in the alert; if the evidence shows both contexts active at once, treat it as a copy.',
    '2. Revoke the token now: STS session → AWSRevokeOlderSessions deny (aws:TokenIssueTime) on the role; instance ' +
      'credentials → also enforce IMDSv2 and rotate the instance profile; OAuth → revoke the token and its refresh family.',
    '3. Hunt for what the new context did with the credential (API calls from that IP/ASN) and for persistence ' +
      '(new keys, trust-policy changes, new OAuth grants).',
    '4. If benign (a new egress, a moved workload), no action is needed: the context is learned once more of the ' +
      "issuer's credentials use it; add an exception only for a known one-off.",
  ].join('\n'),
  kinds: {
    new_context: { title: 'Token used from a context new to it, its issuer and its workload', severity: 'high', mitre_attack: ['T1550.001', 'T1078.004'] },
    workload_credential_exfiltration: {
      title: 'Workload credential used outside its workload’s learned context',
      severity: 'critical',
      mitre_attack: ['T1552.005', 'T1550.001', 'T1078.004'],
    },
  },
};
