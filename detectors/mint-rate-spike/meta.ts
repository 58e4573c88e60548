/** What mint_rate_spike detects, how it maps to ATT&CK / OWASP NHI, and what to do about it. */
import type { DetectorMeta } from '../types.js';

export const meta: DetectorMeta = {
  id: 'mint_rate_spike',
  version: 3,
  title: 'Token minting rate spike',
  description:
    'Counts tokens minted per issuer (role, service account, OAuth client, workload) in event-time buckets and ' +
    'compares each closed bucket with that issuer\'s own robust baseline (median/MAD of the recent day, same hour on ' +
    'earlier days when known): `spike` when a sustained run of buckets is far above the learned variability. ' +
    'Hourly counts are compared with the same hours on earlier days and a week earlier over 1–24 hour windows: ' +
    '`ramp` for a slow ramp (×2 a day alerts the same day) or a burst hidden in the peak hour; the running 30 minutes ' +
    'are judged at every bucket the same way (×3, and still ×2 without their densest 10 minutes, so a restart or a ' +
    'fleet refreshing in lockstep is quiet), which catches a few-times-normal burst of a small issuer while it runs; ' +
    'the last 15 minutes are judged at every mint against the densest 15 minutes the same hour held on earlier days ' +
    '(×3.5, and still ×3 its expectation without their densest 5 minutes; a named workload\'s first mint in 15 minutes, its ' +
    'regular refresh, does not count there, its repeats do), so such a burst alerts at the mint that tips it over. ' +
    'A release\'s start-up mints (a user agent new to the issuer, its first 10 minutes) count in neither window. Anomalous buckets and ' +
    'hours are not learned until the new level has persisted for level_shift_hours and held steady (a level still ' +
    'rising day over day never is). A first-seen workload\'s start-up mints do not count, so a deploy stampede is ' +
    'quiet while the same workloads minting more is not. `new_context`: a mint from an ASN (network.asn, from ' +
    'enrichment), or a /24 (/48) network together with a client family, new to an established issuer; issuer → ' +
    'audience / network / client edges are scored by MIDAS-R for burstiness.',
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
    ramp: { title: 'Token minting rising against earlier days', severity: 'high' },
    new_context: { title: 'Tokens minted from a network or client new to the issuer', severity: 'medium' },
  },
};
