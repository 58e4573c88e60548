/**
 * A small, deterministic workload of real vendor records for the Kafka runtime tests and bench:
 * CloudTrail role sessions (hourly AssumeRole by EC2, API calls from the workload's private IP)
 * and Okta client_credentials grants, plus two attacks:
 *   - a stolen role session key used from an outside network with another client (credential_context),
 *     which also chains into a second role (a mint with parent_fp: routed by token and by parent);
 *   - an Okta client suddenly granted an admin scope after its baseline (scope_drift, issuer-keyed).
 * Built from the simulator's record writers (src/simulate/*-writer.ts), so records have the
 * vendors' documented shape.
 */
import { apiCallRecord, assumeRoleRecord, type AwsRole, type AwsSession } from '../../src/simulate/cloudtrail-writer.js';
import { tokenGrantRecord, type OktaClient } from '../../src/simulate/okta-writer.js';
import { Rng } from '../../src/simulate/prng.js';

export interface WorkloadRecord {
  stream: 'cloudtrail' | 'okta';
  /** Partitioning key for the input topic (the actor), so one actor's records stay in order. */
  key: string;
  time: number;
  value: string;
}

export interface Workload {
  records: WorkloadRecord[];
  /** The stolen session's access key id (fingerprint it with the test's HMAC key to find its alerts). */
  stolenKeyId: string;
  /** The Okta client id that drifts to an admin scope. */
  driftingClientId: string;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const CALLS: readonly [string, string, boolean][] = [
  ['s3.amazonaws.com', 'GetObject', true],
  ['s3.amazonaws.com', 'PutObject', false],
  ['dynamodb.amazonaws.com', 'Query', true],
  ['sqs.amazonaws.com', 'ReceiveMessage', true],
  ['kms.amazonaws.com', 'Decrypt', true],
];

export function buildWorkload(opts: { seed: number; start: number; hours: number; roles?: number; clients?: number; callsPerHour?: number }): Workload {
  const rng = new Rng(opts.seed, 'kafka-workload');
  const end = opts.start + opts.hours * HOUR;
  const records: WorkloadRecord[] = [];
  const ct = (key: string, time: number, rec: Record<string, unknown>): void => {
    records.push({ stream: 'cloudtrail', key, time, value: JSON.stringify(rec) });
  };
  const roles: AwsRole[] = Array.from({ length: opts.roles ?? 6 }, (_, i) => {
    const name = i === 0 ? 'data-export-role' : `svc-${i}-role`;
    return { accountId: ACCOUNT, name, arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, roleId: `AROA${rng.upperB32(17)}` };
  });
  const adminRole: AwsRole = { accountId: ACCOUNT, name: 'admin-role', arn: `arn:aws:iam::${ACCOUNT}:role/admin-role`, roleId: `AROA${rng.upperB32(17)}` };
  const attackAt = opts.start + Math.floor(opts.hours / 2) * HOUR + 20 * MIN;
  let stolenKeyId = '';

  roles.forEach((role, ri) => {
    const instance = `i-0${rng.hex(16)}`;
    const ip = `10.20.${ri + 1}.${10 + ri}`;
    const ua = 'aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5';
    for (let h = opts.start; h < end; h += HOUR) {
      const session: AwsSession = {
        role,
        sessionName: instance,
        accessKeyId: `ASIA${rng.upperB32(16)}`,
        createdAt: h,
        expiresAt: h + 6 * HOUR,
        ec2RoleDelivery: '2.0',
      };
      ct(role.name, h, assumeRoleRecord(rng, { time: h, region: REGION, role, sessionName: instance, newKeyId: session.accessKeyId, expiresAt: session.expiresAt, caller: { service: 'ec2.amazonaws.com' } }));
      const per = opts.callsPerHour ?? 30;
      for (let k = 0; k < per; k++) {
        const t = h + 30_000 + Math.floor(((k + rng.next() * 0.5) * (HOUR - 60_000)) / per);
        const [eventSource, eventName, readOnly] = rng.pick(CALLS);
        ct(role.name, t, apiCallRecord(rng, { time: t, region: REGION, session, eventSource, eventName, readOnly, data: eventSource !== 'kms.amazonaws.com', sourceIp: ip, userAgent: ua }));
      }
      if (ri === 0 && attackAt >= h && attackAt < h + HOUR) {
        // the attacker replays this hour's session key from outside, then chains into admin-role
        stolenKeyId = session.accessKeyId;
        const attacker = { sourceIp: '198.51.100.23', userAgent: 'python-requests/2.31.0' };
        ct(role.name, attackAt, apiCallRecord(rng, { time: attackAt, region: REGION, session, eventSource: 's3.amazonaws.com', eventName: 'ListBuckets', readOnly: true, sourceIp: attacker.sourceIp, userAgent: attacker.userAgent }));
        const chained: AwsSession = { role: adminRole, sessionName: 'x', accessKeyId: `ASIA${rng.upperB32(16)}`, createdAt: attackAt + MIN, expiresAt: attackAt + 2 * HOUR };
        ct(role.name, attackAt + MIN, assumeRoleRecord(rng, { time: attackAt + MIN, region: REGION, role: adminRole, sessionName: 'x', newKeyId: chained.accessKeyId, expiresAt: chained.expiresAt, caller: { session, ...attacker } }));
        ct(role.name, attackAt + 2 * MIN, apiCallRecord(rng, { time: attackAt + 2 * MIN, region: REGION, session: chained, eventSource: 'iam.amazonaws.com', eventName: 'AttachRolePolicy', readOnly: false, requestParameters: { roleName: 'admin-role', policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }, sourceIp: attacker.sourceIp, userAgent: attacker.userAgent }));
      }
    }
  });

  const clients: OktaClient[] = Array.from({ length: opts.clients ?? 4 }, (_, i) => ({
    clientId: `0oa${rng.alnum(17)}`,
    name: i === 0 ? 'etl-service' : `svc-client-${i}`,
    authServer: { id: 'aus1a2b3c4d5e6f7g8h9', name: 'api', issuer: 'https://acme.okta.com/oauth2/aus1a2b3c4d5e6f7g8h9', orgServer: false },
  }));
  const driftAt = opts.start + (opts.hours - 1) * HOUR + 15 * MIN;
  clients.forEach((client, ci) => {
    const net = { ip: `203.0.113.${20 + ci}`, userAgent: 'okhttp/4.12.0' };
    for (let t = opts.start + ci * 1000; t < end; t += 5 * MIN) {
      const drift = ci === 0 && t >= driftAt && t < driftAt + 5 * MIN;
      const scopes = drift ? ['api.read', 'okta.users.manage'] : ['api.read'];
      records.push({
        stream: 'okta',
        key: client.clientId,
        time: t,
        value: JSON.stringify(tokenGrantRecord(rng, { time: t, client, net, tokenId: `AT.${rng.b64url(40)}`, expiresAt: t + HOUR, requestedScopes: scopes, grantedScopes: scopes })),
      });
    }
  });

  records.sort((a, b) => a.time - b.time);
  return { records, stolenKeyId, driftingClientId: clients[0]!.clientId };
}
