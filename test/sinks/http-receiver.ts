/**
 * A real HTTP receiver for the delivery-sink tests: node:http on 127.0.0.1 with an ephemeral port.
 * It records every request (method, path, headers, body) and answers through a per-test
 * `respond` function; a response of 'stall' holds the request open until `release()`.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Alert, DetectorId, Severity } from '../../schemas/alert.js';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Reply = { status: number; body?: string; headers?: Record<string, string> } | 'stall';

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  respond: (req: ReceivedRequest, index: number) => Reply;
  /** Answer every stalled request with `reply` (default 200). */
  release(reply?: { status: number; body?: string }): void;
  stalled(): number;
  close(): Promise<void>;
}

export async function startReceiver(respond: Receiver['respond']): Promise<Receiver> {
  const stalled: ServerResponse[] = [];
  const r: Receiver = {
    url: '',
    requests: [],
    respond,
    release(reply = { status: 200 }) {
      for (const res of stalled.splice(0)) res.writeHead(reply.status).end(reply.body ?? '');
    },
    stalled: () => stalled.length,
    close: () =>
      new Promise<void>((resolve) => {
        r.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      r.requests.push(rec);
      const reply = r.respond(rec, r.requests.length - 1);
      if (reply === 'stall') stalled.push(res);
      else res.writeHead(reply.status, reply.headers ?? {}).end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

/** Waits (polling the event loop) until `cond` holds; fails after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function testAlert(p: { name: string; detector: DetectorId; kind: string; severity: Severity; subject?: string; issuer?: string }): Alert {
  return {
    schema_version: 1,
    alert_id: createHash('sha256').update(p.name).digest('hex').slice(0, 32),
    detector: p.detector,
    detector_version: 2,
    kind: p.kind,
    severity: p.severity,
    score: 0.97,
    title: `${p.kind} on ${p.name}`,
    summary: `test alert ${p.name}`,
    token_fp: 'tw1:0123456789abcdef0123456789abcdef',
    ...(p.issuer !== undefined && { issuer: p.issuer }),
    ...(p.subject !== undefined && { subject: p.subject }),
    service: 'crm',
    first_seen: '2026-03-02T10:00:00.000Z',
    last_seen: '2026-03-02T10:05:00.000Z',
    evidence: { events: [{ event_id: `okta:${p.name}`, time: '2026-03-02T10:00:00.000Z', source: 'okta', action: 'use', ip: '192.0.2.10' }], baseline: {} },
    mitre_attack: ['T1550.001'],
    owasp_nhi: ['NHI7'],
    runbook: 'docs/runbooks/token-replay.md',
    dedup_key: `${p.detector}:${p.name}`,
  };
}
