/**
 * An image reference taken apart into the tags the Datadog Agent derives from it.
 *
 * For `registry.example.com:5000/team/api:1.4@sha256:…`: `dockerImage` is
 * `registry.example.com:5000/team/api:1.4`, `imageName` is `registry.example.com:5000/team/api`,
 * `shortImage` is `api`, `imageTag` is `1.4`.
 *
 * @example
 * ```ts
 * const image: ImageReference | undefined = parseImageReference('redis:7');
 * ```
 */
export interface ImageReference {
  /** The reference without its digest (`docker_image`). */
  readonly dockerImage: string;
  /** The repository with its registry and path, without tag or digest (`image_name`). */
  readonly imageName: string;
  /** The last path segment of the repository (`short_image`). */
  readonly shortImage: string;
  /** The tag (`image_tag`), absent when the reference has none. */
  readonly imageTag?: string;
}

const IMAGE_ID = /^(?:sha256:[0-9a-f]+|[0-9a-f]{64})$/i;

/**
 * True when `reference` is an image id (`sha256:…` or 64 hex digits) rather than a name.
 *
 * @example
 * ```ts
 * isImageId('sha256:4f3c…'); // true
 * isImageId('redis:7');      // false
 * ```
 */
export function isImageId(reference: string): boolean {
  return IMAGE_ID.test(reference.trim());
}

/**
 * Splits an image reference into `docker_image`, `image_name`, `short_image` and `image_tag`;
 * `undefined` when it is empty or an image id (which names nothing).
 *
 * A ':' is a tag separator only after the last '/', so a registry port is never taken for a tag.
 *
 * @example
 * ```ts
 * parseImageReference('localhost:5000/team/api:1.4');
 * // { dockerImage: 'localhost:5000/team/api:1.4', imageName: 'localhost:5000/team/api',
 * //   shortImage: 'api', imageTag: '1.4' }
 * parseImageReference('redis@sha256:0123…'); // { dockerImage: 'redis', imageName: 'redis', shortImage: 'redis' }
 * ```
 */
export function parseImageReference(reference: string | undefined): ImageReference | undefined {
  // Objects from the wire can lack fields their types promise: no reference, no tags.
  if (typeof reference !== 'string') return undefined;
  const trimmed = reference.trim();
  if (trimmed.length === 0 || isImageId(trimmed)) return undefined;
  const at = trimmed.indexOf('@');
  const withoutDigest = at === -1 ? trimmed : trimmed.slice(0, at);
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  const hasTag = lastColon > lastSlash;
  const imageName = hasTag ? withoutDigest.slice(0, lastColon) : withoutDigest;
  const imageTag = hasTag ? withoutDigest.slice(lastColon + 1) : '';
  const shortImage = imageName.slice(imageName.lastIndexOf('/') + 1);
  if (imageName.length === 0 || shortImage.length === 0) return undefined;
  if (imageTag.length === 0) return { dockerImage: imageName, imageName, shortImage };
  return { dockerImage: `${imageName}:${imageTag}`, imageName, shortImage, imageTag };
}
