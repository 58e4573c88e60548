/** scope_drift: an issuer (OAuth client, role, service account) reaching beyond its usual scopes. */
import type { DetectorMeta } from '../types.js';

export const scopeDriftMeta: DetectorMeta = {
  id: 'scope_drift',
  version: 2,
  title: 'Scope drift',
  description:
    'Learns, per issuer, the scopes it is normally granted and uses, then flags clients probing for scopes they are ' +
    'refused, mints granting scopes the issuer never had, and calls using scopes outside the baseline or outside the ' +
    "token's own grant. Scopes are weighed by privilege (read < write < admin) and by sensitivity (PII, secrets, admin, " +
    'export, write patterns; configurable): new write/admin scopes always alert, and a new read-only scope alerts when ' +
    'it is more sensitive than anything its issuer held in that class (one new `customers.pii.read` is one high alert ' +
    "naming the class and the issuer's baseline), while ordinary new read scopes are absorbed quietly. A read-level " +
    'alert waits `rollout_hold_minutes` and is dropped if `rollout_min_issuers` clients of the same authority gained the ' +
    'scope meanwhile (a deploy rollout). A new issuer learns its first grants for `learning_hours` without alerting, ' +
    'except for refused write/admin scopes and uses outside a token\'s own grant. Alerts once per issuer and scope.',
  key_by: 'issuer',
  mitre_attack: ['T1098.003', 'T1528', 'T1078.004'],
  owasp_nhi: ['NHI5'],
  runbook:
    'Confirm with the owner of the issuer (OAuth client / role / service account) whether a deploy or policy change ' +
    'added the scope. If not: revoke the tokens shown, rotate the client secret or keys, remove the scope from the ' +
    "client's grant or role policy, and review what the token did with it (audit log around the evidence events).",
  kinds: {
    requested_not_granted: {
      title: 'Client requested scopes it was not granted',
      severity: 'medium',
      mitre_attack: ['T1528', 'T1078.004'],
    },
    granted_beyond_baseline: {
      title: "Token granted scopes outside the issuer's baseline",
      severity: 'high',
      mitre_attack: ['T1098.003', 'T1078.004'],
    },
    used_beyond_baseline: {
      title: "Token used scopes outside the issuer's baseline or its own grant",
      severity: 'high',
      mitre_attack: ['T1078.004', 'T1528'],
    },
  },
};
