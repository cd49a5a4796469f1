// "Why is my count what it is": the initiatives behind a unit's number and each one's status
// history, from the submission service. That service shows authors and titles, so it asks for
// a bearer token: the page takes one from its address (#token=…) or from the field here, and
// keeps it for this tab only (sessionStorage): the token shows authors' names, so it does not
// outlive the tab on a shared computer.

import { HttpError, STATUSES, dateTime, getJSON, h, num } from './util.js';

const TOKEN_KEY = 'sangkien.dashboard.token';
const PAGE_SIZE = 50;

/** Move a token from the address's fragment (#token=…) into storage, and out of the address
 * bar, where it would be seen, bookmarked or copied along with the link. */
export function takeTokenFromAddress() {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  saveToken(decodeURIComponent(match[1]));
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}

function readToken() {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY) || '';
  } catch (_) {
    return ''; // storage switched off: the field still works for this visit
  }
}

let tokenInMemory = '';

function saveToken(token) {
  tokenInMemory = token.trim();
  try {
    if (tokenInMemory) window.sessionStorage.setItem(TOKEN_KEY, tokenInMemory);
    else window.sessionStorage.removeItem(TOKEN_KEY);
  } catch (_) { /* kept in memory only */ }
}

function token() {
  return tokenInMemory || readToken();
}

/** Whether an initiative in ``status`` counts toward a target of a campaign counting ``counts``. */
function counts(status, countsWhat) {
  return countsWhat === 'registered' ? status !== 'withdrawn' : status === 'valid';
}

/**
 * The drill-down panel inside ``body``. ``nameOf(id)`` names a unit; ``campaign`` is the row of
 * GET /campaigns. Returns ``open(unitId)``.
 */
export function createDrilldown({ body, submissionUrl, campaign, nameOf }) {
  const state = { unitId: null, status: '', items: [], cursor: null, error: null, detail: null };
  // Each request takes a number; an answer to one that a newer request replaced (another unit,
  // another filter) is dropped, or it would show under the wrong unit.
  const latest = { list: 0, detail: 0 };

  async function load(more) {
    const query = new URLSearchParams({
      union_id: state.unitId, campaign_id: campaign.id, limit: String(PAGE_SIZE),
    });
    if (state.status) query.set('status', state.status);
    if (more && state.cursor) query.set('cursor', state.cursor);
    state.error = null;
    const asked = ++latest.list;
    try {
      const page = await getJSON(`${submissionUrl}/initiatives?${query}`, { headers: auth() });
      if (asked !== latest.list) return;
      state.items = more ? state.items.concat(page.items) : page.items;
      state.cursor = page.next_cursor;
    } catch (error) {
      if (asked !== latest.list) return;
      state.error = explain(error);
    }
    render();
  }

  async function showDetail(id) {
    const asked = ++latest.detail;
    try {
      const item = await getJSON(`${submissionUrl}/initiatives/${encodeURIComponent(id)}`, {
        headers: auth(),
      });
      if (asked !== latest.detail) return;
      state.detail = item;
    } catch (error) {
      if (asked !== latest.detail) return;
      state.error = explain(error);
    }
    render();
  }

  function auth() {
    return { Authorization: `Bearer ${token()}` };
  }

  function render() {
    if (!submissionUrl) {
      body.replaceChildren(h('p', { class: 'muted' },
        'Chưa cấu hình địa chỉ dịch vụ tiếp nhận sáng kiến cho trang này.'));
      return;
    }
    const parts = [tokenForm()];
    if (!state.unitId) {
      parts.push(h('p', { class: 'muted' },
        'Bấm vào số sáng kiến của một đơn vị để xem các sáng kiến được tính.'));
    } else if (!token()) {
      parts.push(heading(), h('p', { class: 'notice', 'data-testid': 'drilldown-need-token' },
        'Cần mã truy cập (token) để xem các sáng kiến phía sau con số này: dán mã vào ô trên, '
        + 'hoặc mở trang bằng đường dẫn có #token=….'));
    } else {
      parts.push(heading(), filter());
      if (state.error) parts.push(h('p', { class: 'error', 'data-testid': 'drilldown-error' }, state.error));
      parts.push(list());
      if (state.cursor) {
        parts.push(h('button', { type: 'button', class: 'link', 'data-testid': 'drilldown-more',
          onclick: () => load(true) }, 'Tải thêm'));
      }
      if (state.detail) parts.push(detail(state.detail));
    }
    body.replaceChildren(...parts);
  }

  function heading() {
    const rule = campaign.counts === 'registered'
      ? 'Đợt này tính mọi sáng kiến đã đăng ký (trừ sáng kiến đã rút)'
      : 'Đợt này chỉ tính sáng kiến đã được xét hợp lệ';
    return h('div', {},
      h('h3', { 'data-testid': 'drilldown-unit' }, `Sáng kiến của ${nameOf(state.unitId)}`),
      h('p', { class: 'muted' }, `${rule}, của đơn vị và mọi đơn vị trực thuộc.`));
  }

  function tokenForm() {
    const input = h('input', {
      type: 'password', name: 'token', autocomplete: 'off', 'data-testid': 'token-input',
      placeholder: token() ? 'Đã lưu mã truy cập' : 'Mã truy cập (token)', 'aria-label': 'Mã truy cập',
    });
    const save = (event) => {
      event.preventDefault();
      saveToken(input.value);
      state.detail = null;
      if (state.unitId && token()) load(false);
      else render();
    };
    return h('form', { class: 'token-form', onsubmit: save },
      input,
      h('button', { type: 'submit', 'data-testid': 'token-save' }, 'Lưu mã'),
      token() ? h('button', { type: 'button', class: 'link', 'data-testid': 'token-clear',
        onclick: () => { saveToken(''); state.items = []; render(); } }, 'Xoá mã') : null);
  }

  function filter() {
    const select = h('select', { 'data-testid': 'drilldown-status', 'aria-label': 'Trạng thái',
      onchange: () => { state.status = select.value; state.detail = null; load(false); } },
    h('option', { value: '' }, 'Mọi trạng thái'),
    Object.entries(STATUSES).map(([value, label]) => h('option', { value }, label)));
    select.value = state.status;
    return h('label', { class: 'inline' }, 'Lọc: ', select);
  }

  function list() {
    if (!state.items.length) {
      return h('p', { class: 'muted', 'data-testid': 'initiative-empty' }, 'Không có sáng kiến nào.');
    }
    return h('ul', { class: 'initiatives', 'data-testid': 'initiative-list' },
      state.items.map((item) => h('li', { 'data-testid': 'initiative-row', 'data-id': item.id },
        h('button', { type: 'button', class: 'link title', 'data-testid': 'initiative-title',
          onclick: () => showDetail(item.id) }, item.title),
        h('div', { class: 'meta' },
          h('span', { class: `badge status-${item.status}` }, STATUSES[item.status] || item.status),
          counts(item.status, campaign.counts)
            ? h('span', { class: 'counted' }, '✓ được tính')
            : h('span', { class: 'muted' }, 'không tính'),
          h('span', {}, nameOf(item.union_id)),
          h('span', {}, dateTime(item.submitted_at, campaign.timezone))))));
  }

  function detail(item) {
    return h('section', { class: 'detail', 'data-testid': 'initiative-detail', 'data-id': item.id },
      h('h3', {}, item.title),
      h('dl', {},
        h('dt', {}, 'Đơn vị'), h('dd', {}, nameOf(item.union_id)),
        h('dt', {}, 'Lĩnh vực'), h('dd', {}, item.field),
        h('dt', {}, 'Đăng ký lúc'), h('dd', {}, dateTime(item.submitted_at, campaign.timezone)),
        h('dt', {}, 'Lợi ích ước tính'), h('dd', {}, `${num(item.estimated_benefit_vnd)} đồng`)),
      h('h4', {}, 'Lịch sử trạng thái'),
      h('ol', { class: 'history', 'data-testid': 'initiative-history' },
        item.history.map((step) => h('li', { 'data-testid': 'history-step', 'data-status': step.status },
          h('span', { class: `badge status-${step.status}` }, STATUSES[step.status] || step.status),
          ` ${dateTime(step.at, campaign.timezone)}`,
          step.actor_id ? ` · ${step.actor_id}` : '',
          step.note ? ` · ${step.note}` : ''))),
      h('button', { type: 'button', class: 'link', onclick: () => { state.detail = null; render(); } },
        'Đóng'));
  }

  render();
  return {
    /** Show the initiatives behind ``unitId``'s number. */
    open(unitId) {
      Object.assign(state, { unitId, status: '', items: [], cursor: null, error: null, detail: null });
      render();
      if (token() && submissionUrl) load(false);
      body.scrollIntoView({ behavior: 'smooth', block: 'start' });
    },
  };
}

function explain(error) {
  if (error instanceof HttpError && error.status === 401) {
    return 'Mã truy cập không hợp lệ hoặc đã hết hạn.';
  }
  if (error instanceof HttpError && error.status === 403) {
    return 'Mã truy cập này không có quyền xem đơn vị này.';
  }
  return `Không tải được danh sách sáng kiến (${error.message}).`;
}
