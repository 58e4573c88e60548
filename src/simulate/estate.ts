/**
 * The simulated estate: one AWS account with EC2/ECS fleets, Okta service clients running as
 * autoscaled replicas behind NAT egress pools, and the Kong routes they call. Everything is
 * derived from the seed, so the same options always describe the same estate.
 */
import type { AwsRole } from './cloudtrail-writer.js';
import type { KongRoute } from './kong-writer.js';
import type { OktaClient } from './okta-writer.js';
import { Rng } from './prng.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/** NAT egress pools the service clients leave through (Okta and the gateway see these IPs). */
export const DECLARED_EGRESS_RANGES: readonly { name: string; cidrs: readonly string[] }[] = [
  { name: 'prod-eks-nat', cidrs: ['203.0.113.0/28'] },
  { name: 'data-eks-nat', cidrs: ['203.0.113.64/28'] },
];
/** Private VPC ranges the EC2/ECS workloads call AWS from (via VPC endpoints). */
export const WORKLOAD_CIDRS: readonly string[] = ['10.20.0.0/16'];
/** Where the simulated attackers come from (documentation range, outside the estate). */
export const ATTACKER_RANGE = '198.51.100.0/24';

export const AWS_ACCOUNT = '123456789012';
export const AWS_REGION = 'us-east-1';
export const OKTA_ORG = 'https://acme.okta.com';

export interface ApiCall {
  eventSource: string;
  eventName: string;
  readOnly: boolean;
  data?: boolean;
  /** Relative frequency inside the mix. */
  weight: number;
  params: (rng: Rng) => Record<string, unknown> | null;
  /** A service that calls KMS on the caller's behalf right after (forward access session). */
  kmsVia?: string;
}

export interface ChainSpec {
  role: AwsRole;
  /** Calls made with the chained session, per hour per instance. */
  ratePerHour: number;
  calls: readonly ApiCall[];
}

export interface FleetSpec {
  index: number;
  name: string;
  kind: 'ec2' | 'ecs';
  role: AwsRole;
  baseSize: number;
  diurnal: boolean;
  subnet: number;
  userAgent: (version: number) => string;
  ratePerHour: number;
  calls: readonly ApiCall[];
  chain?: ChainSpec;
  /** Absolute times of rolling deploys (new instances, new agent version). */
  deploys: number[];
  /** Optional features of the realistic profile (absent: the default profile's behaviour). */
  realistic?: FleetRealism;
}

/** Realistic-profile fleet features. Each draws from its own random stream. */
export interface FleetRealism {
  /** Relative load over time (replica counts follow it); default diurnalLoad. */
  load: (t: number) => number;
  /** Extra instances in the hour starting at `hourStart` (scheduled scale-out). */
  scheduledExtra?: (hourStart: number) => number;
  /** Calls leave through the NAT gateway of the instance's AZ, except to gateway VPC endpoint services. */
  egress: { natIps: readonly string[]; endpointServices: readonly string[]; vpceId: string };
  /** A second client on the instance using the same credentials (SSM agent, CloudWatch agent). */
  agent?: { userAgent: (version: number) => string; ratePerHour: number; calls: readonly ApiCall[] };
  /** CloudTrail delivery lag range (ms): the records reach the stream this much later. */
  deliveryLagMs: readonly [number, number];
  /** Instances restart this far apart in a rolling deploy (default 90 s). */
  restartStaggerMs?: number;
  /** The fleet exists from this time on (an issuer appearing mid-stream). */
  from?: number;
}

/** Realistic-profile OAuth client features. */
export interface ClientRealism {
  load: (t: number) => number;
  /** A sidecar in the same pod calling with the pod's token under its own user agent. */
  sidecar?: { userAgent: (version: number) => string; share: number };
  /** The added read scope arrives at the first deploy at or after this time. */
  scopeChangeAt?: number;
  restartStaggerMs?: number;
  from?: number;
}

export interface ClientSpec {
  index: number;
  client: OktaClient;
  baseReplicas: number;
  diurnal: boolean;
  scopes: readonly string[];
  /** A read scope the client starts requesting at its first deploy after the learning period. */
  addedReadScope?: string;
  userAgent: (version: number) => string;
  /** NAT pool: `base` + (`first` … `first + size - 1`); `first` defaults by pool name. */
  egress: { name: string; base: string; size: number; first?: number };
  /** Gateway requests per replica per hour; 0 for clients that call only IdP APIs. */
  ratePerHour: number;
  routes: readonly KongRoute[];
  deploys: number[];
  realistic?: ClientRealism;
}

export interface Estate {
  fleets: FleetSpec[];
  clients: ClientSpec[];
  workspaceId: string;
  /** Kong nodes and their clock offsets; requests spread over them (default: one exact clock). */
  gatewayNodes?: readonly { name: string; skewMs: number }[];
  /** Times every OAuth client replica re-mints within a minute (signing-key rollover). */
  refreshStorms?: readonly number[];
}

export function role(rng: Rng, name: string): AwsRole {
  return { accountId: AWS_ACCOUNT, name, arn: `arn:aws:iam::${AWS_ACCOUNT}:role/${name}`, roleId: `AROA${rng.upperB32(17)}` };
}

const bucket = (rng: Rng): string => `acme-${['data', 'exports', 'artifacts', 'media'][rng.int(4)]}-prod`;

export const WEB_CALLS: readonly ApiCall[] = [
  { eventSource: 'ssm.amazonaws.com', eventName: 'GetParameter', readOnly: true, weight: 3, kmsVia: 'ssm.amazonaws.com',
    params: (r) => ({ name: `/prod/web/${['db-password', 'stripe-key', 'session-secret'][r.int(3)]}`, withDecryption: true }) },
  { eventSource: 'secretsmanager.amazonaws.com', eventName: 'GetSecretValue', readOnly: true, weight: 2, kmsVia: 'secretsmanager.amazonaws.com',
    params: (r) => ({ secretId: `prod/web/${['redis', 'postgres'][r.int(2)]}` }) },
  { eventSource: 'dynamodb.amazonaws.com', eventName: 'GetItem', readOnly: true, data: true, weight: 8,
    params: () => ({ tableName: 'sessions', key: { pk: 'REDACTED' } }) },
  { eventSource: 's3.amazonaws.com', eventName: 'GetObject', readOnly: true, data: true, weight: 6,
    params: (r) => ({ bucketName: 'acme-media-prod', key: `assets/${r.hex(8)}.png`, Host: 'acme-media-prod.s3.us-east-1.amazonaws.com' }) },
  { eventSource: 'ec2.amazonaws.com', eventName: 'DescribeTags', readOnly: true, weight: 1,
    params: () => ({ filterSet: { items: [{ name: 'resource-type', valueSet: { items: [{ value: 'instance' }] } }] } }) },
];

export const BATCH_CALLS: readonly ApiCall[] = [
  { eventSource: 'sqs.amazonaws.com', eventName: 'ReceiveMessage', readOnly: true, data: true, weight: 8,
    params: () => ({ queueUrl: `https://sqs.us-east-1.amazonaws.com/${AWS_ACCOUNT}/batch-jobs`, maxNumberOfMessages: 10, waitTimeSeconds: 20 }) },
  { eventSource: 'sqs.amazonaws.com', eventName: 'DeleteMessage', readOnly: false, data: true, weight: 4,
    params: () => ({ queueUrl: `https://sqs.us-east-1.amazonaws.com/${AWS_ACCOUNT}/batch-jobs` }) },
  { eventSource: 's3.amazonaws.com', eventName: 'PutObject', readOnly: false, data: true, weight: 3,
    params: (r) => ({ bucketName: 'acme-data-prod', key: `batch/${r.hex(12)}.parquet`, Host: 'acme-data-prod.s3.us-east-1.amazonaws.com' }) },
  { eventSource: 'secretsmanager.amazonaws.com', eventName: 'GetSecretValue', readOnly: true, weight: 1, kmsVia: 'secretsmanager.amazonaws.com',
    params: () => ({ secretId: 'prod/batch/warehouse' }) },
];

export const EXPORT_CALLS: readonly ApiCall[] = [
  { eventSource: 's3.amazonaws.com', eventName: 'PutObject', readOnly: false, data: true, weight: 5,
    params: (r) => ({ bucketName: 'acme-exports-prod', key: `exports/${r.hex(10)}.csv.gz`, Host: 'acme-exports-prod.s3.us-east-1.amazonaws.com' }) },
  { eventSource: 'athena.amazonaws.com', eventName: 'StartQueryExecution', readOnly: false, weight: 2,
    params: () => ({ workGroup: 'exports', queryExecutionContext: { database: 'warehouse' } }) },
  { eventSource: 'athena.amazonaws.com', eventName: 'GetQueryExecution', readOnly: true, weight: 4,
    params: (r) => ({ queryExecutionId: r.uuid() }) },
  { eventSource: 'glue.amazonaws.com', eventName: 'GetTable', readOnly: true, weight: 2,
    params: () => ({ databaseName: 'warehouse', name: 'orders' }) },
];

export const INGEST_CALLS: readonly ApiCall[] = [
  { eventSource: 'sqs.amazonaws.com', eventName: 'SendMessage', readOnly: false, data: true, weight: 6,
    params: () => ({ queueUrl: `https://sqs.us-east-1.amazonaws.com/${AWS_ACCOUNT}/batch-jobs` }) },
  { eventSource: 'kms.amazonaws.com', eventName: 'GenerateDataKey', readOnly: true, weight: 2,
    params: () => ({ keyId: `arn:aws:kms:us-east-1:${AWS_ACCOUNT}:alias/ingest`, keySpec: 'AES_256' }) },
  { eventSource: 'dynamodb.amazonaws.com', eventName: 'PutItem', readOnly: false, data: true, weight: 6,
    params: () => ({ tableName: 'ingest-events' }) },
  { eventSource: 's3.amazonaws.com', eventName: 'PutObject', readOnly: false, data: true, weight: 2,
    params: (r) => ({ bucketName: bucket(r), key: `ingest/${r.hex(12)}.json`, Host: 'acme-data-prod.s3.us-east-1.amazonaws.com' }) },
];

export function kongRoute(rng: Rng, service: string, path: string, calls: KongRoute['calls']): KongRoute {
  return {
    serviceId: rng.uuid(),
    serviceName: service,
    serviceHost: `${service}.prod.svc.cluster.local`,
    routeId: rng.uuid(),
    routeName: `${service}-v1`,
    path,
    calls,
  };
}

/** Deploy times: one rolling deploy a day per entity, at an entity-specific hour, avoiding `avoid` (±3h). */
function deployTimes(start: number, hours: number, hourOfDay: number, avoid: readonly number[]): number[] {
  const out: number[] = [];
  const firstDay = Math.floor(start / DAY) * DAY;
  for (let d = firstDay; d < start + hours * HOUR; d += DAY) {
    const t = d + hourOfDay * HOUR + 17 * MIN;
    if (t <= start + 2 * HOUR || t >= start + hours * HOUR - HOUR) continue;
    if (avoid.some((a) => Math.abs(a - t) < 3 * HOUR)) continue;
    out.push(t);
  }
  return out;
}

const scaled = (n: number, scale: number): number => Math.max(1, Math.round(n * scale));

/**
 * `victimTimes` maps a fleet/client name to times its slot-0 replica is injected into by an
 * attack: deploys of that entity keep clear of them, so the replica is alive and stable.
 */
export function buildEstate(seed: number, scale: number, start: number, hours: number, victimTimes: ReadonlyMap<string, number[]>): Estate {
  const rng = new Rng(seed, 'estate');
  const avoid = (name: string): number[] => victimTimes.get(name) ?? [];
  const goPatch = 40 + rng.int(8);
  const botoPatch = 20 + rng.int(10);
  const javaPatch = 15 + rng.int(10);

  const dataExport = role(rng, 'data-export-role');
  const fleets: FleetSpec[] = [
    {
      index: 0, name: 'web-frontend', kind: 'ec2', role: role(rng, 'web-frontend-instance'), baseSize: scaled(3, scale), diurnal: true, subnet: 1,
      userAgent: (v) => `aws-sdk-go/1.44.${goPatch + v} (go1.21.6; linux; amd64)`,
      ratePerHour: 40, calls: WEB_CALLS, deploys: deployTimes(start, hours, 15, avoid('web-frontend')),
    },
    {
      index: 1, name: 'batch-worker', kind: 'ec2', role: role(rng, 'batch-worker-instance'), baseSize: scaled(2, scale), diurnal: false, subnet: 2,
      userAgent: (v) =>
        `Boto3/1.34.${botoPatch + v} md/Botocore#1.34.${botoPatch + v} ua/2.0 os/linux#5.10.205-195.807.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.${botoPatch + v}`,
      ratePerHour: 45, calls: BATCH_CALLS, deploys: deployTimes(start, hours, 11, avoid('batch-worker')),
      chain: { role: dataExport, ratePerHour: 20, calls: EXPORT_CALLS },
    },
    {
      index: 2, name: 'ingest', kind: 'ecs', role: role(rng, 'ingest-task-role'), baseSize: scaled(2, scale), diurnal: true, subnet: 3,
      userAgent: (v) =>
        `aws-sdk-java/2.21.${javaPatch + v} Linux/5.10.205-195.807.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.9+9-LTS Java/17.0.9 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/legacy`,
      ratePerHour: 50, calls: INGEST_CALLS, deploys: deployTimes(start, hours, 13, avoid('ingest')),
    },
  ];

  const customAs = { id: `aus${rng.alnum(17)}`, name: 'default', issuer: `${OKTA_ORG}/oauth2/default`, orgServer: false };
  const orgAs = { id: 'okta-org-as', name: 'Okta org authorization server', issuer: OKTA_ORG, orgServer: true };
  const okClient = (name: string, orgServer = false): OktaClient => ({ clientId: `0oa${rng.alnum(17)}`, name, authServer: orgServer ? orgAs : customAs });
  const ordersRoute = kongRoute(rng, 'orders', '/v1/orders', [
    { method: 'GET', suffix: '' }, { method: 'GET', suffix: '/ord_8841' }, { method: 'POST', suffix: '' }, { method: 'PATCH', suffix: '/ord_1207' },
  ]);
  const inventoryRoute = kongRoute(rng, 'inventory', '/v1/inventory', [{ method: 'GET', suffix: '' }, { method: 'GET', suffix: '/sku_5521' }]);
  const paymentsRoute = kongRoute(rng, 'payments', '/v1/payments', [{ method: 'POST', suffix: '' }, { method: 'GET', suffix: '/pay_0937' }]);
  const catalogRoute = kongRoute(rng, 'catalog', '/v1/catalog', [{ method: 'GET', suffix: '/items' }, { method: 'PUT', suffix: '/items/itm_31' }]);
  const customersRoute = kongRoute(rng, 'customers', '/v1/customers', [{ method: 'GET', suffix: '/cus_7781' }]);
  const notifyRoute = kongRoute(rng, 'notifications', '/v1/notifications', [{ method: 'POST', suffix: '' }]);
  const prodNat = { name: 'prod-eks-nat', base: '203.0.113.', size: 14 };
  const dataNat = { name: 'data-eks-nat', base: '203.0.113.', size: 14 };

  const clients: ClientSpec[] = [
    {
      index: 0, client: okClient('orders-api'), baseReplicas: scaled(2, scale), diurnal: true,
      scopes: ['orders:read', 'orders:write', 'inventory:read'],
      userAgent: (v) => `orders-api/3.8.${v} okhttp/4.12.0`, egress: prodNat, ratePerHour: 360,
      routes: [ordersRoute, inventoryRoute], deploys: deployTimes(start, hours, 14, avoid('orders-api')),
    },
    {
      index: 1, client: okClient('payments-worker'), baseReplicas: scaled(2, scale), diurnal: true,
      scopes: ['payments:write', 'orders:read'],
      userAgent: (v) => `payments-worker/1.22.${v} Go-http-client/2.0`, egress: prodNat, ratePerHour: 300,
      routes: [paymentsRoute, ordersRoute], deploys: deployTimes(start, hours, 16, avoid('payments-worker')),
    },
    {
      index: 2, client: okClient('catalog-sync'), baseReplicas: scaled(1, scale), diurnal: false,
      scopes: ['catalog:read', 'catalog:write'], addedReadScope: 'inventory:read',
      userAgent: (v) => `catalog-sync/0.9.${v} axios/1.6.7`, egress: prodNat, ratePerHour: 240,
      routes: [catalogRoute, inventoryRoute], deploys: deployTimes(start, hours, 10, []),
    },
    {
      index: 3, client: okClient('directory-sync', true), baseReplicas: 1, diurnal: false,
      scopes: ['okta.users.read', 'okta.groups.read'],
      userAgent: (v) => `okta-sdk-java/16.0.${v} java/17.0.9 Linux/5.15.0`, egress: dataNat, ratePerHour: 0,
      routes: [], deploys: deployTimes(start, hours, 9, avoid('directory-sync')),
    },
    {
      index: 4, client: okClient('reporting-etl'), baseReplicas: scaled(1, scale), diurnal: false,
      scopes: ['orders:read', 'payments:read'],
      userAgent: (v) => `reporting-etl/2.1.${v} python-httpx/0.26.0`, egress: dataNat, ratePerHour: 200,
      routes: [ordersRoute, paymentsRoute], deploys: deployTimes(start, hours, 12, []),
    },
    {
      index: 5, client: okClient('notifications'), baseReplicas: scaled(1, scale), diurnal: true,
      scopes: ['notifications:send', 'customers:read'],
      userAgent: (v) => `notifications/5.0.${v} undici/6.6.2 node/20.11.0`, egress: prodNat, ratePerHour: 300,
      routes: [notifyRoute, customersRoute], deploys: deployTimes(start, hours, 17, []),
    },
  ];
  return { fleets, clients, workspaceId: rng.uuid() };
}

/** An IP inside a client's NAT pool: NAT gateways spread connections over their addresses. */
export function egressIp(rng: Rng, egress: ClientSpec['egress']): string {
  const first = egress.first ?? (egress.name === 'data-eks-nat' ? 65 : 1);
  return `${egress.base}${first + rng.int(egress.size)}`;
}

/** Relative load over the day: 1 at midnight UTC, 3 at noon. */
export function diurnalLoad(t: number): number {
  const hod = (t % DAY) / HOUR;
  return 2 - Math.cos((2 * Math.PI * hod) / 24);
}
