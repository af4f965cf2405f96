// Hand-made inline SVG charts: no library, attributes only (the CSP allows no inline style).

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) if (child) el.append(child);
  return el;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= value);
}

// series: [{name, key, class}], points: [{at, [key]: number}]. One line (with a light
// area) per series; y from 0 to a round maximum; the first and last time on the x axis.
export function lineChart({ title, points, series, width = 480, height = 160 }) {
  const pad = { left: 36, right: 8, top: 10, bottom: 20 };
  const w = width - pad.left - pad.right;
  const hgt = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(0, ...points.flatMap((p) => series.map((s) => Number(p[s.key]) || 0))));
  const x = (i) => pad.left + (points.length <= 1 ? 0 : (i / (points.length - 1)) * w);
  const y = (v) => pad.top + hgt - (v / max) * hgt;
  const summary = series.map((s) => `${s.name} total ${points.reduce((a, p) => a + (Number(p[s.key]) || 0), 0)}`);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": `${title}: ${summary.join(", ")}` }, svg("title", {}, document.createTextNode(title)));
  for (const frac of [0, 0.5, 1]) {
    const gy = y(max * frac);
    root.append(svg("line", { x1: pad.left, x2: pad.left + w, y1: gy, y2: gy, class: "grid" }));
    root.append(svg("text", { x: pad.left - 4, y: gy + 3, class: "axis", "text-anchor": "end" },
      document.createTextNode(String(Math.round(max * frac * 10) / 10))));
  }
  if (points.length === 0) {
    root.append(svg("text", { x: pad.left + w / 2, y: pad.top + hgt / 2, class: "axis", "text-anchor": "middle" },
      document.createTextNode("no data yet")));
    return root;
  }
  for (const s of series) {
    const coords = points.map((p, i) => `${x(i).toFixed(1)},${y(Number(p[s.key]) || 0).toFixed(1)}`);
    const area = `M${x(0).toFixed(1)},${y(0)} L${coords.join(" L")} L${x(points.length - 1).toFixed(1)},${y(0)} Z`;
    root.append(svg("path", { d: area, class: `area ${s.class}` }));
    root.append(svg("polyline", { points: coords.join(" "), class: `line ${s.class}` }));
  }
  const label = (p) => (p && p.at ? new Date(p.at).toISOString().slice(11, 16) : "");
  root.append(svg("text", { x: pad.left, y: height - 4, class: "axis" }, document.createTextNode(label(points[0]))));
  root.append(svg("text", { x: pad.left + w, y: height - 4, class: "axis", "text-anchor": "end" },
    document.createTextNode(label(points[points.length - 1]))));
  return root;
}

export function legend(series) {
  const ul = document.createElement("ul");
  ul.className = "legend";
  for (const s of series) {
    const li = document.createElement("li");
    li.className = s.class;
    li.textContent = s.name;
    ul.append(li);
  }
  return ul;
}
