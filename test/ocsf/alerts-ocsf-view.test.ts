/**
 * The `alerts_ocsf` view on the embedded store (chDB): every alert of every detector kind, stored
 * through the ClickHouse sink's row format, reads back as a finding that validates and agrees
 * with the mapper on what both carry. (The same migration runs on ClickHouse 18.16 in the
 * server store suite, test/store/clickhouse-server.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETECTORS } from '../../detectors/index.js';
import type { Alert } from '../../schemas/alert.js';
import { buildAlert } from '../../src/pipeline/alert-builder.js';
import { toDetectionFinding } from '../../src/ocsf/detection-finding.js';
import { validateDetectionFinding } from '../../src/ocsf/validate.js';
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse-client.js';
import { migrate } from '../../src/store/migrations.js';
import { alertRow, timePrecisionFor } from '../../src/store/rows.js';
import { feedDetector } from '../detectors/feed-detector.js';
import { loadTestSchema } from './ocsf-schema-dir.js';

const schema = loadTestSchema();
const dir = mkdtempSync(join(tmpdir(), 'tw-ocsf-view-'));
const DB = 'tw_ocsf_view';

function allAlerts(): Alert[] {
  const out: Alert[] = [];
  for (const def of DETECTORS) {
    for (const c of def.cases.positive) {
      for (const d of feedDetector(def.create(def.config.parse({ ...(c.config ?? {}) })), c.events, 86_400_000)) out.push(buildAlert(def.meta, d));
    }
  }
  return out;
}

describe('alerts_ocsf view (embedded chDB)', () => {
  let store: StoreClient;
  const alerts = allAlerts();
  // one alert with everything an escaper can get wrong in its free text
  const nasty: Alert = { ...alerts[0]!, alert_id: 'f'.repeat(32), title: 'quote " backslash \\ tab \t', summary: 'line\nbreak, \u0001 control, unicode é✓', runbook: '1. "a"\n2. \\b' };

  beforeAll(async () => {
    store = await createStoreClient({ path: dir, database: DB });
    const m = await migrate(store.client, { database: DB });
    expect(m.applied).toContain('0005_alerts_ocsf_view');
    const p = timePrecisionFor(m.features);
    await store.client.insert({ table: `${DB}.alerts`, values: [...alerts, nasty].map((a) => alertRow(a, p)), format: 'JSONEachRow' });
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives every stored alert as a valid finding that matches the mapper on the shared attributes', async () => {
    expect(new Set(alerts.map((a) => `${a.detector}/${a.kind}`)).size).toBe(DETECTORS.reduce((n, d) => n + Object.keys(d.meta.kinds).length, 0));
    const rs = await store.client.query({ query: `SELECT alert_id, finding FROM ${DB}.alerts_ocsf`, format: 'JSONEachRow' });
    const rows = await rs.json<{ alert_id: string; finding: string }>();
    const byId = new Map(alerts.map((a) => [a.alert_id, a]));
    expect(new Set(rows.map((r) => r.alert_id))).toEqual(new Set([...byId.keys(), nasty.alert_id]));
    for (const r of rows) {
      const f = JSON.parse(r.finding) as Record<string, any>;
      expect(validateDetectionFinding(schema, f), r.alert_id).toEqual([]);
      const a = byId.get(r.alert_id) ?? nasty;
      // the view drops control characters other than \n \r \t (18.16 cannot hex-escape them)
      const m = JSON.parse(JSON.stringify(toDetectionFinding(a)).replace(/\\u00(0[0-8bcef]|1[0-9a-f])/g, '')) as Record<string, any>;
      for (const k of ['class_uid', 'type_uid', 'severity_id', 'time', 'start_time', 'status_id', 'message']) expect(f[k], k).toEqual(m[k]);
      for (const k of ['uid', 'title', 'desc', 'analytic', 'types', 'first_seen_time', 'last_seen_time', 'related_events_count', 'tags']) expect(f.finding_info[k], k).toEqual(m.finding_info[k]);
      expect(f.finding_info.related_events.map((e: { uid: string }) => e.uid)).toEqual(m.finding_info.related_events.map((e: { uid: string }) => e.uid));
      expect(f.resources.map((x: { uid?: string; name?: string }) => x.uid ?? x.name)).toEqual(m.resources.map((x: { uid?: string; name?: string }) => x.uid ?? x.name));
      expect(f.remediation).toEqual(m.remediation);
      expect(f.unmapped.evidence).toEqual(a.evidence);
      // technique and sub-technique as the mapper gives them, without its per-tactic copies
      const techniques = (x: Record<string, any>[]) => [...new Set(x.map((t) => `${t.technique.uid}|${t.technique.name}|${t.sub_technique?.uid ?? ''}|${t.sub_technique?.name ?? ''}`))];
      expect(techniques(f.attacks)).toEqual(techniques(m.attacks));
    }
  });
});
