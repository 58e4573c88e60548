/**
 * The realistic simulator profile: deterministic, weeks with lighter weekends, every hard
 * negative actually present in the records, and every attack's ground truth consistent with
 * the records it injected.
 */
import { createHash } from 'node:crypto';
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { decodeValue } from '../../src/pipeline/decode.js';
import {
  CREDENTIAL_DETECTORS, DEFAULT_START, HARD_ATTACK_NAMES, REALISTIC_ATTACK_NAMES, simulate, type SimEvent,
} from '../../src/simulate/index.js';
import {
  REALISTIC_EKS_POOL, REALISTIC_NAT_GATEWAY_IPS, REALISTIC_VPC_CIDR, isWeekend, realisticTimeline,
} from '../../src/simulate/realistic-estate.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const DAYS = 8;
const SCALE = 0.25;
const fingerprint = createFingerprinter({ key: 'realistic-test-key-0123456789' });
const sha = (events: Iterable<SimEvent>): string => {
  const h = createHash('sha256');
  for (const e of events) h.update(JSON.stringify(e.record));
  return h.digest('hex');
};
const inCidr = (cidr: string): ((ip: string) => boolean) => {
  const b = new BlockList();
  const [addr, bits] = cidr.split('/');
  b.addSubnet(addr!, Number(bits));
  return (ip) => b.check(ip);
};

const run = simulate({ seed: 3, start: DEFAULT_START, hours: DAYS * 24, scale: SCALE, profile: 'realistic', attacks: [...REALISTIC_ATTACK_NAMES] });
const events = [...run.events];
const benign = events.filter((e) => e.attack === undefined);
const kong = benign.filter((e) => e.format === 'kong');
const trail = benign.filter((e) => e.format === 'cloudtrail');
const okta = benign.filter((e) => e.format === 'okta');
const ui = (e: SimEvent): any => e.record.userIdentity;
const grantsOf = (clientId: string): SimEvent[] =>
  okta.filter((e) => String(e.record.eventType).startsWith('app.oauth2.as.token.grant') && (e.record.actor as any).id === clientId);
/** A client's id from its grants: the actor (client_credentials) or the AppInstance target (user grants). */
const clientIdOf = (name: string): string => {
  for (const e of okta) {
    if ((e.record.actor as any).displayName === name) return (e.record.actor as any).id;
    const app = (e.record.target as any[]).find((t) => t.type === 'AppInstance' && t.alternateId === name);
    if (app) return app.id;
  }
  throw new Error(`no grants by ${name}`);
};

describe('realistic profile: shape', () => {
  it('is deterministic for a seed and differs between seeds', { timeout: 120_000 }, () => {
    const opts = { seed: 9, start: DEFAULT_START, hours: 5 * 24, scale: 0.1, profile: 'realistic' as const, attacks: [...REALISTIC_ATTACK_NAMES] };
    const first = (o: typeof opts, n: number): SimEvent[] => {
      const out: SimEvent[] = [];
      for (const e of simulate(o).events) if (out.push(e) >= n) break;
      return out;
    };
    const a = sha(first(opts, 20_000));
    expect(sha(first({ ...opts }, 20_000))).toBe(a);
    expect(sha(first({ ...opts, seed: 10 }, 20_000))).not.toBe(a);
    expect(simulate(opts).attacks).toEqual(simulate({ ...opts }).attacks);
    // the same result re-iterated regenerates the same records (attacks included)
    expect(sha(run.events)).toBe(sha(events));
  });

  it('rejects partial days, short runs and unknown attacks', () => {
    const base = { seed: 1, start: DEFAULT_START, scale: 0.1, profile: 'realistic' as const };
    expect(() => simulate({ ...base, hours: 100, attacks: [] })).toThrow(/whole days/);
    expect(() => simulate({ ...base, hours: 4 * 24, attacks: [] })).toThrow(/at least 5/);
    expect(() => simulate({ ...base, hours: 5 * 24, attacks: ['nope' as never] })).toThrow(/unknown attack/);
    // the hard attacks exist only in the realistic profile
    expect(() => simulate({ seed: 1, start: DEFAULT_START, hours: 48, attacks: ['mint_slow_ramp'] })).toThrow(/unknown attack/);
  });

  it('every record decodes and normalizes; only CloudTrail and skewed gateway records come out of time order', () => {
    const lastByFormat = new Map<string, number>();
    const maxBack = new Map<string, number>();
    for (const e of events) {
      const d = decodeValue(e.record, { fingerprint });
      if (!d.ok) throw new Error(`${e.format} record rejected: ${d.error.message}`);
      expect(d.format).toBe(e.format);
      for (const te of d.events) expect(te.time).toBe(e.time);
      const last = lastByFormat.get(e.format) ?? 0;
      maxBack.set(e.format, Math.max(maxBack.get(e.format) ?? 0, last - e.time));
      lastByFormat.set(e.format, Math.max(last, e.time));
    }
    expect(maxBack.get('okta')).toBe(0);
    // CloudTrail: delivered 1–4 minutes late, so written out of order by minutes
    expect(maxBack.get('cloudtrail')!).toBeGreaterThan(MIN);
    expect(maxBack.get('cloudtrail')!).toBeLessThan(4 * MIN);
    // Kong: nodes 90 s ahead and 80 s behind
    expect(maxBack.get('kong')!).toBeGreaterThan(150_000);
    expect(maxBack.get('kong')!).toBeLessThanOrEqual(170_000 + 1000);
  });

  it('weekends are lighter than weekdays and the day has a peak', () => {
    const perDay = Array.from({ length: DAYS }, () => 0);
    for (const e of benign) if (e.format !== 'okta') perDay[Math.floor((e.time - DEFAULT_START) / DAY)]!++;
    // DEFAULT_START is a Monday: days 5 and 6 are the weekend
    expect(isWeekend(DEFAULT_START + 5 * DAY)).toBe(true);
    expect(isWeekend(DEFAULT_START + 4 * DAY)).toBe(false);
    const weekday = (perDay[1]! + perDay[2]! + perDay[3]!) / 3;
    expect((perDay[5]! + perDay[6]!) / 2).toBeLessThan(weekday * 0.75);
    const hour = (h: number): number => kong.filter((e) => e.time >= DEFAULT_START + DAY + h * HOUR && e.time < DEFAULT_START + DAY + (h + 1) * HOUR).length;
    expect(hour(14) / hour(2)).toBeGreaterThan(2);
  });
});

describe('realistic profile: hard negatives are in the records', () => {
  it('an app and its sidecar share tokens behind a NAT pool in one /24, with two SDKs', () => {
    const pool = inCidr(`${REALISTIC_EKS_POOL.base}0/24`);
    const orders = clientIdOf('orders-api');
    const uses = kong.filter((e) => (e.record.tw_claims as any).cid === orders);
    const byToken = new Map<string, SimEvent[]>();
    for (const u of uses) byToken.set((u.record.tw_claims as any).jti, [...(byToken.get((u.record.tw_claims as any).jti) ?? []), u]);
    const busiest = [...byToken.values()].sort((a, b) => b.length - a.length)[0]!;
    const ips = new Set(busiest.map((u) => String(u.record.client_ip)));
    const uas = new Set(busiest.map((u) => String((u.record.request as any).headers['user-agent']).split(' ').pop()!.split('/')[0]));
    expect(ips.size).toBeGreaterThan(3);
    for (const ip of ips) expect(pool(ip)).toBe(true);
    expect(uas).toEqual(new Set(['okhttp', 'Go-http-client']));
  });

  it('mobile clients on CGNAT change carrier address within a token: v4 ↔ v6 and across /16s', () => {
    const mobile = clientIdOf('acme-shop-mobile');
    const uses = kong.filter((e) => (e.record.tw_claims as any).cid === mobile);
    expect(uses.length).toBeGreaterThan(100);
    const byToken = new Map<string, Set<string>>();
    for (const u of uses) {
      const jti = (u.record.tw_claims as any).jti;
      if (!byToken.has(jti)) byToken.set(jti, new Set());
      byToken.get(jti)!.add(String(u.record.client_ip));
    }
    const mixed = [...byToken.values()].filter((ips) => [...ips].some((ip) => ip.includes(':')) && [...ips].some((ip) => !ip.includes(':')));
    expect(mixed.length).toBeGreaterThan(0);
    const v4Across16 = [...byToken.values()].filter((ips) => new Set([...ips].filter((ip) => !ip.includes(':')).map((ip) => ip.split('.').slice(0, 2).join('.'))).size > 1);
    expect(v4Across16.length).toBeGreaterThan(0);
    for (const u of uses) expect(String(u.record.client_ip)).toMatch(/^(172\.(56|58|59|62)\.|174\.(205|212|236)\.|2607:fb90:|2600:1007:)/);
  });

  it('instance credentials reach AWS through the NAT gateway and a VPC endpoint, with two SDKs on one key', () => {
    const vpc = inCidr(REALISTIC_VPC_CIDR);
    const web = trail.filter((e) => ui(e)?.sessionContext?.sessionIssuer?.userName === 'web-frontend-instance' && ui(e)?.accessKeyId);
    const byKey = new Map<string, SimEvent[]>();
    for (const e of web) byKey.set(ui(e).accessKeyId, [...(byKey.get(ui(e).accessKeyId) ?? []), e]);
    const key = [...byKey.values()].sort((a, b) => b.length - a.length)[0]!;
    const viaEndpoint = key.filter((e) => e.record.vpcEndpointId !== undefined);
    const viaNat = key.filter((e) => REALISTIC_NAT_GATEWAY_IPS.includes(String(e.record.sourceIPAddress)));
    expect(viaEndpoint.length).toBeGreaterThan(0);
    expect(viaNat.length).toBeGreaterThan(0);
    for (const e of viaEndpoint) expect(vpc(String(e.record.sourceIPAddress))).toBe(true);
    // EC2 instance credentials (IMDSv2) used from the NAT gateway's public IP
    expect(viaNat.every((e) => ui(e).sessionContext.ec2RoleDelivery === '2.0')).toBe(true);
    const uas = new Set(key.filter((e) => ui(e).invokedBy === undefined).map((e) => (String(e.record.userAgent).includes('amazon-ssm-agent') ? 'ssm-agent' : String(e.record.userAgent).split('/')[0])));
    expect(uas).toEqual(new Set(['aws-sdk-go-v2', 'ssm-agent']));
  });

  it('autoscaling burst at 07:00 on weekdays, refresh storms', () => {
    const webCalls = trail.filter((e) => ui(e)?.sessionContext?.sessionIssuer?.userName === 'web-frontend-instance');
    const instances = (d: number, h: number): number =>
      new Set(webCalls.filter((e) => e.time >= DEFAULT_START + d * DAY + h * HOUR + 20 * MIN && e.time < DEFAULT_START + d * DAY + h * HOUR + 50 * MIN)
        .map((e) => String(ui(e).arn).split('/').pop())).size;
    // the scheduled scale-out holds extra instances through 07:00–08:00 on weekdays only
    let weekdayBump = 0;
    for (let d = 0; d < 5; d++) weekdayBump += instances(d, 7) - instances(d, 8);
    expect(weekdayBump).toBeGreaterThanOrEqual(3);
    const tl = realisticTimeline(DEFAULT_START, DAYS);
    const grants = okta.filter((e) => e.record.eventType === 'app.oauth2.as.token.grant.access_token' && (e.record.debugContext as any).debugData.grantType === 'client_credentials');
    const count = (from: number, len: number): number => grants.filter((e) => e.time >= from && e.time < from + len).length;
    const storm = tl.refreshStorms[0]!;
    expect(count(storm, 2 * MIN)).toBeGreaterThan(3 * count(storm - HOUR, 2 * MIN) + 3);
  });

  it('issuers appear mid-stream; SDK upgrades and one read-scope change across the orders app at a deploy', () => {
    const tl = realisticTimeline(DEFAULT_START, DAYS);
    const ml = trail.filter((e) => String((e.record.requestParameters as any)?.roleArn ?? '').endsWith('/ml-training-instance'));
    expect(ml.length).toBeGreaterThan(0);
    expect(Math.min(...ml.map((e) => e.time))).toBeGreaterThanOrEqual(tl.newFleetAt);
    expect(grantsOf(clientIdOf('recommendations')).every((e) => e.time >= tl.newClientAt)).toBe(true);
    for (const app of ['orders-api', 'orders-worker']) {
      const g = grantsOf(clientIdOf(app));
      const has = (e: SimEvent): boolean => String((e.record.debugContext as any).debugData.grantedScopes).includes('orders:history.read');
      expect(g.filter((e) => e.time < tl.scopeChangeAt).some(has)).toBe(false);
      expect(g.filter((e) => e.time >= tl.scopeChangeAt).some(has)).toBe(true);
      // every weekday deploy ships a new build (user agent)
      expect(new Set(g.map((e) => (e.record.client as any).userAgent.rawUserAgent)).size).toBeGreaterThan(2);
    }
  });

  it('gateway clock skew: a request drained at shutdown lands more than 60 s after its token was revoked', () => {
    const revoked = new Map<string, number>();
    for (const e of okta) if (e.record.eventType === 'app.oauth2.as.token.revoke') revoked.set((e.record.target as any[])[0].id, e.time);
    const after = kong.map((e) => (e.record.started_at as number) - (revoked.get((e.record.tw_claims as any).jti) ?? Infinity)).filter((d) => d > 0);
    expect(after.length).toBeGreaterThan(0);
    // a drained request is at most a few seconds late in real time; only a node's clock puts it past 60 s
    expect(Math.max(...after)).toBeGreaterThan(60_000);
    expect(Math.max(...after)).toBeLessThan(95_000);
  });
});

describe('realistic profile: attacks and their ground truth', () => {
  const marked = (name: string): SimEvent[] => events.filter((e) => e.attack === name);

  it('injects every default and hard attack once, with the accepted detectors', () => {
    expect(run.attacks.map((a) => a.name).sort()).toEqual([...REALISTIC_ATTACK_NAMES].sort());
    const detectors = Object.fromEntries(run.attacks.map((a) => [a.name, a.detectors]));
    for (const n of ['mint_loop', 'mint_slow_ramp', 'mint_peak_burst']) expect(detectors[n]).toEqual(['mint_rate_spike']);
    for (const n of ['scope_escalation', 'scope_sensitive_read']) expect(detectors[n]).toEqual(['scope_drift']);
    for (const n of ['use_after_revoke', 'use_10min_after_revoke']) expect(detectors[n]).toEqual(['token_replay']);
    // Okta does not log which refresh token a grant redeemed: the theft shows as the new token's
    // context (credential_context) or the grant's context (mint_rate_spike), as well as any reuse.
    expect(detectors.refresh_token_reuse).toEqual(['token_replay', 'credential_context', 'mint_rate_spike']);
    for (const n of ['sts_replay', 'ec2_credential_escape', 'stolen_sts_same_region', 'stolen_sts_other_asn', 'instance_credentials_private']) {
      expect(detectors[n]).toEqual([...CREDENTIAL_DETECTORS]);
    }
    const learnEnd = DEFAULT_START + realisticTimeline(DEFAULT_START, DAYS).learnDays * DAY;
    for (const a of run.attacks) {
      expect(a.start, a.name).toBeGreaterThanOrEqual(learnEnd);
      expect(a.end).toBeLessThan(DEFAULT_START + DAYS * DAY);
    }
    expect(HARD_ATTACK_NAMES.length).toBe(8);
  });

  it("each attack's window is its records' first and last malicious event", () => {
    for (const a of run.attacks) {
      const acts = marked(a.name).filter((e) => !String(e.record.eventType ?? '').includes('token.revoke'));
      expect(acts.length, a.name).toBeGreaterThan(0);
      expect(Math.min(...acts.map((e) => e.time)), a.name).toBe(a.start);
      expect(Math.max(...acts.map((e) => e.time)), a.name).toBe(a.end);
    }
  });

  it('token-keyed attacks use a credential the victim really holds; issuer-keyed ones act as that issuer', () => {
    for (const a of run.attacks) {
      const acts = marked(a.name);
      if (a.identity.token?.namespace === 'aws') {
        const id = a.identity.token.id;
        const mint = trail.find((e) => (e.record.responseElements as any)?.credentials?.accessKeyId === id);
        expect(mint, `${a.name}: the victim minted the key`).toBeDefined();
        expect(acts.every((e) => ui(e).accessKeyId === id && ui(e).sessionContext.sessionIssuer.arn === a.identity.issuer)).toBe(true);
        expect(acts.every((e) => !REALISTIC_NAT_GATEWAY_IPS.includes(String(e.record.sourceIPAddress)) && e.record.vpcEndpointId === undefined)).toBe(true);
      } else if (a.identity.token?.namespace === 'jti') {
        const id = a.identity.token.id;
        const issued = okta.find((e) => String(e.record.eventType).startsWith('app.oauth2.as.token.grant') && (e.record.target as any[])[0].id === id);
        expect(issued, `${a.name}: the victim was issued the token`).toBeDefined();
        expect(issued!.time).toBeLessThan(a.start);
      } else {
        expect(acts.every((e) => e.format === 'okta' && (e.record.actor as any).id === a.identity.issuer), a.name).toBe(true);
      }
    }
  });

  it('the hard variants look like the estate: same SDK and region, own egress, private address', () => {
    const get = (n: string) => run.attacks.find((a) => a.name === n)!;
    const same = marked('stolen_sts_same_region');
    const batchUas = new Set(trail.filter((e) => ui(e)?.sessionContext?.sessionIssuer?.arn === get('stolen_sts_same_region').identity.issuer).map((e) => e.record.userAgent));
    for (const e of same) {
      expect(batchUas.has(e.record.userAgent)).toBe(true);
      expect(e.record.awsRegion).toBe('us-east-1');
      expect(String(e.record.sourceIPAddress)).toMatch(/^54\.166\.23\./);
    }
    expect(String(marked('stolen_sts_other_asn')[0]!.record.sourceIPAddress)).toMatch(/^159\.203\./);
    for (const e of marked('instance_credentials_private')) expect(String(e.record.sourceIPAddress)).toMatch(/^10\.99\./);
    const pool = inCidr(`${REALISTIC_EKS_POOL.base}0/24`);
    const burst = marked('mint_peak_burst');
    for (const e of burst) expect(pool(String((e.record.client as any).ipAddress))).toBe(true);
    const ramp = marked('mint_slow_ramp');
    const perDay = [0, 1, 2].map((d) => ramp.filter((e) => e.time >= get('mint_slow_ramp').start + d * DAY - MIN && e.time < get('mint_slow_ramp').start + (d + 1) * DAY - MIN).length);
    expect(perDay[1]!).toBeGreaterThan(perDay[0]! * 1.8);
    const pii = marked('scope_sensitive_read').map((e) => String((e.record.debugContext as any).debugData.grantedScopes));
    expect(pii.every((s) => s.includes('customers.pii.read'))).toBe(true);
    const revoke = marked('use_10min_after_revoke').find((e) => e.record.eventType === 'app.oauth2.as.token.revoke')!;
    expect(get('use_10min_after_revoke').start - revoke.time).toBeGreaterThanOrEqual(10 * MIN - 80_000);
    // refresh-token reuse: the IdP raises no reuse event
    expect(events.some((e) => String(e.record.eventType ?? '').includes('detect_reuse'))).toBe(false);
  });
});
