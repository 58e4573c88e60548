/** What mint_rate_spike detects, how it maps to ATT&CK / OWASP NHI, and what to do about it. */
import type { DetectorMeta } from '../types.js';

export const meta: DetectorMeta = {
  id: 'mint_rate_spike',
  version: 1,
  title: 'Token minting rate spike',
  description:
    'Counts tokens minted per issuer (role, service account, OAuth client, workload) in event-time buckets and ' +
    'compares each closed bucket with that issuer\'s own robust baseline (median/MAD, same hour on earlier days ' +
    'when known). Alerts when a sustained run of buckets is far above normal in both absolute (robust z) and ' +
    'relative (× expected) terms; anomalous buckets are never learned, so a minting loop keeps alerting.',
  key_by: 'issuer',
  mitre_attack: ['T1528', 'T1550.001', 'T1078.004'],
  // NHI2 Secret Leakage: a leaked credential/refresh token is being exercised to mint at volume;
  // NHI7 Long-Lived Secrets: a long-lived key or refresh token lets an attacker mint fresh tokens in a loop.
  owasp_nhi: ['NHI2:2025', 'NHI7:2025'],
  runbook: [
    '1. Check the evidence: which workload/IP/user agent minted the burst, and whether a deploy, scale-up or batch job explains it.',
    '2. Compare the minted tokens\' audiences/scopes and the calls made with them against the issuer\'s normal use.',
    '3. If unexplained: revoke the parent credential (refresh token, access key, SA key) and active sessions of the issuer, then rotate it.',
    '4. Contain the workload (isolate the pod/instance, disable the CI job) and review what the minted tokens accessed.',
    '5. If the new rate is legitimate and permanent, reset the issuer\'s baseline (the detector does not learn anomalous buckets).',
  ].join('\n'),
  kinds: {
    spike: { title: 'Token minting rate spike', severity: 'high' },
  },
};
