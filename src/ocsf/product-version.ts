/**
 * tokenwatch's own version (package.json) for OCSF metadata.product.version. Found by walking
 * up from this module, so it works from src/ (tests) and from dist/src/ (the built CLI) alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tokenwatch' && typeof pkg.version === 'string') return pkg.version;
    }
    if (dirname(dir) === dir) return '0.0.0';
  }
}

export const TOKENWATCH_VERSION: string = findVersion();
