import { describe, expect, it } from 'vitest';
import { embeddedIpv4, parseCidr, parseIpv4, parseIpv6, scopeOfIpv4, scopeOfIpv6 } from '../../src/enrich/ip-address.js';

const hex = (w: Uint32Array): string => [...w].map((x) => x.toString(16).padStart(8, '0')).join(':');
function v6(s: string): string | undefined {
  const w = new Uint32Array(4);
  return parseIpv6(s, w) ? hex(w) : undefined;
}

describe('parseIpv4', () => {
  it('parses dotted quads to unsigned 32-bit numbers', () => {
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('8.8.8.8')).toBe(0x08080808);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('x8.8.8.8y', 1, 8)).toBe(0x08080808);
  });
  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1.2.3.', '1234.1.1.1'])('rejects %j', (s) => {
    expect(parseIpv4(s)).toBe(-1);
  });
});

describe('parseIpv6', () => {
  it('expands :: at the start, middle and end', () => {
    expect(v6('::')).toBe('00000000:00000000:00000000:00000000');
    expect(v6('::1')).toBe('00000000:00000000:00000000:00000001');
    expect(v6('2001:db8::')).toBe('20010db8:00000000:00000000:00000000');
    expect(v6('2001:4860:4860::8888')).toBe('20014860:48600000:00000000:00008888');
    expect(v6('1:2:3:4:5:6:7::')).toBe('00010002:00030004:00050006:00070000');
  });
  it('reads full forms, upper case, embedded IPv4 and zone ids', () => {
    expect(v6('2A03:2880:F12F:0083:FACE:B00C:0000:25DE')).toBe('2a032880:f12f0083:faceb00c:000025de');
    expect(v6('::ffff:81.2.69.160')).toBe('00000000:00000000:0000ffff:510245a0');
    expect(v6('fe80::1%eth0')).toBe('fe800000:00000000:00000000:00000001');
  });
  it.each([':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', '1:', '::1:', '1.2.3.4', '::ffff:1.2.3', '1:2:3:4:5:6:7:8::'])('rejects %j', (s) => {
    expect(v6(s)).toBeUndefined();
  });
});

describe('scopes', () => {
  it.each([
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['172.32.0.1', 'public'], ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared'], ['100.127.255.255', 'shared'], ['100.128.0.1', 'public'], ['127.0.0.1', 'loopback'], ['169.254.169.254', 'link_local'],
    ['224.0.0.1', 'multicast'], ['240.0.0.1', 'reserved'], ['0.1.2.3', 'reserved'], ['192.0.2.10', 'reserved'], ['198.51.100.1', 'reserved'],
    ['203.0.113.9', 'reserved'], ['198.18.0.1', 'reserved'], ['8.8.8.8', 'public'],
  ])('IPv4 %s is %s', (ip, scope) => {
    expect(scopeOfIpv4(parseIpv4(ip))).toBe(scope);
  });
  it.each([
    ['::1', 'loopback'], ['::', 'reserved'], ['fd00::1', 'private'], ['fc00::1', 'private'], ['fe80::1', 'link_local'], ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'], ['2600:1f18::1', 'public'], ['3fff:ffff::1', 'public'], ['4000::1', 'reserved'],
  ])('IPv6 %s is %s', (ip, scope) => {
    const w = new Uint32Array(4);
    expect(parseIpv6(ip, w)).toBe(true);
    expect(scopeOfIpv6(w)).toBe(scope);
  });
  it('finds the IPv4 address in mapped and NAT64 addresses', () => {
    const w = new Uint32Array(4);
    parseIpv6('::ffff:8.8.8.8', w);
    expect(embeddedIpv4(w)).toBe(0x08080808);
    parseIpv6('64:ff9b::8.8.4.4', w);
    expect(embeddedIpv4(w)).toBe(0x08080404);
    parseIpv6('2001:4860::1', w);
    expect(embeddedIpv4(w)).toBe(-1);
  });
});

describe('parseCidr', () => {
  it('gives inclusive bounds and masks host bits', () => {
    expect(parseCidr('3.0.5.33/29')).toEqual({ v4: true, start: parseIpv4('3.0.5.32'), end: parseIpv4('3.0.5.39') });
    expect(parseCidr('0.0.0.0/0')).toEqual({ v4: true, start: 0, end: 0xffffffff });
    const r = parseCidr('2600:1f18::/33');
    expect(r && !r.v4 && [hex(r.start), hex(r.end)]).toEqual(['26001f18:00000000:00000000:00000000', '26001f18:7fffffff:ffffffff:ffffffff']);
    expect(parseCidr('1.2.3.4/33')).toBeUndefined();
    expect(parseCidr('1.2.3.4')).toBeUndefined();
  });
});
