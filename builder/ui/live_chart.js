// The Train page's live chart (Streamlit Components v2, no build step): panels of lines
// drawn on one <canvas>. A redraw is a few hundred lineTo calls, about a millisecond, where
// a Plotly figure is validated, laid out and drawn anew each time. It keeps no state but
// the last data (to redraw on a resize) and counts what it drew for the browser tests.
const LEGEND = 26;
const TITLE = 22;
const LEFT = 52;
const BOTTOM = 34;
const GAP = 28;
const MARKER_LIMIT = 40;

const charts = new WeakMap();

function niceStep(range, count) {
  const rough = range / Math.max(count, 1);
  const power = Math.pow(10, Math.floor(Math.log10(rough)));
  const scaled = rough / power;
  return (scaled < 1.5 ? 1 : scaled < 3.5 ? 2 : scaled < 7.5 ? 5 : 10) * power;
}

function ticks(low, high, count) {
  const step = niceStep(high - low, count);
  const out = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

function label(value) {
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e5 || size < 1e-3)) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

function extent(lines, axis) {
  let low = Infinity;
  let high = -Infinity;
  for (const line of lines) {
    for (const v of line[axis]) {
      if (Number.isFinite(v)) {
        if (v < low) low = v;
        if (v > high) high = v;
      }
    }
  }
  return [low, high];
}

function drawPanel(ctx, panel, box, colors) {
  const { x: left, y: top, w: width, h: height } = box;
  ctx.fillStyle = colors.text;
  ctx.font = "600 13px sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText(panel.title, left + width / 2, top);
  const plot = { x: left + LEFT, y: top + TITLE, w: width - LEFT - 8, h: height - TITLE - BOTTOM };
  if (plot.w < 20 || plot.h < 20) return 0;
  let [xLow, xHigh] = extent(panel.lines, "x");
  let [yLow, yHigh] = extent(panel.lines, "y");
  if (!Number.isFinite(xLow)) {
    ctx.font = "12px sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillText("waiting for the first batch", plot.x + plot.w / 2, plot.y + plot.h / 2);
    return 0;
  }
  xLow = Math.min(0, xLow);
  if (xHigh <= xLow) xHigh = xLow + 1;
  if (yHigh <= yLow) {
    yHigh += 0.5;
    yLow -= 0.5;
  }
  const pad = (yHigh - yLow) * 0.06;
  yLow -= pad;
  yHigh += pad;
  const px = (v) => plot.x + ((v - xLow) / (xHigh - xLow)) * plot.w;
  const py = (v) => plot.y + plot.h - ((v - yLow) / (yHigh - yLow)) * plot.h;

  ctx.font = "11px sans-serif";
  ctx.lineWidth = 1;
  ctx.strokeStyle = colors.grid;
  ctx.fillStyle = colors.muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of ticks(yLow, yHigh, Math.max(2, Math.floor(plot.h / 45)))) {
    const y = Math.round(py(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(plot.x, y);
    ctx.lineTo(plot.x + plot.w, y);
    ctx.stroke();
    ctx.fillText(label(v), plot.x - 6, y);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const v of ticks(xLow, xHigh, Math.max(2, Math.floor(plot.w / 70)))) {
    const x = Math.round(px(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, plot.y);
    ctx.lineTo(x, plot.y + plot.h);
    ctx.stroke();
    ctx.fillText(label(v), x, plot.y + plot.h + 4);
  }
  ctx.fillText("epoch", plot.x + plot.w / 2, plot.y + plot.h + 18);

  let drawn = 0;
  ctx.save();
  ctx.beginPath();
  ctx.rect(plot.x, plot.y, plot.w, plot.h);
  ctx.clip();
  for (const line of panel.lines) {
    ctx.globalAlpha = line.opacity ?? 1;
    ctx.strokeStyle = line.color;
    ctx.fillStyle = line.color;
    ctx.lineWidth = line.width ?? 2;
    ctx.beginPath();
    let open = false;
    for (let i = 0; i < line.x.length; i += 1) {
      const x = line.x[i];
      const y = line.y[i];
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        open = false;
        continue;
      }
      if (open) ctx.lineTo(px(x), py(y));
      else ctx.moveTo(px(x), py(y));
      open = true;
      drawn += 1;
    }
    ctx.stroke();
    if (line.markers && line.x.length <= MARKER_LIMIT) {
      for (let i = 0; i < line.x.length; i += 1) {
        if (!Number.isFinite(line.y[i])) continue;
        ctx.beginPath();
        ctx.arc(px(line.x[i]), py(line.y[i]), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }
  ctx.restore();
  ctx.globalAlpha = 1;
  return drawn;
}

function drawLegend(ctx, panels, width, y, colors) {
  const seen = new Map();
  for (const panel of panels) {
    for (const line of panel.lines) if (!seen.has(line.name)) seen.set(line.name, line);
  }
  ctx.font = "12px sans-serif";
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  const items = [...seen.values()];
  const widths = items.map((line) => 28 + ctx.measureText(line.name).width + 18);
  let x = Math.max(8, (width - widths.reduce((a, b) => a + b, 0)) / 2);
  items.forEach((line, i) => {
    ctx.globalAlpha = line.opacity ?? 1;
    ctx.strokeStyle = line.color;
    ctx.lineWidth = line.width ?? 2;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + 22, y);
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.fillStyle = colors.text;
    ctx.fillText(line.name, x + 28, y);
    x += widths[i];
  });
}

function draw(chart) {
  const { canvas, data, root } = chart;
  const width = Math.max(200, root.clientWidth);
  const height = data.height || 300;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const style = getComputedStyle(root);
  const colors = { text: style.color || "#31333f", muted: style.color || "#555", grid: "rgba(128, 128, 128, 0.22)" };
  const panels = data.panels || [];
  const each = (width - GAP * Math.max(0, panels.length - 1)) / Math.max(1, panels.length);
  let points = 0;
  panels.forEach((panel, i) => {
    points += drawPanel(ctx, panel, { x: i * (each + GAP), y: 0, w: each, h: height - LEGEND }, colors);
  });
  drawLegend(ctx, panels, width, height - LEGEND / 2, colors);
  chart.draws += 1;
  root.dataset.points = String(points);
  root.dataset.draws = String(chart.draws);
}

export default function render({ parentElement, data }) {
  let chart = charts.get(parentElement);
  if (!chart) {
    const root = document.createElement("div");
    root.className = "nc-live-chart";
    root.setAttribute("role", "img");
    const canvas = document.createElement("canvas");
    canvas.style.display = "block";
    root.appendChild(canvas);
    parentElement.appendChild(root);
    chart = { root, canvas, data, draws: 0, observer: null };
    chart.observer = new ResizeObserver(() => draw(chart));
    chart.observer.observe(root);
    charts.set(parentElement, chart);
  }
  chart.data = data || {};
  chart.root.setAttribute("aria-label", chart.data.label || "training curves");
  draw(chart);
  return () => {
    const mounted = charts.get(parentElement);
    if (mounted) {
      mounted.observer.disconnect();
      mounted.root.remove();
      charts.delete(parentElement);
    }
  };
}
