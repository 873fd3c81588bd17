/**
 * The characters Kubernetes uses in generated name suffixes such as a pod-template-hash.
 *
 * @example
 * ```ts
 * [...'7d9f8c6b5d'].every((c) => KUBE_SAFE_ALPHABET.includes(c)); // true
 * ```
 */
export const KUBE_SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

const DIGITS = /^[0-9]+$/;
const SAFE = new RegExp(`^[${KUBE_SAFE_ALPHABET}]{3,}$`);

function splitSuffix(name: string): readonly [string, string] | undefined {
  const dash = name.lastIndexOf('-');
  if (dash <= 0) return undefined;
  return [name.slice(0, dash), name.slice(dash + 1)];
}

/**
 * The deployment that owns a replica set, from the replica set's name; `undefined` when its
 * suffix cannot be a pod-template-hash (all digits, as on old clusters, or at least 3 characters
 * of Kubernetes' safe alphabet).
 *
 * @example
 * ```ts
 * deploymentOfReplicaSet('checkout-7d9f8c6b5d'); // 'checkout'
 * deploymentOfReplicaSet('checkout-v1');         // undefined
 * ```
 */
export function deploymentOfReplicaSet(replicaSet: string): string | undefined {
  const parts = splitSuffix(replicaSet);
  if (parts === undefined) return undefined;
  const [deployment, suffix] = parts;
  return DIGITS.test(suffix) || SAFE.test(suffix) ? deployment : undefined;
}

/**
 * The cron job that created a job, from the job's name (`<cronjob>-<scheduled time>`);
 * `undefined` unless the suffix is numeric with at least 3 digits.
 *
 * @example
 * ```ts
 * cronJobOfJob('nightly-report-28930680'); // 'nightly-report'
 * cronJobOfJob('migrate-db');              // undefined
 * ```
 */
export function cronJobOfJob(job: string): string | undefined {
  const parts = splitSuffix(job);
  if (parts === undefined) return undefined;
  const [cronJob, suffix] = parts;
  return suffix.length >= 3 && DIGITS.test(suffix) ? cronJob : undefined;
}
