// What every part of the dashboard shares: Vietnamese labels, number and date formats, DOM
// builders and JSON over HTTP. Text always goes in as text (never as HTML): names and titles
// come from users, and the page holds a bearer token.

export const LEVELS = {
  national: 'Tổng Liên đoàn',
  province: 'LĐLĐ tỉnh, thành phố / công đoàn ngành TW',
  upper_level: 'Công đoàn cấp trên trực tiếp cơ sở',
  grassroots: 'Công đoàn cơ sở',
};

export const PACES = {
  on_track: 'Đúng tiến độ',
  behind: 'Chậm tiến độ',
  critical: 'Chậm nghiêm trọng',
  not_started: 'Chưa bắt đầu',
};

export const STATUSES = {
  submitted: 'Đang xem xét',
  valid: 'Hợp lệ',
  rejected: 'Không hợp lệ',
  withdrawn: 'Đã rút',
};

export const RULES = {
  critical: 'Chậm nghiêm trọng',
  behind: 'Chậm tiến độ',
  review_backlog: 'Tồn đọng chờ xét duyệt',
};

export const METRICS = {
  pct: '% chỉ tiêu',
  per100: 'Sáng kiến / 100 đoàn viên',
  people: 'Số người tham gia',
};

const numbers = new Intl.NumberFormat('vi-VN', { maximumFractionDigits: 2 });

/** A number the Vietnamese way (1.234,5); a dash when there is none. */
export function num(value) {
  return value === null || value === undefined ? '—' : numbers.format(value);
}

/** A percentage: 27,84%. */
export function pct(value) {
  return value === null || value === undefined ? '—' : `${numbers.format(value)}%`;
}

/** dd/MM from an ISO day (YYYY-MM-DD), without going through a Date and its time zone. */
export function dayMonth(isoDay) {
  const [, month, day] = isoDay.split('-');
  return `${day}/${month}`;
}

/** dd/MM/yyyy from an ISO day. */
export function fullDay(isoDay) {
  const [year, month, day] = isoDay.split('-');
  return `${day}/${month}/${year}`;
}

/** dd/MM/yyyy HH:mm of an instant, on the campaign's clock face (its time zone). */
export function dateTime(instant, timeZone) {
  if (!instant) return '—';
  const parts = {};
  const format = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });
  for (const part of format.formatToParts(new Date(instant))) parts[part.type] = part.value;
  return `${parts.day}/${parts.month}/${parts.year} ${parts.hour}:${parts.minute}`;
}

/**
 * An element: h('button', {class: 'x', 'data-testid': 'y', onclick: f}, 'text', child…).
 * Attributes whose value is null, undefined or false are left out.
 */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element, as h() builds HTML ones. */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A progress bar: filled to the percentage, with a mark where the pace model expects it. */
export function bar(percentage, expected) {
  const fill = h('div', { class: 'bar-fill' });
  // Widths go through the CSSOM: the content security policy allows no inline style attribute.
  fill.style.width = `${Math.min(100, Math.max(0, percentage || 0))}%`;
  const element = h('div', {
    class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100,
    'aria-valuenow': Math.round(percentage || 0),
  }, fill);
  if (expected !== null && expected !== undefined) {
    const mark = h('div', { class: 'bar-mark', title: `Kỳ vọng hôm nay: ${pct(expected)}` });
    mark.style.left = `${Math.min(100, Math.max(0, expected))}%`;
    element.append(mark);
  }
  return element;
}

/** A coloured label of a unit's pace. */
export function paceBadge(pace, testid) {
  return h('span', { class: `badge pace-${pace}`, 'data-testid': testid }, PACES[pace] || pace);
}

/** An HTTP answer other than 2xx. */
export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET (or another method) a JSON answer; HttpError on anything but 2xx. */
export async function getJSON(url, options = {}) {
  const response = await fetch(url, { ...options, headers: { Accept: 'application/json', ...options.headers } });
  if (!response.ok) {
    let message = response.statusText;
    try {
      const body = await response.json();
      message = body.message || body.detail || message;
    } catch (_) { /* not JSON: keep the status text */ }
    throw new HttpError(response.status, message);
  }
  return response.json();
}

/** Calls ``action`` at most once every ``wait`` ms: at once, then once more at the end of the
 * wait if it was asked for meanwhile. Unlike a debounce it still runs while asked without pause
 * (a busy province's stream changes every half second). */
export function throttle(action, wait) {
  let timer = null;
  let pending = false;
  const run = () => {
    pending = false;
    action();
    timer = setTimeout(() => {
      timer = null;
      if (pending) run();
    }, wait);
  };
  return () => {
    if (timer) pending = true;
    else run();
  };
}

/** Calls ``action`` once things have been quiet for ``wait`` ms. */
export function debounce(action, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => action(...args), wait);
  };
}
