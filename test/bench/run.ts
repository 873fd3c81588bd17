/**
 * `npm run bench`: compiles the benchmarks with tsc (plain JS, no loader in the measured code),
 * then runs every test/bench/*.bench.js in its own Node process (so that one's heap does not weigh
 * on the next), one after the other, printing what each prints.
 * Pass names to run some only: `npm run bench -- tagger logs`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n## ${file}`);
  const run = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { stdio: 'inherit' });
  if (run.status !== 0) {
    failed += 1;
    console.log(`${file} failed (exit ${String(run.status)})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
