/**
 * The report against embedded chDB, rendered in headless Chromium (Debian's `chromium` package,
 * installed by scripts/test-all.sh; this test installs nothing): the screenshot is not blank and
 * shows the charts' colours, and the DOM Chromium built holds every chart element.
 * chDB binds one data directory per process; vitest gives this file its own fork.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { createStoreClient } from '../../src/store/clickhouse-client.js';
import { countColor, decodePng, luminanceVariance } from './png.js';
import { defineReportSuite } from './report-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// root in containers/CI has no user namespace sandbox; the page is our own file, offline
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars', '--no-first-run', '--disable-extensions', '--user-data-dir=' + join(dir, 'profile')];

function chromium(args: string[]): string {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium package (scripts/test-all.sh does: apt-get install -y chromium) or set CHROMIUM`);
  return execFileSync(CHROMIUM, [...FLAGS, ...args], { encoding: 'utf8', timeout: 90_000, maxBuffer: 32 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
}

defineReportSuite(
  'report on embedded chDB',
  async () => createStoreClient({ path: join(dir, 'chdb') }),
  'tw_test_report',
  (report) => {
    it('renders in headless Chromium: a screenshot that is not blank, and every chart element in the DOM', () => {
      const page = join(dir, 'report.html');
      writeFileSync(page, report().html);
      const url = pathToFileURL(page).href;

      const shot = join(dir, 'report.png');
      chromium([`--screenshot=${shot}`, '--window-size=1000,2200', url]);
      const img = decodePng(readFileSync(shot));
      expect(img.width).toBe(1000);
      expect(luminanceVariance(img)).toBeGreaterThan(100);
      // the baseline band (#9ecae1 at 55 % over white), the series line and the token_replay marker
      expect(countColor(img, [202, 226, 239])).toBeGreaterThan(2000);
      expect(countColor(img, [8, 81, 156], 30)).toBeGreaterThan(200);
      expect(countColor(img, [214, 39, 40], 20)).toBeGreaterThan(30);

      const dom = chromium(['--dump-dom', url]);
      const count = (re: RegExp) => dom.match(re)?.length ?? 0;
      expect(count(/<svg[^>]* class="chart"/g)).toBe(5);
      expect(count(/data-chart="mint-rate-\d"/g)).toBe(3);
      expect(count(/<polygon class="band"/g)).toBeGreaterThanOrEqual(3);
      expect(count(/<path class="series"/g)).toBe(3);
      expect(count(/<g class="alert-marker"/g)).toBe(3);
      expect(count(/<path class="incident-marker"/g)).toBe(2);
      expect(count(/<rect class="bar"/g)).toBe(3 + 10); // alert bars + hygiene bars
      expect(dom).toContain('<h2 id="hygiene">');
      // two Chromium launches of up to 90 s each (their own timeout above): vitest's default 30 s
      // cut a slow launch on the shared CI machine short (46.5 s once at stop 17, once at stop 18)
    }, 200_000);
  },
);
