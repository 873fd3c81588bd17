/**
 * The help texts of `tagstream`.
 */
import type { CommandName } from './command-line.js';

const GENERAL = `usage: tagstream <command> [options]

commands:
  agent                      detect Docker / Kubernetes / ECS, run their collectors and serve the tags
                             (--kvstore etcd://host:port: share them with the other hosts' agents)
  status                     what the running agent's status screen shows: collectors, entities, counters
  tag <entity> [-c level]    the tags of one entity (level: low, orchestrator, high)
  list [--prefix p]...       every entity the agent holds, with its sources and tags (--sources: by source)
  watch [--prefix p]...      follow the agent's changes (added, modified, deleted) until Ctrl-C
  help [command]             this text, or a command's options

  --version, -v              print the version
  --help, -h                 print this text

Exit codes: 0 done, 1 failed (agent unreachable, cannot start), 2 bad usage, 3 tag: no tags.
See docs/agent.md.`;

const AGENT = `usage: tagstream agent [options]

Detects a Docker socket, Kubernetes (in-cluster, or a kubeconfig plus NODE_NAME) and ECS
(ECS_CONTAINER_METADATA_URI_V4), starts those collectors and serves their tags on a unix socket.
Shows a live table on a terminal; JSON lines with --json or when stdout is not a terminal.
Flags beat environment variables, which beat the config file, which beats the defaults.

  --config <file>              JSON config file                     TAGSTREAM_CONFIG
  --socket <path>              the server's unix socket             TAGSTREAM_SOCKET
  --token-file <path>          token file (fresh at each start)     TAGSTREAM_TOKEN_FILE
  --docker-host <url>          unix:///path or tcp://host:port      DOCKER_HOST
  --kubeconfig <path>          kubeconfig when not in a cluster     KUBECONFIG
  --node-name <name>           the node whose pods are listed       NODE_NAME
  --ecs-metadata-uri <url>     ECS task metadata endpoint v4        ECS_CONTAINER_METADATA_URI_V4
  --disable <name>             never start docker|kubernetes|ecs    TAGSTREAM_DISABLE (a,b)
  --label-as-tag <label=tag>   Docker and pod labels as tags        TAGSTREAM_LABELS_AS_TAGS (JSON)
  --env-as-tag <VAR=tag>       container env variables as tags      TAGSTREAM_ENV_AS_TAGS (JSON)
  --annotation-as-tag <a=tag>  pod annotations as tags              TAGSTREAM_ANNOTATIONS_AS_TAGS (JSON)
  --prune-interval <ms>        delete batching window (1000)        TAGSTREAM_PRUNE_INTERVAL
  --stopped-grace <ms>         a stopped container's tags (300000)  TAGSTREAM_STOPPED_GRACE
  --kubernetes-period <ms>     time between pod lists (5000)        TAGSTREAM_KUBERNETES_PERIOD
  --status-interval <ms>       between two JSON status lines (10000)  TAGSTREAM_STATUS_INTERVAL
  --json                       JSON lines instead of the table      TAGSTREAM_JSON

Shared kvstore (publish this host's entities to etcd, serve the other hosts' too):
  --kvstore <etcd://h:p[,h:p]>  the etcd cluster to join             TAGSTREAM_KVSTORE
  --kvstore-prefix <prefix>    key prefix (tagstream/tags/v1)       TAGSTREAM_KVSTORE_PREFIX
  --kvstore-name <name>        this agent's name (host name)        TAGSTREAM_KVSTORE_NAME
  --kvstore-lease-ttl <ms>     a dead agent's keys go (15000)       TAGSTREAM_KVSTORE_LEASE_TTL
  --kvstore-delete-grace <ms>  wait on a remote delete (5000)       TAGSTREAM_KVSTORE_DELETE_GRACE
  --kvstore-join-timeout <ms>  wait at start, then exit 1 (10000)   TAGSTREAM_KVSTORE_JOIN_TIMEOUT

Web status page (log in with the token file's token):
  --http <host:port>           serve it there (loopback only)       TAGSTREAM_HTTP
  --http-insecure-bind         allow an address that is not loopback  TAGSTREAM_HTTP_INSECURE_BIND`;

const CONNECTION = `  --socket <path>  the agent's socket  TAGSTREAM_SOCKET
  --url <http://127.0.0.1:port>  the agent over loopback TCP
  --token <token>  the token  TAGSTREAM_TOKEN
  --token-file <path>  a file holding the token  TAGSTREAM_TOKEN_FILE (default: socket + .token)
  --json  machine output`;

const TEXTS: Readonly<Record<CommandName, string>> = {
  agent: AGENT,
  status: `usage: tagstream status [options]

Asks the running agent what its status screen shows: each collector and its state, the entities
by source and by prefix, the Tagger's counters, the IPC server and the kvstore.

${CONNECTION}`,
  tag: `usage: tagstream tag <entity> [-c low|orchestrator|high] [options]

Prints the entity's tags, one per line (the agent fetches on a miss). Exits 3 when it has none.

  -c, --cardinality <level>  low (default), orchestrator or high
${CONNECTION}`,
  list: `usage: tagstream list [--prefix <p>]... [options]

Lists the entities the agent holds, with their sources and tags.

  --prefix <p>  only ids starting with p (repeatable)
  --sources  each source's tags and priority, and which source won each tag name
${CONNECTION}`,
  watch: `usage: tagstream watch [--prefix <p>]... [-c level] [options]

Prints every entity the agent holds (added), then each change, until Ctrl-C. Exits 1 if the
agent goes away.

  --prefix <p>               only ids starting with p (repeatable)
  -c, --cardinality <level>  low (default), orchestrator or high
${CONNECTION}`,
};

/**
 * The help text of `topic`, or the general one.
 *
 * @example
 * ```ts
 * console.log(usage('agent'));
 * ```
 */
export function usage(topic: CommandName | undefined): string {
  return alignOptions(topic === undefined ? GENERAL : TEXTS[topic]);
}

/**
 * Aligns the columns of the option lines (lines starting with `  -`, cells separated by two spaces
 * or more) of a help text: the meanings start in one column, and so do the variables.
 */
function alignOptions(text: string): string {
  const lines = text.split('\n');
  const rows = lines.map((line) => (/^ {2}-/.test(line) ? line.trim().split(/ {2,}/) : undefined));
  const widths: number[] = [];
  for (const row of rows) {
    row?.forEach((cell, i) => {
      if (i < row.length - 1) widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return lines
    .map((line, i) => {
      const row = rows[i];
      return row === undefined ? line : `  ${row.map((cell, j) => (j < row.length - 1 ? cell.padEnd(widths[j] ?? 0) : cell)).join('  ')}`;
    })
    .join('\n');
}
