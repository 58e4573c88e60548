/** cross_service_reuse: a token showing up where it was never meant to be used. */
import type { DetectorMeta } from '../types.js';

export const crossServiceReuseMeta: DetectorMeta = {
  id: 'cross_service_reuse',
  version: 1,
  title: 'Cross-service token reuse',
  description:
    'Per token: flags a token minted for one audience presented at another service, a workload-bound credential ' +
    '(EC2 instance role, Kubernetes pod token, CI OIDC credential) used from outside its workload, and one token ' +
    'fingerprint seen on platforms that never legitimately share tokens (an STS key at the API gateway).',
  key_by: 'token',
  mitre_attack: ['T1550.001', 'T1078.004', 'T1552.005'],
  owasp_nhi: ['NHI9', 'NHI8', 'NHI2'],
  runbook:
    'Identify where the token was meant to live (evidence: the mint and the baseline audience/workload) and where it ' +
    'appeared. If the use is not a known integration: revoke the token/session (for AWS instance roles, revoke ' +
    'active sessions of the role and rotate the instance profile), enforce IMDSv2 / bound service-account tokens, ' +
    'and hunt for what the out-of-place caller did with it from that IP and user agent.',
  kinds: {
    audience_mismatch: {
      title: 'Token used at a service outside its audience',
      severity: 'high',
      mitre_attack: ['T1550.001', 'T1078.004'],
    },
    workload_escape: {
      title: 'Workload-bound credential used outside its workload',
      severity: 'critical',
      mitre_attack: ['T1552.005', 'T1550.001', 'T1078.004'],
    },
    cross_platform: {
      title: 'Token seen across unrelated platforms',
      severity: 'high',
      mitre_attack: ['T1550.001', 'T1078.004'],
    },
  },
};
