// Holds the layering of src/ (STYLE.md): each folder imports only the layers below it, and
// nothing imports cli/ or testing/. Type-only imports are not counted. Run by `npm run lint`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const src = resolve(import.meta.dirname, '../src');
/** What each layer may import besides itself. */
const allowed = {
  core: [],
  state: ['core'],
  checkpoint: ['core', 'state'],
  runtime: ['core', 'state', 'checkpoint'],
  plan: ['core', 'runtime'],
  connectors: ['core', 'state', 'runtime'],
  api: ['core', 'state', 'checkpoint', 'plan', 'runtime', 'connectors'],
  testing: ['core', 'state', 'checkpoint', 'runtime'],
  control: ['core', 'api'],
  cli: ['core', 'api', 'runtime', 'checkpoint', 'control'],
  '.': ['api', 'core', 'state', 'checkpoint', 'runtime', 'connectors', 'plan', 'testing', 'control'],
};

const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts')) files.push(path);
  }
};
walk(src);

const layerOf = (file) => relative(src, file).split('/')[0].replace(/\.ts$/, '') || '.';
const problems = [];
for (const file of files) {
  const from = relative(src, file).includes('/') ? layerOf(file) : '.';
  const text = readFileSync(file, 'utf8');
  // Type-only imports are erased at build time: they describe, they do not depend.
  for (const m of text.matchAll(/^(?:import|export)(?!\s+type\s)[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
    const target = resolve(dirname(file), m[1]);
    const to = relative(src, target).includes('/') ? layerOf(target) : '.';
    if (to === from) continue;
    if (!(allowed[from] ?? []).includes(to)) problems.push(`${relative(src, file)} imports ${m[1]} (${from} -> ${to} is not allowed)`);
  }
}
if (problems.length > 0) {
  console.error(`Layering violations:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`layers ok (${files.length} files)`);
