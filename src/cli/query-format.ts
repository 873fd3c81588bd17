/**
 * What `tagstream tag`, `list` and `watch` print. Pure: an answer in, text out. In text output the
 * control characters of entity ids and tags are escaped (see {@link escapeControls}); `--json` is exact.
 */
import type { EntitiesResponse, EntitySourcesResponse, StreamLine, TagsResponse } from '../ipc/protocol.js';
import type { EntityTags } from '../tagger/contract.js';

/** C0 controls, DEL and C1 controls: line breaks and the starts of terminal escape sequences. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with its control characters (C0, DEL, C1) written as escapes — `\n`, `\r`, `\t`, `\x1b`,
 * `\x7f`, `\u009b` — so that a tag cannot forge a line or send a terminal escape. Other text,
 * backslashes included, is left as is.
 *
 * @example
 * ```ts
 * escapeControls('a\nenv:prod'); // 'a\\nenv:prod' (prints as a\nenv:prod, one line)
 * escapeControls('\x1b[2J');     // '\\x1b[2J'
 * ```
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.charCodeAt(0);
    return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * `tagstream tag`: one tag per line (nothing when there is none), or the answer as JSON.
 *
 * @example
 * ```ts
 * formatTags({ entity: 'container_id://a', cardinality: 'low', tags: ['env:prod'] }, false); // 'env:prod\n'
 * ```
 */
export function formatTags(answer: TagsResponse, json: boolean): string {
  if (json) return `${JSON.stringify({ entity: answer.entity, cardinality: answer.cardinality, tags: answer.tags })}\n`;
  return answer.tags.map((tag) => `${escapeControls(tag)}\n`).join('');
}

/**
 * `tagstream list`: each entity with its sources and its tags by cardinality (what each level
 * adds), then a count; or the answer as JSON.
 *
 * @example
 * ```ts
 * formatEntities({ entities: [{ entity: 'container_id://a', sources: ['docker'], tags: { low: ['env:prod'], orchestrator: ['env:prod'], high: ['env:prod'] } }] }, false);
 * // 'container_id://a  (docker)\n  low           env:prod\n1 entity\n'
 * ```
 */
export function formatEntities(answer: EntitiesResponse, json: boolean): string {
  if (json) return `${JSON.stringify({ entities: answer.entities })}\n`;
  const lines: string[] = [];
  const sorted = [...answer.entities].sort((a, b) => a.entity.localeCompare(b.entity));
  for (const e of sorted) {
    lines.push(`${escapeControls(e.entity)}  (${e.sources.map(escapeControls).join(', ')})`);
    lines.push(...levelLines(e.tags));
  }
  lines.push(`${sorted.length} ${sorted.length === 1 ? 'entity' : 'entities'}`);
  return `${lines.join('\n')}\n`;
}

/** What each cardinality adds to cumulative tags, one line per level that adds some. */
function levelLines(tags: EntityTags): string[] {
  const low = tags.low;
  const orchestrator = tags.orchestrator.filter((t) => !low.includes(t));
  const high = tags.high.filter((t) => !tags.orchestrator.includes(t));
  return byLevel(low, orchestrator, high);
}

function byLevel(low: readonly string[], orchestrator: readonly string[], high: readonly string[]): string[] {
  const lines: string[] = [];
  if (low.length > 0) lines.push(`  low           ${low.map(escapeControls).join(', ')}`);
  if (orchestrator.length > 0) lines.push(`  orchestrator  ${orchestrator.map(escapeControls).join(', ')}`);
  if (high.length > 0) lines.push(`  high          ${high.map(escapeControls).join(', ')}`);
  if (low.length + orchestrator.length + high.length === 0) lines.push('  (no tags)');
  return lines;
}

/**
 * `tagstream list --sources`: for each entity (as the Datadog Agent's `agent tagger-list` does),
 * each source, highest priority first, with its priority and its tags by cardinality, the tags it
 * gives that another source's win (`overridden`, with the winner), then what is served; then a
 * count. Or the answer as JSON.
 *
 * @example
 * ```ts
 * formatEntitySources(answer, false);
 * // === Entity container_id://a ===
 * // == Source kubelet · priority NodeOrchestrator (1) ==
 * //   low           team:core
 * // == Source docker · priority NodeRuntime (0) ==
 * //   low           image_name:redis, team:payments
 * //   overridden    team:payments (team: kubelet)
 * // == Served ==
 * //   low           team:core, image_name:redis
 * // ===
 * // 1 entity
 * ```
 */
export function formatEntitySources(answer: EntitySourcesResponse, json: boolean): string {
  if (json) return `${JSON.stringify({ entities: answer.entities })}\n`;
  const lines: string[] = [];
  const sorted = [...answer.entities].sort((a, b) => a.entity.localeCompare(b.entity));
  for (const e of sorted) {
    lines.push(`=== Entity ${escapeControls(e.entity)} ===`);
    for (const s of e.bySource) {
      lines.push(`== Source ${escapeControls(s.source)} · priority ${s.priorityName} (${s.priority}) ==`);
      lines.push(...byLevel(s.low, s.orchestrator, s.high));
      if (s.overridden.length > 0) {
        const lost = s.overridden.map((o) => `${escapeControls(o.tag)} (${escapeControls(tagNameOf(o.tag))}: ${o.by.map(escapeControls).join(', ')})`);
        lines.push(`  overridden    ${lost.join(', ')}`);
      }
    }
    lines.push('== Served ==', ...levelLines(e.tags), '===');
  }
  lines.push(`${sorted.length} ${sorted.length === 1 ? 'entity' : 'entities'}`);
  return `${lines.join('\n')}\n`;
}

function tagNameOf(tag: string): string {
  const colon = tag.indexOf(':');
  return colon < 0 ? tag : tag.slice(0, colon);
}

/**
 * `tagstream watch`: one line per event (`time type entity tags`), a comment line at `synced`,
 * nothing for keep-alives; with `json`, the protocol line itself (keep-alives dropped). `time` is
 * when the line arrived (ms since the epoch).
 *
 * @example
 * ```ts
 * formatStreamLine({ type: 'deleted', entity: 'container_id://a', tags: [] }, Date.UTC(2026, 0, 1), false);
 * // '00:00:00 deleted   container_id://a\n'
 * ```
 */
export function formatStreamLine(line: StreamLine, time: number, json: boolean): string {
  if (line.type === 'keepalive') return '';
  if (json) {
    return line.type === 'synced'
      ? `${JSON.stringify({ type: 'synced', entities: line.entities })}\n`
      : `${JSON.stringify({ type: line.type, entity: line.entity, tags: line.tags })}\n`;
  }
  const clock = new Date(time).toISOString().slice(11, 19);
  if (line.type === 'synced') return `# ${clock} synced: ${line.entities} ${line.entities === 1 ? 'entity' : 'entities'}; watching for changes (Ctrl-C to stop)\n`;
  const tags = line.tags.length > 0 ? `  ${line.tags.map(escapeControls).join(', ')}` : '';
  return `${clock} ${line.type.padEnd(9)} ${escapeControls(line.entity)}${tags}\n`;
}
