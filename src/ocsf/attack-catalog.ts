/**
 * Names and tactics of the MITRE ATT&CK (Enterprise) techniques tokenwatch's detectors map to,
 * as published at attack.mitre.org. A technique listed under several tactics yields one OCSF
 * `attack` per tactic (OCSF deprecated the `tactics` array in 1.1.0 in favour of one `tactic`).
 * An id missing here still maps, with its uid only.
 */
export interface AttackTactic {
  uid: string;
  name: string;
}
export interface AttackTechnique {
  name: string;
  tactics: readonly AttackTactic[];
}

const TA = {
  initialAccess: { uid: 'TA0001', name: 'Initial Access' },
  persistence: { uid: 'TA0003', name: 'Persistence' },
  privilegeEscalation: { uid: 'TA0004', name: 'Privilege Escalation' },
  defenseEvasion: { uid: 'TA0005', name: 'Defense Evasion' },
  credentialAccess: { uid: 'TA0006', name: 'Credential Access' },
  lateralMovement: { uid: 'TA0008', name: 'Lateral Movement' },
} as const;

/** Techniques and sub-techniques by id; a sub-technique's tactics are its parent's. */
export const ATTACK_TECHNIQUES: Readonly<Record<string, AttackTechnique>> = {
  T1078: { name: 'Valid Accounts', tactics: [TA.defenseEvasion, TA.persistence, TA.privilegeEscalation, TA.initialAccess] },
  'T1078.004': { name: 'Cloud Accounts', tactics: [TA.defenseEvasion, TA.persistence, TA.privilegeEscalation, TA.initialAccess] },
  T1098: { name: 'Account Manipulation', tactics: [TA.persistence, TA.privilegeEscalation] },
  'T1098.003': { name: 'Additional Cloud Roles', tactics: [TA.persistence, TA.privilegeEscalation] },
  T1528: { name: 'Steal Application Access Token', tactics: [TA.credentialAccess] },
  T1550: { name: 'Use Alternate Authentication Material', tactics: [TA.defenseEvasion, TA.lateralMovement] },
  'T1550.001': { name: 'Application Access Token', tactics: [TA.defenseEvasion, TA.lateralMovement] },
  T1552: { name: 'Unsecured Credentials', tactics: [TA.credentialAccess] },
  'T1552.005': { name: 'Cloud Instance Metadata API', tactics: [TA.credentialAccess] },
};
