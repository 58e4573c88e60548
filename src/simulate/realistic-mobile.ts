/**
 * Mobile clients on carrier networks (realistic profile): each device signs in once
 * (authorization_code), then redeems its rotating refresh token about hourly while it is in
 * use, and calls the gateway from a carrier-grade NAT address that keeps changing — between
 * IPv4 addresses in different /16s and IPv6 addresses of the carrier. A context change on
 * every token is normal here.
 */
import { HOUR, MIN, DAY, type ClientSpec, type Estate } from './estate.js';
import { gatewayEvent, issueAccessToken, newTokenId, type SimClock } from './background.js';
import { userTokenGrantRecord, type CarrierAs, type OktaUser } from './okta-user-writer.js';
import { Rng } from './prng.js';
import type { SimEvent } from './types.js';

export interface Carrier {
  as: CarrierAs;
  /** IPv4 /16 prefixes of the carrier's CGNAT pools ("172.56."). */
  v4: readonly string[];
  /** IPv6 /32 prefix ("2607:fb90:"). */
  v6: string;
}

/** T-Mobile US (AS21928): 172.32.0.0/11 CGNAT pools, 2607:fb90::/32. */
export const T_MOBILE: Carrier = {
  as: { asNumber: 21928, asOrg: 't-mobile usa  inc.', isp: 't-mobile usa  inc.', domain: 'tmobile.com' },
  v4: ['172.56.', '172.58.', '172.59.', '172.62.'],
  v6: '2607:fb90:',
};
/** Verizon Wireless (AS22394): 174.192.0.0/10, 2600:1000::/28. */
export const VERIZON_WIRELESS: Carrier = {
  as: { asNumber: 22394, asOrg: 'verizon business', isp: 'verizon wireless', domain: 'myvzw.com' },
  v4: ['174.205.', '174.212.', '174.236.'],
  v6: '2600:1007:',
};

export interface MobileDevice {
  index: number;
  user: OktaUser;
  carrier: Carrier;
  userAgent: string;
  /** Daily window of use (UTC hour it starts, hours long); 24 = always on (a store kiosk). */
  activeFrom: number;
  activeHours: number;
  /** Start of the device's first session. */
  firstSeen: number;
}

/** The refresh token a device holds at `time` gets this id (a theft the attack list can name). */
export interface RefreshInjection {
  time: number;
  refreshTokenId: string;
}

const h16 = (r: Rng): string => (r.u32() & 0xffff).toString(16);

export function carrierIp(r: Rng, c: Carrier): string {
  if (r.chance(0.5)) return `${c.v6}${h16(r)}:${h16(r)}:${h16(r)}:${h16(r)}:${h16(r)}:${h16(r)}`;
  return `${r.pick(c.v4)}${r.int(256)}.${1 + r.int(254)}`;
}

export function mobileDevices(seed: number, count: number, start: number): MobileDevice[] {
  const rng = new Rng(seed, 'mobile-devices');
  const out: MobileDevice[] = [];
  for (let i = 0; i < count; i++) {
    const ios = rng.chance(0.55);
    const build = `7.${3 + rng.int(2)}.${rng.int(4)}`;
    out.push({
      index: i,
      user: { id: `00u${rng.alnum(17)}`, login: `shopper${1000 + i}@example.net`, name: `Shopper ${1000 + i}` },
      carrier: rng.chance(0.6) ? T_MOBILE : VERIZON_WIRELESS,
      userAgent: ios
        ? `AcmeShop/${build} (com.acme.shop; iOS 17.${4 + rng.int(3)}; Scale/3.00) Alamofire/5.9.0`
        : `AcmeShop/${build} (Android 14; ${rng.pick(['Pixel 8', 'SM-S918U', 'moto g 5G'])}) okhttp/4.12.0`,
      activeFrom: i === 0 ? 0 : 11 + rng.int(6),
      activeHours: i === 0 ? 24 : 8 + rng.int(9),
      firstSeen: start + rng.range(10 * MIN, 20 * HOUR),
    });
  }
  return out;
}

/** End of the active window containing `t`, or undefined when the device is idle at `t`. */
function windowEnd(d: MobileDevice, t: number): number | undefined {
  if (d.activeHours >= 24) return Infinity;
  const dayStart = Math.floor(t / DAY) * DAY;
  for (const s of [dayStart - DAY + d.activeFrom * HOUR, dayStart + d.activeFrom * HOUR]) {
    if (t >= s && t < s + d.activeHours * HOUR) return s + d.activeHours * HOUR;
  }
  return undefined;
}

function nextWindowStart(d: MobileDevice, t: number): number {
  const dayStart = Math.floor(t / DAY) * DAY;
  const s = dayStart + d.activeFrom * HOUR;
  return s > t ? s : s + DAY;
}

const ACCESS_TTL = HOUR;
const REFRESH_TTL = 30 * DAY;
export const newRefreshTokenId = (rng: Rng): string => `oar${rng.alnum(17)}`;

export function* mobileDevice(
  clock: SimClock, estate: Estate, spec: ClientSpec, d: MobileDevice, injection?: RefreshInjection,
): Generator<SimEvent> {
  const rng = new Rng(clock.seed, `mobile:${d.user.id}`);
  let ip = carrierIp(rng, d.carrier);
  let refreshId: string | undefined;
  let t = windowEnd(d, d.firstSeen) !== undefined ? d.firstSeen : nextWindowStart(d, d.firstSeen) + rng.range(0, 30 * MIN);
  let token = issueAccessToken(spec, newTokenId(rng), t, spec.scopes, d.user.id);

  const grants = (at: number, grantType: 'authorization_code' | 'refresh_token', nextRefresh: number): SimEvent[] => {
    const time = Math.floor(at);
    token = issueAccessToken(spec, newTokenId(rng), time, spec.scopes, d.user.id);
    const stolen = injection && injection.time >= time && injection.time < nextRefresh;
    refreshId = stolen ? injection.refreshTokenId : newRefreshTokenId(rng);
    const common = { time, client: spec.client, user: d.user, net: { ip, userAgent: d.userAgent }, carrier: d.carrier.as, grantType, scopes: spec.scopes };
    return [
      { format: 'okta', time, record: userTokenGrantRecord(rng, { ...common, token: { type: 'access_token', id: token.claims.jti, expiresAt: time + ACCESS_TTL } }) },
      { format: 'okta', time, record: userTokenGrantRecord(rng, { ...common, token: { type: 'refresh_token', id: refreshId, expiresAt: time + REFRESH_TTL } }) },
    ];
  };

  let end = windowEnd(d, t) ?? t + HOUR;
  let nextRefresh = t + rng.range(55 * MIN, 59 * MIN);
  yield* grants(t, refreshId === undefined ? 'authorization_code' : 'refresh_token', nextRefresh);
  let nextUse = t + rng.range(2_000, 20_000);
  let nextIp = t + rng.exp(35 * MIN);
  for (;;) {
    t = Math.min(nextUse, nextRefresh, nextIp, end);
    if (t >= clock.end) return;
    if (t === end) {
      // Idle until the next window; the app redeems its refresh token when it is opened again.
      t = nextWindowStart(d, end) + rng.range(0, 30 * MIN);
      if (t >= clock.end) return;
      end = windowEnd(d, t) ?? t + HOUR;
      ip = carrierIp(rng, d.carrier);
      nextRefresh = t + rng.range(55 * MIN, 59 * MIN);
      yield* grants(t, 'refresh_token', nextRefresh);
      nextUse = t + rng.range(1_000, 10_000);
      nextIp = t + rng.exp(35 * MIN);
    } else if (t === nextRefresh) {
      nextRefresh = t + rng.range(55 * MIN, 59 * MIN);
      yield* grants(t, 'refresh_token', nextRefresh);
    } else if (t === nextIp) {
      // The carrier moved the device to another CGNAT address (or between v4 and v6).
      ip = carrierIp(rng, d.carrier);
      nextIp = t + rng.exp(35 * MIN);
    } else {
      nextUse = t + rng.exp(HOUR / 10);
      yield gatewayEvent(rng, estate, spec, t, ip, d.userAgent, token);
    }
  }
}
