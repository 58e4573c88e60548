/**
 * Elasticsearch / OpenSearch exports: one hit `{"_index","_id","_source":{…}}` (elasticdump,
 * scroll exports written one hit per line) or a whole search response `{"hits":{"hits":[…]}}`.
 * The record is `_source`; a Logstash/Filebeat `_source` is then opened by the logstash envelope.
 * Shape: https://www.elastic.co/guide/en/elasticsearch/reference/current/search-search.html
 */
import { TokenwatchError } from '../core/errors.js';
import type { Envelope, InnerRecord } from './types.js';
import { isObject } from './types.js';

const isHit = (v: Record<string, unknown>): boolean => isObject(v._source) && ('_index' in v || '_id' in v);

function hit(h: unknown): InnerRecord {
  if (isObject(h) && isObject(h._source)) return { value: h._source };
  return { error: new TokenwatchError('schema_violation', 'elasticsearch: hits.hits[] element without a _source object (search with _source enabled)'), raw: h };
}

export const elasticsearch: Envelope = {
  id: 'elasticsearch',
  description: 'Elasticsearch/OpenSearch hit {"_index","_id","_source"} or search response {"hits":{"hits":[…]}}',
  detect: (v) => isHit(v) || (isObject(v.hits) && Array.isArray(v.hits.hits)),
  unwrap: (v) => ({ records: isHit(v) ? [{ value: v._source }] : ((v.hits as { hits: unknown[] }).hits).map(hit) }),
};
