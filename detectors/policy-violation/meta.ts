/** policy_violation: a mint outside what the issuer policy allows the issuer or workload. */
import type { DetectorMeta } from '../types.js';

export const policyViolationMeta: DetectorMeta = {
  id: 'policy_violation',
  version: 1,
  title: 'Issuer policy violation',
  description:
    'Judges every successful mint against the issuer policy (schemas/policy.ts): the first rule whose issuer/workload ' +
    'patterns match says which token kinds, scopes, audiences and lifetime the issuer may mint and from which networks ' +
    '(CIDRs, ASNs, vendor labels). Each dimension outside the rule raises one alert naming the rule and the values ' +
    'outside it; with `default: deny`, a mint by an issuer no rule names is a violation too. No learning: the policy ' +
    'is declared (or derived from known-good logs with `tokenwatch policy suggest`).',
  key_by: 'issuer',
  mitre_attack: ['T1078.004', 'T1098', 'T1550.001'],
  owasp_nhi: ['NHI5:2025', 'NHI7:2025', 'NHI8:2025'],
  runbook:
    '1. Read the rule named in the alert and the values outside it (evidence.baseline.violation).\n' +
    '2. Ask the owner of the issuer whether a deploy or a grant change explains it; if so, update the policy file ' +
    '(or regenerate it with `tokenwatch policy suggest` over known-good logs) and review the change.\n' +
    '3. If not: revoke the minted token (STS: AWSRevokeOlderSessions deny on the role; OAuth: revoke it and its refresh ' +
    'family), remove the scope/audience from the client or role, tighten the trust policy or network conditions, and ' +
    'hunt for what the token did from the evidence IP and user agent.',
  kinds: {
    token_kind_not_allowed: { title: 'Issuer minted a token kind its policy does not allow', severity: 'high', mitre_attack: ['T1098', 'T1078.004'] },
    scope_not_allowed: { title: 'Issuer minted a token with scopes outside its policy', severity: 'high', mitre_attack: ['T1078.004', 'T1550.001'] },
    audience_not_allowed: { title: 'Issuer minted a token for an audience outside its policy', severity: 'high', mitre_attack: ['T1550.001', 'T1078.004'] },
    lifetime_exceeded: { title: 'Issuer minted a token that lives longer than its policy allows', severity: 'medium', mitre_attack: ['T1078.004'] },
    network_not_allowed: { title: 'Issuer minted a token from a network outside its policy', severity: 'high', mitre_attack: ['T1078.004', 'T1550.001'] },
    unlisted_issuer: { title: 'Issuer not named by any policy rule minted a token', severity: 'medium', mitre_attack: ['T1078.004'] },
  },
};
