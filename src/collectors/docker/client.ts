import Docker from 'dockerode';
import type { DockerOptions } from 'dockerode';

/** The request options docker-modem hands to its HTTP layer; `maxRedirects` is read there. */
interface ModemRequest {
  maxRedirects?: number;
}

/** The docker-modem method every request goes through (runtime API, absent from its typings). */
interface ModemInternals {
  buildRequest(request: ModemRequest, ...rest: unknown[]): unknown;
}

/**
 * A dockerode client that never follows a redirect: a 3xx answer fails the request.
 *
 * docker-modem follows redirects to the host the `Location` names, outside the daemon's socket;
 * dockerd answers one for a path with `.` or `..` segments. The collector sends only validated
 * container and image ids, so no redirect is due; this client makes sure none is followed.
 *
 * @example
 * ```ts
 * const docker = dockerCollector({ docker: dockerClient({ socketPath: '/run/docker.sock' }) });
 * ```
 */
export function dockerClient(options?: DockerOptions): Docker {
  const docker = new Docker(options);
  // docker-modem reads `maxRedirects` from the request options only; none of its options sets it.
  const modem = docker.modem as unknown as ModemInternals;
  const buildRequest = modem.buildRequest.bind(modem);
  modem.buildRequest = (request, ...rest) => buildRequest({ ...request, maxRedirects: 0 }, ...rest);
  return docker;
}
