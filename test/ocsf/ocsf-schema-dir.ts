/**
 * Where the tests find the OCSF schema files: ../shared/ocsf next to the repository (CI always
 * has it), or OCSF_SCHEMA_DIR. Absent files fail the tests loudly instead of skipping them.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOcsfSchema, type OcsfSchema } from '../../src/ocsf/validate.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const OCSF_SCHEMA_DIR = process.env.OCSF_SCHEMA_DIR ?? join(repoRoot, '../shared/ocsf');

export function loadTestSchema(): OcsfSchema {
  if (!existsSync(OCSF_SCHEMA_DIR)) {
    throw new Error(`OCSF schema files not found at ${OCSF_SCHEMA_DIR}: the OCSF tests need the OCSF 1.8.0 schema files in ../shared/ocsf (relative to the repository root) or a directory named by OCSF_SCHEMA_DIR`);
  }
  return loadOcsfSchema(OCSF_SCHEMA_DIR);
}
