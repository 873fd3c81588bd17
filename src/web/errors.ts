/**
 * The errors of the agent's web page. Branch on `tag`, not on the message.
 */

/**
 * The web page cannot be served as asked: an address that is not loopback without the opt-in, a
 * port out of range, an address in use.
 *
 * @example
 * ```ts
 * try {
 *   await serveWebPage({ tagger, status$, metrics, tokenFile, host: '0.0.0.0', port: 8080 });
 * } catch (error) {
 *   if (error instanceof WebOptionError) console.error(error.option, error.message);
 * }
 * ```
 */
export class WebOptionError extends Error {
  /** A stable discriminant for callers. */
  readonly tag = 'WebOption';
  override readonly name = 'WebOptionError';
  constructor(
    /** The option at fault (`host`, `port`, ...). */
    readonly option: string,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}
