/**
 * The web page's files, kept as strings so that they ship in `dist/` with the code that serves
 * them: the login page, the status page, its one script and its one style sheet. No inline script
 * or style anywhere (the Content-Security-Policy allows only these files); the script writes every
 * string that comes from outside (entity ids, tags, reasons) with `textContent`.
 */

const HEAD = (title: string, script: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="/app.css">${script}
</head>`;

/**
 * The login page: a form that posts the token to `/login` (no script). `failed`: say that the
 * last token was wrong; `throttled`: that too many wrong tokens came.
 *
 * @example
 * ```ts
 * res.end(loginPage('failed'));
 * ```
 */
export function loginPage(notice: 'none' | 'failed' | 'throttled'): string {
  const message =
    notice === 'failed'
      ? '<p class="error" id="login-error">That is not the agent\'s token.</p>'
      : notice === 'throttled'
        ? '<p class="error" id="login-error">Too many wrong tokens: wait a few seconds.</p>'
        : '';
  return `${HEAD('tagstream agent: log in', '')}
<body class="login">
<main>
<h1>tagstream agent</h1>
<form method="post" action="/login" id="login">
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus>
<button type="submit">Log in</button>
</form>
${message}
<p class="hint">The token is in the agent's token file (<code>--token-file</code>; by default the socket path + <code>.token</code>).</p>
</main>
</body>
</html>
`;
}

/**
 * The status page (served to a logged-in browser only); `/app.js` fills it from `/api/events`.
 *
 * @example
 * ```ts
 * res.end(STATUS_PAGE);
 * ```
 */
export const STATUS_PAGE = `${HEAD('tagstream agent', '\n<script src="/app.js" defer></script>')}
<body>
<header>
<h1>tagstream agent <span id="version"></span></h1>
<p><span id="live" class="badge">connecting</span> IPC <code id="address"></code> · <a href="/metrics" id="metrics-link">Prometheus metrics</a> · <span id="updated"></span></p>
</header>
<main>
<section id="collectors-section">
<h2>Collectors</h2>
<table id="collectors"><thead><tr><th>collector</th><th>state</th><th>entities</th><th>detail</th></tr></thead><tbody></tbody></table>
</section>
<section id="counts-section">
<h2>Entities by prefix and source</h2>
<table id="counts"><thead></thead><tbody></tbody></table>
</section>
<section id="kvstore-section" hidden>
<h2>Shared kvstore</h2>
<p id="kvstore-summary"></p>
<table id="peers"><thead><tr><th>peer</th><th>keys</th></tr></thead><tbody></tbody></table>
</section>
<section id="entities-section">
<h2>Entities <span id="shown"></span></h2>
<p><label for="search">Search</label> <input id="search" type="search" placeholder="entity id, source or tag" autocomplete="off" spellcheck="false"></p>
<table id="entities"><thead><tr><th>entity</th><th>source</th><th>low</th><th>orchestrator</th><th>high</th></tr></thead><tbody></tbody></table>
</section>
</main>
</body>
</html>
`;

/**
 * The page's style sheet.
 *
 * @example
 * ```ts
 * res.end(STYLE_SHEET);
 * ```
 */
export const STYLE_SHEET = `:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --ok: #15803d; --warn: #b45309; --bad: #b91c1c; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; padding: 1rem 1.5rem; max-width: 80rem; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h1 span { font-size: .9rem; color: var(--muted); font-weight: normal; }
h2 { font-size: 1.1rem; margin: 1.25rem 0 .5rem; }
header p { margin: 0; color: var(--muted); }
code { font: 12px/1.4 ui-monospace, monospace; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .25rem .5rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
#counts, #peers { width: auto; min-width: 24rem; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: .25rem; border: 1px solid currentColor; font-size: 12px; }
.state-connected, .state-ready, .live { color: var(--ok); }
.state-connecting, .state-retrying { color: var(--warn); }
.state-failed, .state-error, .offline { color: var(--bad); }
.state-not-found, .state-disabled { color: var(--muted); }
.tag { display: inline-block; margin: 0 .25rem .15rem 0; padding: 0 .3rem; border-radius: .2rem; background: rgba(127, 127, 127, .15); font: 12px/1.5 ui-monospace, monospace; word-break: break-all; }
.tag.overridden { text-decoration: line-through; color: var(--muted); }
.entity { font: 12px/1.5 ui-monospace, monospace; word-break: break-all; }
#search { width: 24rem; max-width: 100%; padding: .25rem .4rem; }
#shown { color: var(--muted); font-weight: normal; font-size: .9rem; }
body.login main { max-width: 24rem; margin: 4rem auto; }
body.login form { display: flex; flex-direction: column; gap: .5rem; }
body.login input, body.login button { padding: .4rem; font: inherit; }
.error { color: var(--bad); }
.hint { color: var(--muted); }
`;

/**
 * The page's script: reads `/api/events` (server-sent events: `status`, then `snapshot`, then
 * `changes` as they happen) and renders with DOM calls and `textContent` only.
 *
 * @example
 * ```ts
 * res.end(PAGE_SCRIPT);
 * ```
 */
export const PAGE_SCRIPT = `'use strict';
(() => {
  const entities = new Map();
  let status = undefined;
  let dirty = false;
  const byId = (id) => document.getElementById(id);
  const el = (tag, text, className) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    if (className !== undefined) node.className = className;
    return node;
  };
  const stateClass = (state) => 'state-' + String(state).replace(/[^a-z]+/gi, '-');
  const prefixOf = (entity) => {
    const at = entity.indexOf('://');
    return at < 0 ? '(no prefix)' : entity.slice(0, at + 3);
  };
  const replaceRows = (tbody, rows) => {
    tbody.replaceChildren(...rows);
  };

  const renderStatus = () => {
    if (status === undefined) return;
    byId('version').textContent = status.version;
    byId('address').textContent = status.address;
    byId('updated').textContent = 'updated ' + new Date(status.time).toLocaleTimeString();
    replaceRows(byId('collectors').tBodies[0], status.collectors.map((c) => {
      const row = el('tr');
      row.dataset.collector = c.name;
      row.append(el('td', c.name), el('td', c.state, stateClass(c.state)), el('td', c.entities === undefined || c.entities === null ? '' : c.entities, 'num'), el('td', c.reason));
      return row;
    }));
    const kv = status.kvstore;
    const section = byId('kvstore-section');
    section.hidden = kv === undefined;
    if (kv !== undefined) {
      const row = status.collectors.find((c) => c.name === 'kvstore');
      byId('kvstore-summary').textContent = (row === undefined ? '' : row.state + ' · ') + kv.url + ' as ' + kv.name + ' · ' + kv.sharedKeys + ' keys, ' + kv.localKeys +
        ' published · errors: ' + kv.writeErrors + ' write, ' + kv.watchErrors + ' watch, ' + kv.decodeErrors + ' decode · ' + kv.retries + ' retries, ' + kv.disconnects + ' disconnects';
      replaceRows(byId('peers').tBodies[0], kv.peers.map((p) => {
        const tr = el('tr');
        tr.append(el('td', p.self ? p.host + ' (this agent)' : p.host), el('td', p.keys, 'num'));
        return tr;
      }));
    }
  };

  const renderCounts = () => {
    const counts = new Map();
    const sources = new Set();
    for (const e of entities.values()) {
      const prefix = prefixOf(e.entity);
      let row = counts.get(prefix);
      if (row === undefined) {
        row = new Map();
        counts.set(prefix, row);
      }
      row.set('all', (row.get('all') || 0) + 1);
      for (const s of e.sources) {
        sources.add(s);
        row.set(s, (row.get(s) || 0) + 1);
      }
    }
    const columns = [...sources].sort();
    const head = el('tr');
    head.append(el('th', 'prefix'), el('th', 'entities', 'num'), ...columns.map((s) => el('th', s, 'num')));
    byId('counts').tHead.replaceChildren(head);
    replaceRows(byId('counts').tBodies[0], [...counts.keys()].sort().map((prefix) => {
      const row = counts.get(prefix);
      const tr = el('tr');
      tr.dataset.prefix = prefix;
      tr.append(el('td', prefix, 'entity'), el('td', row.get('all'), 'num'), ...columns.map((s) => el('td', row.get(s) || 0, 'num')));
      return tr;
    }));
  };

  const tagCell = (tags, overridden) => {
    const td = el('td');
    for (const tag of tags) {
      const lost = overridden.get(tag);
      const chip = el('span', tag, lost === undefined ? 'tag' : 'tag overridden');
      if (lost !== undefined) chip.title = 'overridden by ' + lost.join(', ');
      td.append(chip);
    }
    return td;
  };

  const matches = (e, query) => {
    if (query === '') return true;
    if (e.entity.toLowerCase().includes(query)) return true;
    return e.bySource.some((s) => s.source.toLowerCase().includes(query) ||
      s.low.concat(s.orchestrator, s.high).some((t) => t.toLowerCase().includes(query)));
  };

  const renderEntities = () => {
    const query = byId('search').value.trim().toLowerCase();
    const rows = [];
    let shown = 0;
    for (const e of [...entities.values()].sort((a, b) => (a.entity < b.entity ? -1 : a.entity > b.entity ? 1 : 0))) {
      if (!matches(e, query)) continue;
      shown += 1;
      const sources = e.bySource.length > 0 ? e.bySource : [{ source: e.sources.join(', '), low: e.tags.low, orchestrator: [], high: [], overridden: [] }];
      sources.forEach((s, i) => {
        const tr = el('tr');
        tr.dataset.entity = e.entity;
        if (i === 0) {
          const id = el('td', e.entity, 'entity');
          id.rowSpan = sources.length;
          tr.append(id);
        }
        const overridden = new Map(s.overridden.map((o) => [o.tag, o.by]));
        tr.append(el('td', s.source), tagCell(s.low, overridden), tagCell(s.orchestrator, overridden), tagCell(s.high, overridden));
        rows.push(tr);
      });
    }
    replaceRows(byId('entities').tBodies[0], rows);
    byId('shown').textContent = shown === entities.size ? '(' + entities.size + ')' : '(' + shown + ' of ' + entities.size + ')';
  };

  const render = () => {
    dirty = false;
    renderStatus();
    renderCounts();
    renderEntities();
  };
  const schedule = () => {
    if (dirty) return;
    dirty = true;
    requestAnimationFrame(render);
  };

  const live = (text, className) => {
    const badge = byId('live');
    badge.textContent = text;
    badge.className = 'badge ' + className;
  };

  const connect = () => {
    const source = new EventSource('/api/events');
    source.addEventListener('open', () => live('live', 'live'));
    source.addEventListener('status', (event) => {
      status = JSON.parse(event.data);
      schedule();
    });
    source.addEventListener('snapshot', (event) => {
      entities.clear();
      for (const e of JSON.parse(event.data).entities) entities.set(e.entity, e);
      schedule();
    });
    source.addEventListener('changes', (event) => {
      for (const change of JSON.parse(event.data)) {
        if (change.deleted) entities.delete(change.entity);
        else entities.set(change.entity, change.listing);
      }
      schedule();
    });
    source.addEventListener('error', () => {
      live('reconnecting', 'offline');
      // A session that ended (the agent restarted, the login expired): back to the login page.
      fetch('/api/status', { credentials: 'same-origin' }).then((response) => {
        if (response.status === 401) {
          source.close();
          location.assign('/');
        }
      }, () => undefined);
    });
  };

  byId('search').addEventListener('input', () => renderEntities());
  connect();
})();
`;
