/**
 * What every real-server helper of test/services needs: whether this is CI, where a missing
 * server fails the suite instead of skipping it, and a free loopback port.
 */
import { createServer } from 'node:net';

/** True under CI (`CI` set and not empty), where a missing server fails the suite instead of skipping it. */
export function underCi(): boolean {
  return process.env.CI !== undefined && process.env.CI !== '';
}

/**
 * Reports a server that cannot run here: under CI it throws (the suite fails, naming the install
 * command); elsewhere it prints why the suites are skipped and returns the reason.
 */
export function missingServer(suites: string, reason: string, install: string): string {
  if (underCi()) throw new Error(`${reason}: CI must install it (${install})`);
  console.warn(`skipping the ${suites} suites: ${reason}`);
  return reason;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}
