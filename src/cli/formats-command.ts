import { FORMATS } from '../normalize/index.js';
import { DETECTORS } from '../../detectors/index.js';

export async function formatsCommand(): Promise<number> {
  const out: string[] = ['Vendor formats (auto-detection order):'];
  for (const f of FORMATS) out.push(`  ${f.id.padEnd(14)} ${f.platform.padEnd(8)} ${f.description}`);
  out.push('', 'Detectors:');
  for (const d of DETECTORS) out.push(`  ${d.meta.id.padEnd(20)} v${d.meta.version} key_by=${d.meta.key_by.padEnd(6)} kinds: ${Object.keys(d.meta.kinds).join(', ')}`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
