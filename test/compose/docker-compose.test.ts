/** docker-compose.yml: structure, health gating, and agreement with the config it runs. */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { KafkaConfig } from '../../src/config/config-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { topicPlan } from '../../src/runtime/topics.js';

interface Service {
  image?: string;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval?: string; retries?: number };
  restart?: string;
  stop_signal?: string;
  volumes?: string[];
}

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
const commandText = (s: Service): string => [s.entrypoint, s.command].flat().filter(Boolean).join(' ');

describe('docker-compose.yml', () => {
  it('has Kafka (KRaft), topic init, ClickHouse, migrate and the runtime', () => {
    expect(Object.keys(services).sort()).toEqual(['clickhouse', 'grafana', 'kafka', 'kafka-init', 'tokenwatch', 'tokenwatch-migrate']);
    expect(services.kafka!.image).toMatch(/^apache\/kafka:3\.9\.\d+$/);
    expect(services['kafka-init']!.image).toBe(services.kafka!.image);
    expect(services.clickhouse!.image).toMatch(/^clickhouse\/clickhouse-server:/);
    const env = services.kafka!.environment!;
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
  });

  it('gates startup on health and on the one-shot jobs', () => {
    for (const name of ['kafka', 'clickhouse', 'tokenwatch']) {
      expect(services[name]!.healthcheck?.test.length, name).toBeGreaterThan(0);
    }
    expect(services['kafka-init']!.depends_on).toEqual({ kafka: { condition: 'service_healthy' } });
    expect(services['tokenwatch-migrate']!.depends_on).toEqual({ clickhouse: { condition: 'service_healthy' } });
    expect(services.tokenwatch!.depends_on).toEqual({
      kafka: { condition: 'service_healthy' },
      'kafka-init': { condition: 'service_completed_successfully' },
      clickhouse: { condition: 'service_healthy' },
      'tokenwatch-migrate': { condition: 'service_completed_successfully' },
    });
    expect(services['kafka-init']!.restart).toBe('no');
    expect(services['tokenwatch-migrate']!.restart).toBe('no');
    // the runtime's health check is its readiness endpoint
    expect(services.tokenwatch!.healthcheck!.test.join(' ')).toContain('/readyz');
    expect(services.tokenwatch!.stop_signal).toBe('SIGTERM');
  });

  it('runs the CLI commands with the compose config, secrets from the environment', async () => {
    const cfgPath = 'scripts/config/tokenwatch.compose.yaml';
    expect(commandText(services['tokenwatch-migrate']!)).toContain(`node bin/tokenwatch.js migrate --config ${cfgPath}`);
    expect(commandText(services.tokenwatch!)).toBe(`node bin/tokenwatch.js run --config ${cfgPath}`);
    const cfg = await loadConfig(new URL(`../../${cfgPath}`, import.meta.url).pathname);
    const env = services.tokenwatch!.environment!;
    expect(env[cfg.hmac_key_env]).toMatch(/^\$\{TOKENWATCH_HMAC_KEY:\?/);
    expect(env[cfg.store.password_env]).toBe(services.clickhouse!.environment!.CLICKHOUSE_PASSWORD);
    expect(cfg.kafka!.brokers).toEqual(['kafka:9092']);
    expect(services.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS).toContain('INTERNAL://kafka:9092');
    expect(cfg.store.url).toBe('http://clickhouse:8123');
  });

  it('creates exactly the topics the config names, with its partition count', async () => {
    const cfg = await loadConfig(new URL('../../scripts/config/tokenwatch.compose.yaml', import.meta.url).pathname);
    const init = commandText(services['kafka-init']!);
    const loop = /for t in ([^;]+); do/.exec(init);
    expect(loop).not.toBeNull();
    const created = loop![1]!.trim().split(/\s+/).sort();
    const plan = topicPlan(cfg.kafka!);
    expect(created).toEqual(plan.filter((t) => t.role !== 'changelog').map((t) => t.topic).sort());
    // the changelog is created apart: compacted, one partition, large messages
    const changelog = plan.find((t) => t.role === 'changelog')!;
    expect(init).toContain(`--topic ${changelog.topic} --partitions 1 --replication-factor ${cfg.kafka!.topics.replication_factor} --config cleanup.policy=compact --config max.message.bytes=16777216`);
    expect(init).toContain(`--partitions ${cfg.kafka!.topics.partitions}`);
    expect(init).toContain(`--replication-factor ${cfg.kafka!.topics.replication_factor}`);
    // internal topic names are the schema defaults (what the README documents)
    const defaults = KafkaConfig.parse({ brokers: ['x:1'], inputs: [{ topic: 'in' }] }).topics;
    expect(cfg.kafka!.topics).toEqual(defaults);
    // and the example config documents the same inputs and topics
    const example = await loadConfig(new URL('../../scripts/config/tokenwatch.example.yaml', import.meta.url).pathname);
    expect(example.kafka!.topics).toEqual(defaults);
    expect(example.kafka!.inputs).toEqual(cfg.kafka!.inputs);
  });

  it('provisions Grafana with the ClickHouse data source and the tokenwatch dashboard', async () => {
    const g = services.grafana!;
    expect(g.image).toMatch(/^grafana\/grafana-oss:\d+\.\d+\.\d+$/);
    expect(g.environment!.GF_INSTALL_PLUGINS).toBe('grafana-clickhouse-datasource');
    expect(g.ports).toEqual(['127.0.0.1:3000:3000']);
    expect(g.depends_on).toEqual({ clickhouse: { condition: 'service_healthy' }, 'tokenwatch-migrate': { condition: 'service_completed_successfully' } });
    expect(g.healthcheck!.test.join(' ')).toContain('/api/health');
    // every mounted host path exists; provisioning and dashboards land where Grafana and the provider look
    const mounts = Object.fromEntries(g.volumes!.filter((v) => v.startsWith('./')).map((v) => v.split(':') as [string, string, string]).map(([host, target]) => [target, host]));
    for (const host of Object.values(mounts)) expect(existsSync(new URL(`../../${host}`, import.meta.url)), host).toBe(true);
    expect(mounts['/etc/grafana/provisioning']).toBe('./scripts/grafana/provisioning');
    const provider = (parse(readFileSync(new URL('../../scripts/grafana/provisioning/dashboards/tokenwatch.yaml', import.meta.url), 'utf8')) as { providers: { options: { path: string } }[] }).providers[0]!;
    expect(mounts[provider.options.path]).toBe('./scripts/grafana/dashboards');
    expect(g.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${provider.options.path}/tokenwatch.json`);
    // the data source reaches the compose ClickHouse with the runtime's database and password
    const ds = (parse(readFileSync(new URL('../../scripts/grafana/provisioning/datasources/tokenwatch-clickhouse.yaml', import.meta.url), 'utf8')) as {
      datasources: { type: string; jsonData: { host: string; port: number; protocol: string; defaultDatabase: string }; secureJsonData: { password: string } }[];
    }).datasources[0]!;
    const cfg = await loadConfig(new URL('../../scripts/config/tokenwatch.compose.yaml', import.meta.url).pathname);
    expect(ds.type).toBe('grafana-clickhouse-datasource');
    expect(`http://${ds.jsonData.host}:${ds.jsonData.port}`).toBe(cfg.store.url);
    expect(ds.jsonData.protocol).toBe('http');
    expect(ds.jsonData.defaultDatabase).toBe(cfg.store.database);
    expect(ds.secureJsonData.password).toBe('$CLICKHOUSE_PASSWORD');
    expect(g.environment!.CLICKHOUSE_PASSWORD).toBe(services.clickhouse!.environment!.CLICKHOUSE_PASSWORD);
    // panel queries name the compose database (test/report/grafana-dashboard.test.ts runs them)
    const dashboard = readFileSync(new URL('../../scripts/grafana/dashboards/tokenwatch.json', import.meta.url), 'utf8');
    expect(dashboard).toContain(`FROM ${cfg.store.database}.alerts`);
  });

  it('publishes the dev ports: Kafka 19092, ClickHouse 18123, metrics on the config http port', async () => {
    const cfg = await loadConfig(new URL('../../scripts/config/tokenwatch.compose.yaml', import.meta.url).pathname);
    expect(services.kafka!.ports).toEqual(['127.0.0.1:19092:19092']);
    expect(services.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS).toContain('EXTERNAL://127.0.0.1:19092');
    expect(services.clickhouse!.ports).toEqual(['127.0.0.1:18123:8123']);
    expect(services.tokenwatch!.ports).toEqual([`127.0.0.1:${cfg.http.port}:${cfg.http.port}`]);
    expect(cfg.http.host).toBe('0.0.0.0');
    expect(Object.keys(compose.volumes).sort()).toEqual(['clickhouse-data', 'grafana-data', 'kafka-data', 'node-modules']);
    // the README documents the same loopback ports
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const port of ['127.0.0.1:19092', '127.0.0.1:18123', String(cfg.http.port)]) expect(readme, port).toContain(port);
  });
});
