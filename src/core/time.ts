/** Parse the time formats vendors emit into epoch ms; undefined when unparseable. */
const CLOUDTRAIL_EXPIRY = /^([A-Z][a-z]{2}) (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2}):(\d{2}) (AM|PM)$/;
const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

export function parseTime(v: unknown): number | undefined {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= 0) return undefined;
    // seconds vs milliseconds vs microseconds
    if (v < 1e11) return Math.round(v * 1000);
    if (v < 1e14) return Math.round(v);
    return Math.round(v / 1000);
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > 64) return undefined;
  const m = CLOUDTRAIL_EXPIRY.exec(v);
  if (m) {
    // CloudTrail's STS `expiration`: "Oct 2, 2019 11:12:29 PM" (UTC)
    const [, mon, d, y, hh, mm, ss, ap] = m;
    let h = Number(hh) % 12;
    if (ap === 'PM') h += 12;
    const month = MONTHS[mon!];
    if (month === undefined) return undefined;
    return Date.UTC(Number(y), month, Number(d), h, Number(mm), Number(ss));
  }
  if (/^\d+(\.\d+)?$/.test(v)) return parseTime(Number(v));
  // ISO-8601 (or 'YYYY-MM-DD hh:mm:ss') without a zone is taken as UTC, never local time
  const iso = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(v) ? v.replace(' ', 'T') + 'Z' : v;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

export const isoTime = (ms: number): string => new Date(ms).toISOString();
