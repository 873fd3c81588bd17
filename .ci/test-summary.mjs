// Prints the closing line of the last vitest run: "N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const results = JSON.parse(readFileSync(new URL('../.vitest/results.json', import.meta.url), 'utf8'));
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
process.stdout.write(`tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`);
process.exitCode = results.numTotalTests > 0 && results.numFailedTests === 0 ? 0 : 1;
