// Prints the closing line of the vitest runs of this CI run (one JSON report per Node line, in
// .vitest/results*.json): "tests: N passed, N failed, N skipped", summed over every run.
import { readFileSync, readdirSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const folder = new URL('../.vitest/', import.meta.url);
const reports = readdirSync(folder).filter((name) => /^results.*\.json$/.test(name)).sort();
let passed = 0;
let failed = 0;
let skipped = 0;
let total = 0;
for (const name of reports) {
  const results = JSON.parse(readFileSync(new URL(name, folder), 'utf8'));
  const runSkipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
  process.stdout.write(`${name}: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${runSkipped} skipped\n`);
  passed += results.numPassedTests;
  failed += results.numFailedTests;
  skipped += runSkipped;
  total += results.numTotalTests;
}
process.stdout.write(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exitCode = reports.length > 0 && total > 0 && failed === 0 ? 0 : 1;
