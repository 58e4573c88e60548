import { FORMATS } from '../normalize/index.js';
import { CONCATENATED_JSON, ENVELOPES } from '../envelopes/index.js';
import { COMPRESSIONS } from '../pipeline/decompress.js';
import { DETECTORS } from '../../detectors/index.js';

export async function formatsCommand(): Promise<number> {
  const out: string[] = ['Vendor formats (auto-detection order):'];
  for (const f of FORMATS) out.push(`  ${f.id.padEnd(14)} ${f.platform.padEnd(8)} ${f.description}`);
  out.push('', 'Envelopes (unwrapped before format detection):');
  for (const e of [...ENVELOPES, CONCATENATED_JSON]) out.push(`  ${e.id.padEnd(26)} ${e.description}`);
  out.push('', 'Compression (detected by magic bytes in files, stdin, Kafka values and base64 payloads):');
  for (const c of COMPRESSIONS) out.push(`  ${c.id.padEnd(6)} ${c.description}`);
  out.push('', 'Detectors:');
  for (const d of DETECTORS) out.push(`  ${d.meta.id.padEnd(20)} v${d.meta.version} key_by=${d.meta.key_by.padEnd(6)} kinds: ${Object.keys(d.meta.kinds).join(', ')}`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
