import { readFileSync } from 'node:fs';

/**
 * The task metadata v4 documents of ./fixtures:
 * - `aws-v4-ec2-task`, `aws-v4-ec2-task-with-tags`, `aws-v4-ec2-task-with-tags-error`: AWS's
 *   published EC2 examples (`/task`, `/taskWithTags`, `/taskWithTags` with errors), verbatim;
 *   the source is cited in aws-published.test.ts.
 * - `ec2-task`: a hand-made variant of AWS's EC2 `/task` example: the published document, plus a
 *   third container (`config-init`, `KnownStatus: STOPPED`, `ExitCode: 0`) that is not in it.
 * - `fargate-task`: hand-made, shaped like AWS's Fargate `/task` example; never checked against
 *   the published page (its task response could not be retrieved), so not a published document.
 */
export type TaskDocumentName =
  | 'aws-v4-ec2-task'
  | 'aws-v4-ec2-task-with-tags'
  | 'aws-v4-ec2-task-with-tags-error'
  | 'ec2-task'
  | 'fargate-task';

/** A fresh copy of one of the task metadata v4 documents of ./fixtures. */
export function taskDocument(name: TaskDocumentName): Record<string, unknown> & { Containers: Record<string, unknown>[] } {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown> & {
    Containers: Record<string, unknown>[];
  };
}

export const EC2_PAUSE_ID = '598cba581fe3f939459eaba1e071d5c93bb2c49b7d1ba7db6bb19deeb70d8e38';
export const EC2_CURL_ID = 'ee08638adaaf009d78c248913f629e38299471d45fe7dc944d1039077e3424ca';
export const EC2_STOPPED_ID = 'c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2';
export const FARGATE_CURL_ID = 'e9028f8d5d8e4f258373e7b93ce9a3c3-2495160603';
