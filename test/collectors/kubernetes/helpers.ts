import type { ObjectInput } from '../../services/kube-api-server.js';

/** One container of a test pod: its name and, once started, its runtime id. */
export interface TestContainer {
  readonly name: string;
  readonly id?: string;
  readonly env?: readonly { readonly name: string; readonly value: string }[];
}

/** A pod as a test gives it to the test API server: scheduled on `node`, its containers started. */
export function podInput(
  name: string,
  node: string,
  containers: readonly TestContainer[],
  labels: Readonly<Record<string, string>> = {},
  annotations: Readonly<Record<string, string>> = {},
): ObjectInput {
  return {
    metadata: { name, namespace: 'default', labels: { ...labels }, annotations: { ...annotations } },
    spec: {
      nodeName: node,
      containers: containers.map((c) => ({ name: c.name, image: `registry.example.com/${c.name}:1.0`, env: c.env ?? [] })),
    },
    status: {
      phase: 'Running',
      containerStatuses: containers
        .filter((c) => c.id !== undefined)
        .map((c) => ({
          name: c.name,
          image: `registry.example.com/${c.name}:1.0`,
          imageID: '',
          ready: true,
          restartCount: 0,
          containerID: `containerd://${c.id ?? ''}`,
        })),
    },
  };
}

/** Polls `check` every 10 ms until it holds; fails after `ms` with `what`. */
export async function waitFor(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
