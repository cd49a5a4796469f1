// The burn-up chart of the selected unit, drawn as inline SVG from the scoring service's
// /burnup answer. Nothing is computed here but pixels: the pace model stays in Python.

import { dayMonth, fullDay, h, num, svg } from './util.js';

const MARGIN = { left: 40, right: 12, top: 14, bottom: 26 };
const LABEL_WIDTH = 40; // a dd/MM label at 11 px, with room on both sides

/** Draw ``data`` (GET …/burnup) into ``container``, sized to its width. */
export function renderBurnup(container, data) {
  const width = Math.max(260, Math.round(container.clientWidth || 600));
  const height = Math.round(Math.min(320, Math.max(200, width * 0.55)));
  const points = data.points;
  const scale = scales(points, data, width, height);
  const chart = svg('svg', {
    class: 'chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'data-testid': 'burnup-chart', 'aria-labelledby': 'burnup-title',
  }, svg('title', { id: 'burnup-title' }, `Biểu đồ tiến độ của ${data.name || data.union_id}`));
  chart.append(...grid(scale, width), ...xLabels(points, scale, height));
  if (data.target !== null) chart.append(...targetLine(data.target, scale, width));
  const todayIndex = points.findIndex((p) => p.day === data.today);
  if (todayIndex >= 0) chart.append(todayMark(todayIndex, scale));
  chart.append(
    line(points, 'expected', scale, 'line-expected', 'burnup-expected'),
    line(points, 'projected', scale, 'line-projected', 'burnup-projected'),
    line(points, 'actual', scale, 'line-actual', 'burnup-actual'),
  );
  if (data.counts === 'valid' && todayIndex >= 0) {
    // The daily line is of registrations; what counts (valid ones) is known for today only.
    chart.append(svg('circle', {
      class: 'dot-counted', cx: scale.x(todayIndex), cy: scale.y(data.counted), r: 4,
    }));
  }
  container.replaceChildren(chart, legend(data), table(points));
}

function scales(points, data, width, height) {
  const values = [data.target || 0, data.counted];
  for (const p of points) values.push(p.actual || 0, p.expected || 0, p.projected || 0);
  const highest = Math.max(1, ...values) * 1.05;
  const step = niceStep(highest / 4);
  const top = Math.ceil(highest / step) * step;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const last = Math.max(1, points.length - 1);
  return {
    top,
    step,
    x: (index) => round(MARGIN.left + (index * plotWidth) / last),
    y: (value) => round(MARGIN.top + plotHeight * (1 - value / top)),
  };
}

/** The smallest 1, 2 or 5 × 10^n at or above ``value``, and at least 1 (whole
 * initiatives): gridlines at round numbers, four of them at most. */
function niceStep(value) {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].find((s) => s * power >= value) * power;
}

function round(value) {
  return Math.round(value * 10) / 10;
}

function grid(scale, width) {
  const items = [];
  for (let value = 0; value <= scale.top; value += scale.step) {
    const y = scale.y(value);
    items.push(
      svg('line', { class: 'grid', x1: MARGIN.left, x2: width - MARGIN.right, y1: y, y2: y }),
      svg('text', { class: 'axis', x: MARGIN.left - 6, y: y + 4, 'text-anchor': 'end' }, num(value)),
    );
  }
  return items;
}

function xLabels(points, scale, height) {
  // About one label a week, never closer than a label's width (a phone's chart is narrow);
  // the last day is always labelled, and a label too close to it gives way.
  const last = points.length - 1;
  const perDay = (scale.x(last) - scale.x(0)) / Math.max(1, last);
  const every = Math.max(Math.ceil(points.length / 6), Math.ceil(LABEL_WIDTH / perDay));
  const labels = [];
  points.forEach((point, index) => {
    const regular = index % every === 0 && scale.x(last) - scale.x(index) >= LABEL_WIDTH;
    if (!regular && index !== last) return;
    labels.push(svg('text', {
      class: 'axis', x: scale.x(index), y: height - 8,
      'text-anchor': index === last ? 'end' : 'middle',
    }, dayMonth(point.day)));
  });
  return labels;
}

function targetLine(target, scale, width) {
  const y = scale.y(target);
  return [
    svg('line', { class: 'line-target', x1: MARGIN.left, x2: width - MARGIN.right, y1: y, y2: y }),
    svg('text', { class: 'axis label-target', x: MARGIN.left + 4, y: y - 4 }, `Chỉ tiêu ${num(target)}`),
  ];
}

function todayMark(index, scale) {
  const x = scale.x(index);
  return svg('g', {},
    svg('line', { class: 'line-today', x1: x, x2: x, y1: MARGIN.top, y2: scale.y(0) }),
    svg('text', { class: 'axis', x: x - 4, y: MARGIN.top + 10, 'text-anchor': 'end' }, 'Hôm nay'));
}

function line(points, field, scale, className, testid) {
  const coordinates = [];
  points.forEach((point, index) => {
    if (point[field] !== null && point[field] !== undefined) {
      coordinates.push(`${scale.x(index)},${scale.y(point[field])}`);
    }
  });
  return svg('polyline', {
    class: className, points: coordinates.join(' '), 'data-testid': testid,
    'data-count': coordinates.length,
  });
}

function legend(data) {
  const actual = data.counts === 'valid'
    ? `Đã đăng ký (được tính: ${num(data.counted)} hợp lệ)`
    : `Thực tế: ${num(data.counted)}`;
  const items = [
    ['swatch-actual', actual],
    ['swatch-expected', data.expected_now === null
      ? 'Kỳ vọng: chưa có chỉ tiêu'
      : `Kỳ vọng theo tiến độ (hôm nay ${num(data.expected_now)})`],
    ['swatch-projected', `Dự báo cuối đợt: ${num(data.projected_total)}`],
  ];
  if (data.target !== null) items.push(['swatch-target', `Chỉ tiêu: ${num(data.target)}`]);
  const notes = [];
  if (data.projected_recent !== null) {
    notes.push(`Theo nhịp 7 ngày gần nhất, cuối đợt đạt khoảng ${num(data.projected_recent)}.`);
  }
  notes.push(`Đợt từ ${fullDay(data.starts_on)} đến ${fullDay(data.ends_on)}.`);
  return h('div', { class: 'legend' },
    h('ul', { class: 'legend-items' },
      items.map(([swatch, text]) => h('li', {}, h('span', { class: `swatch ${swatch}` }), text))),
    h('p', { class: 'muted', 'data-testid': 'burnup-notes' }, notes.join(' ')));
}

function table(points) {
  const rows = points.map((p) => h('tr', { 'data-testid': 'burnup-row', 'data-day': p.day },
    h('td', {}, dayMonth(p.day)), h('td', {}, num(p.actual)),
    h('td', {}, num(p.expected)), h('td', {}, num(p.projected))));
  return h('details', { class: 'burnup-table', 'data-testid': 'burnup-table' },
    h('summary', {}, 'Số liệu theo ngày'),
    h('div', { class: 'table-scroll' },
      h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Ngày'), h('th', {}, 'Thực tế'),
          h('th', {}, 'Kỳ vọng'), h('th', {}, 'Dự báo'))),
        h('tbody', {}, rows))));
}
