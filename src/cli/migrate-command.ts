/**
 * `tokenwatch migrate [--config FILE]`: create or update the ClickHouse schema (server when
 * store.url is set, embedded chDB otherwise). Idempotent; `tokenwatch run` also applies it at start.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { createStoreClientFromConfig } from '../store/clickhouse-client.js';
import { migrate } from '../store/migrations.js';

export async function migrateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, 'data-dir': { type: 'string' }, 'store-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write('usage: tokenwatch migrate [--config FILE] [--data-dir DIR | --store-url URL]\n  Create/update the ClickHouse tables (store.url, or embedded chDB at store.path).\n');
    return 0;
  }
  const config = await loadConfig(values.config);
  if (values['data-dir']) config.store.path = values['data-dir'];
  if (values['store-url']) config.store.url = values['store-url'];
  const s = config.store;
  const store = await createStoreClientFromConfig(s);
  try {
    const r = await migrate(store.client, { database: s.database });
    const where = store.kind === 'server' ? s.url : `embedded chDB at ${s.path}`;
    process.stderr.write(
      `tokenwatch migrate: ${where} (ClickHouse ${r.serverVersion}), database ${s.database}: ` +
        (r.applied.length ? `applied ${r.applied.join(', ')}` : 'schema already current') + '\n',
    );
  } finally {
    await store.close();
  }
  return 0;
}
