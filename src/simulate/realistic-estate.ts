/**
 * The realistic estate profile: the shapes production estates have and the default profile
 * leaves out. Weeks of event time with weekday/weekend and day curves; EC2/ECS fleets that
 * reach AWS both through NAT gateways (public EIPs) and gateway VPC endpoints (private IP +
 * vpcEndpointId), with a second SDK (the SSM agent) on the same instance credentials;
 * a scheduled scale-out every weekday morning; an app and its sidecar sharing tokens behind
 * a NAT pool in one /24; a read-scope change across the clients of one app; SDK upgrades at
 * deploys (weekdays only, sharp restarts: token stampedes); issuers appearing mid-stream;
 * signing-key rollovers (refresh storms); Kong nodes with skewed clocks; CloudTrail arriving
 * minutes late. Mobile clients on carrier networks are in realistic-mobile.ts.
 *
 * Addresses are real public networks, so an IP → ASN/cloud enrichment sees what it would in
 * production: AWS us-east-1 EC2 ranges (NAT gateways, EKS egress), T-Mobile US and Verizon
 * Wireless CGNAT v4/v6 prefixes (mobile), DigitalOcean and Hetzner (attackers, in attacks).
 */
import type { ApiCall, ClientSpec, Estate, FleetSpec } from './estate.js';
import { BATCH_CALLS, DAY, EXPORT_CALLS, HOUR, INGEST_CALLS, MIN, OKTA_ORG, WEB_CALLS, kongRoute, role } from './estate.js';
import type { OktaClient } from './okta-writer.js';
import { Rng } from './prng.js';

/** NAT gateway EIPs of the VPC, one per AZ (AWS us-east-1 EC2 space: 52.0.0.0/15, 54.144.0.0/14). */
export const REALISTIC_NAT_GATEWAY_IPS: readonly string[] = ['52.1.44.17', '54.145.201.33'];
/** The EKS egress NAT pool (one /24 in AWS us-east-1 EC2 space, 3.208.0.0/12). */
export const REALISTIC_EKS_POOL = { name: 'eks-egress', base: '3.215.44.', first: 10, size: 16 } as const;
/** The data cluster's NAT pool (44.192.0.0/11, us-east-1). */
export const REALISTIC_DATA_POOL = { name: 'data-egress', base: '44.206.13.', first: 64, size: 8 } as const;
/** The VPC the fleets run in. */
export const REALISTIC_VPC_CIDR = '10.40.0.0/16';
export const REALISTIC_VPCE_ID = 'vpce-0c7d2a41f93be5a18';
/** Gateway endpoints (S3 and DynamoDB): calls to these show the private IP and the endpoint id. */
export const ENDPOINT_SERVICES: readonly string[] = ['s3.amazonaws.com', 'dynamodb.amazonaws.com'];
/** Kong nodes: one exact clock, one 90 s ahead, one 80 s behind. */
export const REALISTIC_GATEWAY_NODES = [
  { name: 'kong-a', skewMs: 0 },
  { name: 'kong-b', skewMs: 90_000 },
  { name: 'kong-c', skewMs: -80_000 },
] as const;
/** CloudTrail reaches the stream 1–4 minutes after the call (inside the engine's 5-minute reorder window). */
export const CLOUDTRAIL_LAG_MS: readonly [number, number] = [60_000, 4 * MIN];

/** Monday = 0 … Sunday = 6 (UTC). */
export const weekday = (t: number): number => (Math.floor(t / DAY) + 3) % 7;
export const isWeekend = (t: number): boolean => weekday(t) >= 5;
/** Hour of the daily peak (UTC): load follows 2 − cos, lowest at 02:00, highest at 14:00. */
export const PEAK_HOUR = 14;

/** Relative load: day curve 1…3, weekends at 45%. */
export function realisticLoad(t: number): number {
  const hod = (t % DAY) / HOUR;
  const day = 2 - Math.cos((2 * Math.PI * (hod - (PEAK_HOUR - 12))) / 24);
  return isWeekend(t) ? day * 0.45 : day;
}

/** One deploy per weekday at `hourOfDay`:17, clear of `avoid` (±3 h) and the run's edges. */
export function weekdayDeploys(start: number, end: number, hourOfDay: number, avoid: readonly number[]): number[] {
  const out: number[] = [];
  for (let d = Math.floor(start / DAY) * DAY; d < end; d += DAY) {
    const t = d + hourOfDay * HOUR + 17 * MIN;
    if (isWeekend(t) || t <= start + 2 * HOUR || t >= end - HOUR) continue;
    if (avoid.some((a) => Math.abs(a - t) < 3 * HOUR)) continue;
    out.push(t);
  }
  return out;
}

const ML_CALLS: readonly ApiCall[] = [
  { eventSource: 's3.amazonaws.com', eventName: 'GetObject', readOnly: true, data: true, weight: 6,
    params: (r) => ({ bucketName: 'acme-ml-datasets', key: `shards/${r.hex(8)}.parquet`, Host: 'acme-ml-datasets.s3.us-east-1.amazonaws.com' }) },
  { eventSource: 's3.amazonaws.com', eventName: 'PutObject', readOnly: false, data: true, weight: 1,
    params: (r) => ({ bucketName: 'acme-ml-models', key: `checkpoints/${r.hex(10)}.pt`, Host: 'acme-ml-models.s3.us-east-1.amazonaws.com' }) },
  { eventSource: 'ecr.amazonaws.com', eventName: 'GetAuthorizationToken', readOnly: true, weight: 1, params: () => null },
];

const SSM_AGENT_CALLS: readonly ApiCall[] = [
  { eventSource: 'ssm.amazonaws.com', eventName: 'UpdateInstanceInformation', readOnly: false, weight: 3,
    params: () => ({ agentName: 'amazon-ssm-agent', platformType: 'Linux', platformName: 'Amazon Linux' }) },
  { eventSource: 'ec2messages.amazonaws.com', eventName: 'GetMessages', readOnly: true, weight: 5, params: () => null },
  { eventSource: 'ssm.amazonaws.com', eventName: 'ListInstanceAssociations', readOnly: true, weight: 1, params: () => null },
];

export interface RealisticTimeline {
  /** The learning period: attacks start after it. */
  learnDays: number;
  /** The read-scope change of the orders app's clients (first deploy at or after). */
  scopeChangeAt: number;
  /** An OAuth client and an AWS fleet that first appear at these times. */
  newClientAt: number;
  newFleetAt: number;
  refreshStorms: number[];
}

export function realisticTimeline(start: number, days: number): RealisticTimeline {
  const learnDays = Math.min(7, Math.max(2, days - 3));
  const day = (d: number, h: number): number => start + d * DAY + h * HOUR;
  return {
    learnDays,
    scopeChangeAt: day(learnDays + 1, 0),
    newClientAt: day(Math.min(3, learnDays), 10),
    newFleetAt: day(Math.min(5, learnDays), 9),
    refreshStorms: [day(1, 2) + 10 * MIN, day(learnDays + 1, 9) + 40 * MIN],
  };
}

const scaled = (n: number, scale: number): number => Math.max(1, Math.round(n * scale));

/** The realistic estate. `victimTimes`: entity name → attack times its deploys keep clear of. */
export function buildRealisticEstate(
  seed: number, scale: number, start: number, days: number, victimTimes: ReadonlyMap<string, number[]>,
): RealisticEstate {
  const rng = new Rng(seed, 'realistic-estate');
  const end = start + days * DAY;
  const tl = realisticTimeline(start, days);
  const avoid = (name: string): number[] => victimTimes.get(name) ?? [];
  const deploys = (name: string, hour: number): number[] => weekdayDeploys(start, end, hour, avoid(name));
  const goV2 = 20 + rng.int(8);
  const botoPatch = 20 + rng.int(10);
  const javaPatch = 15 + rng.int(10);
  const egress = { natIps: REALISTIC_NAT_GATEWAY_IPS, endpointServices: ENDPOINT_SERVICES, vpceId: REALISTIC_VPCE_ID };
  const base = { load: realisticLoad, egress, deliveryLagMs: CLOUDTRAIL_LAG_MS, restartStaggerMs: 20_000 };
  const ssmAgent = { userAgent: (v: number) => `aws-sdk-go/1.50.${8 + v} (go1.22.5; linux; amd64) amazon-ssm-agent/3.3.${1200 + v}.0`, ratePerHour: 6, calls: SSM_AGENT_CALLS };
  const boto = (v: number): string =>
    `Boto3/1.34.${botoPatch + v} md/Botocore#1.34.${botoPatch + v} ua/2.0 os/linux#6.1.72-96.166.amzn2023.x86_64 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#standard Botocore/1.34.${botoPatch + v}`;
  const dataExport = role(rng, 'data-export-role');

  const fleets: FleetSpec[] = [
    {
      index: 0, name: 'web-frontend', kind: 'ec2', role: role(rng, 'web-frontend-instance'), baseSize: scaled(3, scale), diurnal: true, subnet: 1,
      userAgent: (v) => `aws-sdk-go-v2/1.${goV2 + v}.1 os/linux lang/go#1.21.6 md/GOOS#linux md/GOARCH#amd64 api/dynamodb#1.26.8`,
      ratePerHour: 30, calls: WEB_CALLS, deploys: deploys('web-frontend', 15),
      // Weekday 07:00 UTC: the morning scale-out adds instances for an hour (an autoscaling burst of mints).
      realistic: { ...base, agent: ssmAgent, scheduledExtra: (h) => (!isWeekend(h) && (h % DAY) / HOUR === 7 ? scaled(3, scale) : 0) },
    },
    {
      index: 1, name: 'batch-worker', kind: 'ec2', role: role(rng, 'batch-worker-instance'), baseSize: scaled(2, scale), diurnal: false, subnet: 2,
      userAgent: boto, ratePerHour: 30, calls: BATCH_CALLS, deploys: deploys('batch-worker', 11),
      chain: { role: dataExport, ratePerHour: 15, calls: EXPORT_CALLS },
      realistic: { ...base, agent: ssmAgent },
    },
    {
      index: 2, name: 'ingest', kind: 'ecs', role: role(rng, 'ingest-task-role'), baseSize: scaled(2, scale), diurnal: true, subnet: 3,
      userAgent: (v) =>
        `aws-sdk-java/2.21.${javaPatch + v} Linux/5.10.205-195.807.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.9+9-LTS Java/17.0.9 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/legacy`,
      ratePerHour: 30, calls: INGEST_CALLS, deploys: deploys('ingest', 13),
      realistic: { ...base },
    },
    {
      index: 3, name: 'ml-training', kind: 'ec2', role: role(rng, 'ml-training-instance'), baseSize: scaled(2, scale), diurnal: false, subnet: 5,
      userAgent: boto, ratePerHour: 20, calls: ML_CALLS, deploys: deploys('ml-training', 16),
      realistic: { ...base, agent: ssmAgent, from: tl.newFleetAt },
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
  const recoRoute = kongRoute(rng, 'recommendations', '/v1/recommendations', [{ method: 'GET', suffix: '/for/cus_7781' }]);
  const eks = { ...REALISTIC_EKS_POOL };
  const data = { ...REALISTIC_DATA_POOL };
  const real = { load: realisticLoad, restartStaggerMs: 15_000 };
  // The orders app: two OAuth clients deployed together, both picking up one new read scope.
  const ordersApp = { ...real, scopeChangeAt: tl.scopeChangeAt };

  const clients: ClientSpec[] = [
    {
      index: 0, client: okClient('orders-api'), baseReplicas: scaled(3, scale), diurnal: true,
      scopes: ['orders:read', 'orders:write', 'inventory:read'], addedReadScope: 'orders:history.read',
      // SDK upgrade: okhttp 4 → 5 from the fifth deploy on.
      userAgent: (v) => `orders-api/3.${8 + v}.0 okhttp/${v >= 5 ? '5.0.0' : '4.12.0'}`, egress: eks, ratePerHour: 60,
      routes: [ordersRoute, inventoryRoute], deploys: deploys('orders-api', 14),
      realistic: { ...ordersApp, sidecar: { userAgent: (v) => `orders-outbox-relay/1.${4 + v}.2 Go-http-client/2.0`, share: 0.3 } },
    },
    {
      index: 1, client: okClient('orders-worker'), baseReplicas: scaled(2, scale), diurnal: true,
      scopes: ['orders:read', 'orders:write', 'customers:read'], addedReadScope: 'orders:history.read',
      userAgent: (v) => `orders-worker/3.${8 + v}.0 okhttp/${v >= 5 ? '5.0.0' : '4.12.0'}`, egress: eks, ratePerHour: 40,
      routes: [ordersRoute, customersRoute], deploys: deploys('orders-worker', 14), realistic: ordersApp,
    },
    {
      index: 2, client: okClient('payments-worker'), baseReplicas: scaled(2, scale), diurnal: true,
      scopes: ['payments:write', 'orders:read'],
      userAgent: (v) => `payments-worker/1.${22 + v}.0 Go-http-client/2.0`, egress: eks, ratePerHour: 50,
      routes: [paymentsRoute, ordersRoute], deploys: deploys('payments-worker', 16), realistic: real,
    },
    {
      index: 3, client: okClient('catalog-sync'), baseReplicas: scaled(1, scale), diurnal: false,
      scopes: ['catalog:read', 'catalog:write'],
      userAgent: (v) => `catalog-sync/0.${9 + v}.0 axios/1.6.7`, egress: eks, ratePerHour: 40,
      routes: [catalogRoute, inventoryRoute], deploys: deploys('catalog-sync', 10), realistic: real,
    },
    {
      index: 4, client: okClient('directory-sync', true), baseReplicas: 1, diurnal: false,
      scopes: ['okta.users.read', 'okta.groups.read'],
      userAgent: (v) => `okta-sdk-java/16.0.${v} java/17.0.9 Linux/5.15.0`, egress: data, ratePerHour: 0,
      routes: [], deploys: deploys('directory-sync', 9), realistic: real,
    },
    {
      index: 5, client: okClient('reporting-etl'), baseReplicas: scaled(1, scale), diurnal: false,
      scopes: ['orders:read', 'payments:read'],
      userAgent: (v) => `reporting-etl/2.${1 + v}.0 python-httpx/0.26.0`, egress: data, ratePerHour: 30,
      routes: [ordersRoute, paymentsRoute], deploys: deploys('reporting-etl', 12), realistic: real,
    },
    {
      index: 6, client: okClient('notifications'), baseReplicas: scaled(2, scale), diurnal: true,
      scopes: ['notifications:send', 'customers:read'],
      userAgent: (v) => `notifications/5.${v}.0 undici/6.6.2 node/20.11.0`, egress: eks, ratePerHour: 50,
      routes: [notifyRoute, customersRoute], deploys: deploys('notifications', 17), realistic: real,
    },
    {
      // A new service launched mid-stream with a full fleet at once: a stampede of first-seen workloads.
      index: 7, client: okClient('recommendations'), baseReplicas: scaled(4, scale), diurnal: true,
      scopes: ['catalog:read', 'customers:read'],
      userAgent: (v) => `recommendations/0.${1 + v}.0 okhttp/4.12.0`, egress: eks, ratePerHour: 40,
      routes: [recoRoute, catalogRoute], deploys: deploys('recommendations', 15), realistic: { ...real, from: tl.newClientAt },
    },
  ];
  // A public (PKCE) client used by the shop's mobile app; its devices are realistic-mobile.ts actors.
  const mobile: ClientSpec = {
    index: 8, client: okClient('acme-shop-mobile'), baseReplicas: 0, diurnal: true,
    scopes: ['openid', 'profile', 'offline_access', 'orders:read', 'catalog:read'],
    userAgent: () => 'AcmeShop', egress: eks, ratePerHour: 20, routes: [ordersRoute, catalogRoute, customersRoute], deploys: [],
  };
  return { fleets, clients, mobile, workspaceId: rng.uuid(), gatewayNodes: REALISTIC_GATEWAY_NODES, refreshStorms: tl.refreshStorms };
}

export interface RealisticEstate extends Estate {
  /** The mobile app's OAuth client (not replica-planned: devices are actors of their own). */
  mobile: ClientSpec;
}
