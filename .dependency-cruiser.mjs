/**
 * The layout rules of tagstream (docs/architecture.md, "Layout rules"), checked by
 * `npm run lint:layout` (part of `npm run lint`).
 * @type {import("dependency-cruiser").IConfiguration}
 */
const ADAPTERS = {
  dockerode: 'src/collectors/docker/',
  '@kubernetes/client-node': 'src/(collectors/kubernetes|pipeline)/',
  etcd3: 'src/kvstore/',
  ioredis: 'src/logs/',
};

// eslint-disable-next-line no-restricted-syntax -- dependency-cruiser reads the default export
export default {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'An import cycle makes load order matter and hides which module owns a concept.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-is-the-core',
      comment: 'The tagger core (src/tagger) never imports a collector, a transport, the CLI, the web page, the kvstore, the pipeline or logs: they import it.',
      severity: 'error',
      from: { path: '^src/tagger/' },
      to: { path: '^src/(collectors|ipc|cli|web|kvstore|pipeline|logs)/' },
    },
    {
      name: 'util-is-a-leaf',
      comment: 'src/util holds small helpers every part may use; it imports no part.',
      severity: 'error',
      from: { path: '^src/util/' },
      to: { path: '^src/(?!util/)' },
    },
    {
      name: 'parts-do-not-import-the-front',
      comment: 'Only the CLI (the agent) and the web page sit on top; no library part imports them.',
      severity: 'error',
      from: { path: '^src/(tagger|collectors|pipeline|kvstore|logs|ipc|util)/' },
      to: { path: '^src/(cli|web)/' },
    },
    ...Object.entries(ADAPTERS).map(([module, home]) => ({
      name: `adapter-${module.replace(/[@/]/g, '-').replace(/^-/, '')}-stays-home`,
      comment: `${module} is imported only inside ${home}: other parts (the agent included) use that part's entry point.`,
      severity: 'error',
      from: { path: '^src/', pathNot: `^${home}` },
      to: { dependencyTypesNot: ['type-only'], path: `(^|/)node_modules/${module}/` },
    })),
    {
      name: 'root-entry-loads-no-adapter',
      comment: 'Importing `tagstream` loads neither dockerode, the Kubernetes client, etcd3 nor ioredis: adapters sit behind their own entry points.',
      severity: 'error',
      from: { path: '^src/index\\.ts$' },
      to: { reachable: true, path: `(^|/)node_modules/(${Object.keys(ADAPTERS).join('|')})/` },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '(^src/|(^|/)node_modules/)',
    exclude: { path: '(^src/ipc/python/|\\.test\\.ts$)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], mainFields: ['module', 'main', 'types', 'typings'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
