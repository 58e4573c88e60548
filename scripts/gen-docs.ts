/** `npm run docs`: regenerate the README's reference sections from the code. */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderReadme } from '../src/docs/reference.js';

const before = readFileSync('README.md', 'utf8');
const after = renderReadme(before);
if (after !== before) writeFileSync('README.md', after);
process.stdout.write(after === before ? 'README.md reference sections are up to date\n' : 'README.md reference sections regenerated\n');
