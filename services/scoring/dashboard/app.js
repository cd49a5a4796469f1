// The dashboard of one campaign around one unit (?campaign=<id>&unit=<id>; by default the
// latest campaign and its organiser): the unit's numbers, live; its burn-up; the hierarchy
// below it; the emulation rankings; the firing alerts; the initiatives behind a number.
//
// Everything is read from the services' APIs: this service's for progress, rankings and the
// live stream (same origin), the notifier's for alerts and the submission service's for
// initiatives (cross-origin, at the addresses /dashboard/config.json gives).

import { renderBurnup } from './chart.js';
import { createDrilldown, takeTokenFromAddress } from './drilldown.js';
import {
  LEVELS, METRICS, RULES, bar, dateTime, debounce, getJSON, h, num, paceBadge, pct, throttle,
} from './util.js';

const REFRESH_AFTER_MS = 800; // while registrations arrive, the page's lists are re-read this often
const ALERTS_EVERY_MS = 60_000; // alerts change with the notifier's evaluations, hourly
const RECONNECT_AFTER_MS = 5_000;
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

const state = {
  config: null,
  campaign: null, // a row of GET /campaigns
  rootId: null, // the tree's top: the unit the page was opened on
  selectedId: null, // the unit whose numbers, chart and stream are shown
  progress: new Map(), // unit id → its progress, from /progress, /children or the stream
  children: new Map(), // unit id → its children's ids, best first
  expanded: new Set(),
  burnup: null,
  source: null, // the EventSource of the selected unit
  drilldown: null,
};

function nameOf(unitId) {
  const row = state.progress.get(unitId);
  return (row && row.name) || unitId;
}

function api(path) {
  return getJSON(`campaigns/${enc(state.campaign.id)}/${path}`);
}

// --- loading ---------------------------------------------------------------------------------

async function loadProgress(unitId) {
  state.progress.set(unitId, await api(`units/${enc(unitId)}/progress`));
}

async function loadChildren(unitId) {
  const { items } = await api(`units/${enc(unitId)}/children`);
  for (const row of items) state.progress.set(row.union_id, row);
  state.children.set(unitId, items.map((row) => row.union_id));
}

async function loadBurnup() {
  const unitId = state.selectedId;
  const chart = await api(`units/${enc(unitId)}/burnup`);
  if (unitId !== state.selectedId) return; // another unit was picked while this one loaded
  state.burnup = chart;
  renderBurnupCard();
}

/** Everything on the page that a new registration can change, read again. */
async function refresh() {
  const reads = [loadProgress(state.rootId), loadBurnup(), loadBoard()];
  if (state.selectedId !== state.rootId) reads.push(loadProgress(state.selectedId));
  for (const unitId of state.expanded) reads.push(loadChildren(unitId));
  await Promise.all(reads);
  renderSummary();
  renderTree();
}

const refreshSoon = throttle(() => refresh().then(hideError, showError), REFRESH_AFTER_MS);

/** Show ``unitId``: its numbers, chart, rankings and stream; the address says which. */
async function select(unitId) {
  state.selectedId = unitId;
  const query = new URLSearchParams({ campaign: state.campaign.id, unit: unitId });
  window.history.replaceState(null, '', `?${query}${window.location.hash}`);
  await Promise.all([loadProgress(unitId), loadBurnup()]);
  renderSummary();
  renderTree();
  renderBoardChoices();
  await loadBoard();
  connectLive();
}

// --- the selected unit -------------------------------------------------------------------------

function renderSummary() {
  const p = state.progress.get(state.selectedId);
  if (!p) return;
  const rank = (r) => (r && r.rank ? `${r.rank}/${r.of}` : '—');
  const fact = (label, value, testid) => h('div', {},
    h('dt', {}, label), h('dd', { 'data-testid': testid }, value));
  $('summary').replaceChildren(
    h('div', { class: 'summary-head' },
      h('h2', { 'data-testid': 'summary-name' }, p.name || p.union_id),
      h('span', { class: 'muted' }, LEVELS[p.level] || '')),
    h('div', { class: 'big' },
      h('button', {
        type: 'button', class: 'number', 'data-testid': 'summary-counted',
        title: 'Xem các sáng kiến được tính', onclick: () => state.drilldown.open(p.union_id),
      }, num(p.counted)),
      h('span', { class: 'of' }, p.target === null ? ' sáng kiến (chưa giao chỉ tiêu)'
        : ` / ${num(p.target)} sáng kiến`),
      h('span', { class: 'percentage', 'data-testid': 'summary-percentage' }, pct(p.percentage))),
    bar(p.percentage, p.expected_percentage),
    h('p', { class: 'pace-line' }, paceBadge(p.pace, 'summary-pace'),
      ` Kỳ vọng hôm nay ${pct(p.expected_percentage)} · dự báo cuối đợt ${num(p.projected_total)}`),
    h('dl', { class: 'facts' },
      fact('Đã đăng ký', num(p.registered), 'summary-registered'),
      fact('Đang xem xét', num(p.under_review), 'summary-under-review'),
      fact('Hợp lệ', num(p.valid), 'summary-valid'),
      fact('Không hợp lệ', num(p.rejected), 'summary-rejected'),
      fact('Người tham gia', num(p.people), 'summary-people'),
      fact('Hạng trong đơn vị cấp trên', rank(p.ranks.among_siblings), 'summary-rank'),
      fact('Hạng trong cụm thi đua', rank(p.ranks.in_cluster), 'summary-cluster-rank')));
}

function renderBurnupCard() {
  if (state.burnup) renderBurnup($('burnup'), state.burnup);
}

// --- the hierarchy -----------------------------------------------------------------------------

function renderTree() {
  $('tree').replaceChildren(treeNode(state.rootId));
}

function treeNode(unitId) {
  const p = state.progress.get(unitId) || { union_id: unitId, counted: 0, target: null };
  const leaf = p.level === 'grassroots';
  const open = state.expanded.has(unitId);
  const toggle = leaf ? h('span', { class: 'toggle-space' }) : h('button', {
    type: 'button', class: 'toggle', 'data-testid': 'node-toggle', 'aria-expanded': String(open),
    'aria-label': open ? 'Thu gọn' : 'Mở các đơn vị trực thuộc', onclick: () => toggleNode(unitId),
  }, open ? '▾' : '▸');
  const row = h('div', { class: `node-row${unitId === state.selectedId ? ' selected' : ''}` },
    toggle,
    h('button', { type: 'button', class: 'node-name', 'data-testid': 'node-name',
      onclick: () => select(unitId).catch(showError) }, p.name || unitId),
    h('span', { class: 'node-numbers' },
      h('button', { type: 'button', class: 'number small', 'data-testid': 'node-counted',
        title: 'Xem các sáng kiến được tính', onclick: () => openDrilldown(unitId) }, num(p.counted)),
      p.target === null ? '' : ` / ${num(p.target)}`,
      ' · ', h('span', { 'data-testid': 'node-percentage' }, pct(p.percentage))),
    p.pace ? paceBadge(p.pace, 'node-pace') : null,
    bar(p.percentage, p.expected_percentage));
  const node = h('li', { class: 'node', role: 'treeitem', 'data-testid': 'tree-node',
    'data-unit-id': unitId, 'aria-expanded': leaf ? null : String(open),
    'aria-current': unitId === state.selectedId ? 'true' : null }, row);
  if (open) {
    const ids = state.children.get(unitId);
    node.append(ids === undefined ? h('p', { class: 'muted' }, 'Đang tải…')
      : ids.length === 0 ? h('p', { class: 'muted' }, 'Không có đơn vị trực thuộc.')
        : h('ul', { role: 'group', 'data-testid': 'tree-children' }, ids.map(treeNode)));
  }
  return node;
}

async function toggleNode(unitId) {
  if (state.expanded.delete(unitId)) {
    renderTree();
    return;
  }
  state.expanded.add(unitId);
  renderTree();
  try {
    await loadChildren(unitId);
  } catch (error) {
    state.expanded.delete(unitId);
    showError(error);
  }
  renderTree();
  renderBoardChoices(); // the children may bring emulation clusters not seen yet
}

async function openDrilldown(unitId) {
  if (unitId !== state.selectedId) await select(unitId).catch(showError);
  state.drilldown.open(unitId);
}

// --- rankings ----------------------------------------------------------------------------------

/** The rankings one can pick: the selected unit's children, each emulation cluster seen so
 * far (the selected unit's first), each level. Values are the API's path suffix. */
function boardChoices() {
  const p = state.progress.get(state.selectedId);
  const choices = [];
  if (p && p.level !== 'grassroots') {
    choices.push([`children/${enc(p.union_id)}`, `Trực thuộc ${p.name || p.union_id}`]);
  }
  const clusters = new Set(p && p.emulation_cluster ? [p.emulation_cluster] : []);
  for (const row of state.progress.values()) if (row.emulation_cluster) clusters.add(row.emulation_cluster);
  for (const cluster of clusters) choices.push([`cluster/${enc(cluster)}`, `Cụm thi đua: ${cluster}`]);
  for (const level of ['province', 'upper_level', 'grassroots']) {
    choices.push([`level/${level}`, `Toàn bộ cấp: ${LEVELS[level]}`]);
  }
  return choices;
}

function renderBoardChoices() {
  const select = $('leaderboard-group');
  const current = select.value;
  const choices = boardChoices();
  select.replaceChildren(...choices.map(([value, label]) => h('option', { value }, label)));
  select.value = choices.some(([value]) => value === current) ? current : choices[0][0];
}

async function loadBoard() {
  const metric = $('leaderboard-metric').value;
  const path = `leaderboards/${$('leaderboard-group').value}?metric=${metric}&limit=50`;
  const { items } = await api(path);
  const score = (value) => (metric === 'pct' ? pct(value) : num(value));
  $('leaderboard').replaceChildren(...(items.length ? items.map((row) => h('li', {
    class: 'board-row', 'data-testid': 'leaderboard-row', 'data-unit-id': row.union_id,
  },
  h('span', { class: 'rank' }, `${row.rank}.`),
  h('button', { type: 'button', class: 'node-name', onclick: () => select(row.union_id).catch(showError) },
    row.name || row.union_id),
  h('span', { class: 'score', 'data-testid': 'leaderboard-score' }, score(row.score))))
    : [h('li', { class: 'muted' }, 'Chưa có đơn vị nào trong bảng xếp hạng này.')]));
}

// --- alerts ------------------------------------------------------------------------------------

async function loadAlerts() {
  const box = $('alerts');
  if (!state.config.notifier_url) {
    box.replaceChildren(h('p', { class: 'muted' }, 'Chưa cấu hình địa chỉ dịch vụ cảnh báo cho trang này.'));
    return;
  }
  try {
    const query = new URLSearchParams({ campaign_id: state.campaign.id, status: 'firing' });
    const alerts = worstOnly(await getJSON(`${state.config.notifier_url}/alerts?${query}`));
    // Alerts carry unit ids; name the units the page has not read yet (a few at most).
    const unnamed = [...new Set(alerts.map((a) => a.unit_id))].filter((id) => !state.progress.has(id));
    await Promise.all(unnamed.slice(0, 50).map((id) => loadProgress(id).catch(() => null)));
    box.replaceChildren(alerts.length ? h('ul', { class: 'alerts' }, alerts.map(alertRow))
      : h('p', { class: 'muted', 'data-testid': 'alerts-empty' }, 'Không có cảnh báo nào đang bật.'));
  } catch (error) {
    box.replaceChildren(h('p', { class: 'error' }, `Không tải được cảnh báo (${error.message}).`));
  }
}

/** A unit critical is also behind; the notifier tells its head the worse news only, and so
 * does the page. */
function worstOnly(alerts) {
  const critical = new Set(alerts.filter((a) => a.rule === 'critical').map((a) => a.unit_id));
  return alerts.filter((a) => !(a.rule === 'behind' && critical.has(a.unit_id)));
}

function alertRow(alert) {
  const tz = state.campaign.timezone;
  return h('li', { class: 'alert', 'data-testid': 'alert-row',
    'data-unit-id': alert.unit_id, 'data-rule': alert.rule },
  h('span', { class: `badge rule-${alert.rule}` }, RULES[alert.rule] || alert.rule),
  h('button', { type: 'button', class: 'node-name', onclick: () => select(alert.unit_id).catch(showError) },
    nameOf(alert.unit_id)),
  h('span', { class: 'muted' },
    `${num(alert.counted)}/${num(alert.target)} sáng kiến, kỳ vọng ${num(Math.round(alert.expected * 10) / 10)}`
    + ` · từ ${dateTime(alert.fired_at || alert.since, tz)}`));
}

// --- live updates ------------------------------------------------------------------------------

const LIVE = {
  connecting: 'Đang kết nối…',
  live: '● Trực tiếp',
  retrying: 'Mất kết nối, đang thử lại…',
};

function setLive(status) {
  $('live').dataset.state = status;
  $('live').textContent = LIVE[status];
}

/** Follow the selected unit's stream: its numbers at once, the rest of the page refreshed
 * when a count moved (the stream speaks of one unit; the tree and chart need their reads). */
function connectLive() {
  if (state.source) state.source.close();
  const unitId = state.selectedId;
  const source = new EventSource(`campaigns/${enc(state.campaign.id)}/units/${enc(unitId)}/stream`);
  state.source = source;
  setLive('connecting');
  source.addEventListener('open', () => setLive('live'));
  source.addEventListener('error', () => {
    setLive('retrying');
    // The browser retries by itself unless the answer was not a stream at all.
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(() => state.source === source && connectLive(), RECONNECT_AFTER_MS);
    }
  });
  source.addEventListener('progress', (event) => {
    const row = JSON.parse(event.data);
    if (row.error || row.union_id !== state.selectedId) return;
    const before = state.progress.get(unitId);
    state.progress.set(unitId, { ...before, ...row });
    renderSummary();
    renderTree();
    const moved = ['counted', 'registered', 'under_review', 'valid', 'rejected', 'withdrawn'];
    if (!before || moved.some((name) => before[name] !== row[name])) refreshSoon();
  });
}

// --- start -------------------------------------------------------------------------------------

function showError(error) {
  $('error').textContent = typeof error === 'string' ? error : `Có lỗi khi tải số liệu: ${error.message}`;
  $('error').hidden = false;
}

/** A refresh that worked clears the last one's error (a brief outage must not stay shown). */
function hideError() {
  $('error').hidden = true;
}

function renderCampaigns(campaigns) {
  const select = $('campaign');
  select.replaceChildren(...campaigns.map((c) => h('option', { value: c.id },
    `${c.name} (${c.organiser_name || c.organiser_id})`)));
  select.value = state.campaign.id;
  // Another campaign is another page: its units, targets and alerts are all different.
  select.addEventListener('change', () => {
    window.location.search = `?${new URLSearchParams({ campaign: select.value })}`;
  });
}

async function start() {
  takeTokenFromAddress();
  const [config, campaigns] = await Promise.all([getJSON('dashboard/config.json'), getJSON('campaigns')]);
  state.config = config;
  const params = new URLSearchParams(window.location.search);
  const wanted = params.get('campaign');
  state.campaign = wanted ? campaigns.items.find((c) => c.id === wanted) : campaigns.items[0];
  if (!state.campaign) {
    showError(wanted ? `Không tìm thấy đợt thi đua “${wanted}”.` : 'Chưa có đợt thi đua nào.');
    document.body.dataset.state = 'error';
    return;
  }
  renderCampaigns(campaigns.items);
  state.rootId = params.get('unit') || state.campaign.organiser_id;
  state.drilldown = createDrilldown({
    body: $('drilldown'), submissionUrl: config.submission_url, campaign: state.campaign, nameOf,
  });
  $('leaderboard-metric').replaceChildren(
    ...Object.entries(METRICS).map(([value, label]) => h('option', { value }, label)));
  for (const id of ['leaderboard-group', 'leaderboard-metric']) {
    $(id).addEventListener('change', () => loadBoard().catch(showError));
  }
  window.addEventListener('resize', debounce(renderBurnupCard, 200));
  // The top of the tree opens at once: its children are what a head looks at first.
  state.expanded.add(state.rootId);
  await loadChildren(state.rootId);
  await select(state.rootId);
  loadAlerts();
  setInterval(loadAlerts, ALERTS_EVERY_MS);
  document.body.dataset.state = 'ready';
}

start().catch((error) => {
  showError(error);
  document.body.dataset.state = 'error';
});
