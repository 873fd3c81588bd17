import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HttpLibrary, RequestContext, ResponseContext } from '@kubernetes/client-node';

/** The parts of `@kubernetes/client-node` it builds on (loaded lazily by the collector). */
export type KubernetesHttpModule = Pick<typeof import('@kubernetes/client-node'), 'ResponseContext' | 'SelfDecodingBody' | 'wrapHttpLibrary'>;

/**
 * The Kubernetes client's HTTP layer without redirects: a 3xx is handed to the client as it is
 * (the list fails with its status), where the default layer (node-fetch) would follow it to any
 * host, bearer token included. Requests go through `node:http(s)` with the client's agent (its TLS
 * settings), method, headers and body.
 *
 * @example
 * ```ts
 * const k8s = await import('@kubernetes/client-node');
 * const config = k8s.createConfiguration({ baseServer, authMethods: { default: kc }, httpApi: noRedirectHttp(k8s) });
 * ```
 */
export function noRedirectHttp(k8s: KubernetesHttpModule): HttpLibrary {
  return k8s.wrapHttpLibrary({
    send: (context: RequestContext): Promise<ResponseContext> =>
      new Promise((resolve, reject) => {
        const url = new URL(context.getUrl());
        const body = context.getBody();
        if (body !== undefined && typeof body !== 'string' && !(body instanceof URLSearchParams)) {
          reject(new TypeError('noRedirectHttp sends string bodies only'));
          return;
        }
        const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
        const agent = context.getAgent();
        const request = send(url, { method: context.getHttpMethod(), headers: context.getHeaders(), ...(agent === undefined ? {} : { agent }) }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(response.headers)) {
              if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
            }
            resolve(new k8s.ResponseContext(response.statusCode ?? 0, headers, new k8s.SelfDecodingBody(Promise.resolve(Buffer.concat(chunks)))));
          });
        });
        request.on('error', reject);
        request.end(body === undefined ? undefined : body.toString());
      }),
  });
}
