import { catchError, defer, map, of, shareReplay } from 'rxjs';
import type { Observable } from 'rxjs';
import type Dockerode from 'dockerode';
import type { DockerImageNames } from './extract.js';

/**
 * The part of a dockerode client {@link imageNameCache} uses.
 *
 * @example
 * ```ts
 * const images: DockerImageSource = new Docker();
 * ```
 */
export type DockerImageSource = Pick<Dockerode, 'getImage'>;

/**
 * Resolves image ids to their names (`RepoTags`, `RepoDigests`), each id asked once.
 *
 * @example
 * ```ts
 * const names: ImageNameCache = imageNameCache(docker, { maxEntries: 256 });
 * names.resolve('sha256:5d6b…').subscribe((image) => console.log(image?.RepoTags));
 * ```
 */
export interface ImageNameCache {
  /**
   * The names of image `id`, or `undefined` when the daemon cannot say (never errors). An
   * answer is kept; a failure is not (the next call asks again). Concurrent calls share one request.
   */
  resolve(id: string): Observable<DockerImageNames | undefined>;
  /** Image inspects sent so far. */
  readonly requests: number;
  /** Image inspects that failed so far. */
  readonly failures: number;
}

/**
 * Options of {@link imageNameCache}.
 *
 * @example
 * ```ts
 * const options: ImageNameCacheOptions = { maxEntries: 64 };
 * ```
 */
export interface ImageNameCacheOptions {
  /** The most image ids kept; the oldest goes first. Default 256. */
  readonly maxEntries?: number;
}

/**
 * A cache of image names by image id, over `docker.getImage(id).inspect()`.
 *
 * @example
 * ```ts
 * const names = imageNameCache(new Docker());
 * const image = await firstValueFrom(names.resolve(inspect.Config.Image));
 * extractDockerTags(inspect, image === undefined ? {} : { image });
 * ```
 */
export function imageNameCache(docker: DockerImageSource, options: ImageNameCacheOptions = {}): ImageNameCache {
  const maxEntries = options.maxEntries ?? 256;
  const entries = new Map<string, Observable<DockerImageNames | undefined>>();
  let requests = 0;
  let failures = 0;
  return {
    resolve(id: string): Observable<DockerImageNames | undefined> {
      const kept = entries.get(id);
      if (kept !== undefined) return kept;
      const request$ = defer(() => {
        requests += 1;
        return docker.getImage(encodeURIComponent(id)).inspect();
      }).pipe(
        map((info): DockerImageNames | undefined => ({ RepoTags: info.RepoTags, RepoDigests: info.RepoDigests })),
        catchError(() => {
          failures += 1;
          entries.delete(id);
          return of(undefined);
        }),
        shareReplay({ bufferSize: 1, refCount: false }),
      );
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(id, request$);
      return request$;
    },
    get requests(): number {
      return requests;
    },
    get failures(): number {
      return failures;
    },
  };
}
