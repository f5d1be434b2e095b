// The citizens' page: plain JavaScript and SVG, no library and nothing from other origins.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const MISSING = "—";
let current = null;
let serverOffsetMs = 0;
let selected = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

function number(value, digits) {
  if (value === null || value === undefined) return MISSING;
  return value.toLocaleString("vi-VN", { maximumFractionDigits: digits || 0 });
}

function serverNow() { return Date.now() + serverOffsetMs; }

function age(iso) {
  const minutes = Math.max(0, Math.round((serverNow() - Date.parse(iso)) / 60000));
  if (minutes < 60) return `${minutes} phút trước`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} giờ ${minutes % 60} phút trước`;
  return `${Math.floor(hours / 24)} ngày trước`;
}

function localTime(iso) {
  return new Date(iso).toLocaleString("vi-VN", {
    timeZone: current.timezone, hour: "2-digit", minute: "2-digit",
    day: "2-digit", month: "2-digit", year: "numeric",
  });
}

function band(level) { return current.bands[level - 1]; }

// What the marker and the card show for a station.
function look(p) {
  if (p.kind === "aqi") {
    if (p.aqi && !p.aqi.stale) {
      const b = band(p.aqi.level);
      return { fill: b.color, ink: b.text_color, text: String(p.aqi.value), badge: "aqi" };
    }
    return { fill: "#e0e0e0", ink: "#424242", text: MISSING, badge: "missing" };
  }
  const pm = p.concentrations && p.concentrations.values.find((v) => v.parameter === "pm25");
  return { fill: "#ffffff", ink: "#37474f", text: pm && !p.silent ? number(pm.value) : MISSING,
           badge: "indicative" };
}

function silentText(p) {
  const last = p.last_data_end ? `; số liệu cuối lúc ${localTime(p.last_data_end)}` : "";
  return p.last_data_end ? `Trạm không gửi số liệu hơn 2 giờ${last}`
                         : "Chưa có số liệu trong 48 giờ qua";
}

function renderMap(outline, features) {
  const map = document.getElementById("map");
  map.replaceChildren();
  const rings = [];
  for (const f of outline.features) {
    const g = f.geometry;
    const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    for (const poly of polys) rings.push(...poly);
  }
  const points = rings.flat().concat(features.map((f) => f.geometry.coordinates));
  const lons = points.map((c) => c[0]);
  const lats = points.map((c) => c[1]);
  const [minLon, maxLon, minLat, maxLat] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const kx = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  // a phone's width in viewBox units, so markers stay big enough to read and tap
  const width = 400;
  const pad = 24;
  const scale = (width - 2 * pad) / Math.max((maxLon - minLon) * kx, 1e-6);
  const height = Math.round((maxLat - minLat) * scale + 2 * pad);
  const xy = (c) => [pad + (c[0] - minLon) * kx * scale, pad + (maxLat - c[1]) * scale];
  map.setAttribute("viewBox", `0 0 ${width} ${height}`);
  for (const ring of rings) {
    const d = ring.map((c, i) => `${i ? "L" : "M"}${xy(c).map((v) => v.toFixed(1)).join(",")}`).join("") + "Z";
    map.append(svg("path", { class: "outline", d }));
  }
  // what the outline is and whose it is: a licence such as CC BY requires the credit
  const said = (key) => outline.features.map((f) => f.properties && f.properties[key]).filter(Boolean);
  document.getElementById("map-note").textContent = [...new Set([...said("note"), ...said("attribution")])].join(" ");
  // AQI stations keep their place; a marker that would hide another is moved aside,
  // with a line to its true position
  const placed = [];
  const priority = [...features].sort((a, b) => (b.properties.kind === "aqi") - (a.properties.kind === "aqi"));
  for (const f of priority) {
    const [x0, y0] = xy(f.geometry.coordinates);
    let [x, y] = [x0, y0];
    for (let attempt = 0; attempt < 12; attempt++) {
      const hit = placed.find((q) => Math.hypot(q.x - x, q.y - y) < 38);
      if (!hit) break;
      const angle = Math.atan2(y - hit.y, x - hit.x) || Math.PI / 4;
      x = hit.x + Math.cos(angle) * 40;
      y = hit.y + Math.sin(angle) * 40;
    }
    placed.push({ f, x, y, x0, y0 });
  }
  // indicative markers drawn first, so the AQI stations are on top
  for (const { f, x, y, x0, y0 } of placed.reverse()) {
    const p = f.properties;
    const l = look(p);
    if (Math.hypot(x - x0, y - y0) > 1) {
      map.append(svg("line", { x1: x0, y1: y0, x2: x, y2: y, stroke: "#37474f", "stroke-width": 1 }));
      map.append(svg("circle", { cx: x0, cy: y0, r: 2.5, fill: "#37474f" }));
    }
    const g = svg("g", { class: "marker", "data-station": p.station_id, "data-kind": p.kind,
                         "data-fill": l.fill, tabindex: 0, role: "button",
                         "aria-label": `${p.name}: ${cardSummary(p)}` });
    const title = svg("title");
    title.textContent = p.name;
    g.append(title);
    if (p.kind === "aqi") {
      g.append(svg("circle", { cx: x, cy: y, r: 17, fill: l.fill }));
      const t = svg("text", { x, y, fill: l.ink });
      t.textContent = l.text;
      g.append(t);
    } else {
      // a square with the pollutant named, so the number is never read as an AQI
      g.append(svg("rect", { x: x - 22, y: y - 16, width: 44, height: 32, rx: 3, fill: l.fill,
                             "stroke-dasharray": "3 2" }));
      const name = svg("text", { x, y: y - 7, fill: l.ink, class: "unit" });
      name.textContent = "PM2.5";
      const t = svg("text", { x, y: y + 7, fill: l.ink });
      t.textContent = l.text;
      g.append(name, t);
    }
    g.addEventListener("click", () => select(p.station_id));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter") select(p.station_id); });
    map.append(g);
  }
}

function cardSummary(p) {
  if (p.kind === "aqi") {
    if (p.aqi && !p.aqi.stale) return `VN_AQI ${p.aqi.value}, ${p.aqi.band}`;
    return "không có chỉ số VN_AQI mới";
  }
  return "số liệu tham khảo";
}

function badge(p) {
  const l = look(p);
  const b = el("span", { class: `badge ${l.badge}` });
  if (l.badge === "aqi") {
    b.style.background = l.fill;
    b.style.color = l.ink;
    b.textContent = l.text;
  } else if (l.badge === "indicative") {
    b.append(el("span", {}, "Tham khảo"));
  } else {
    b.textContent = MISSING;
  }
  return b;
}

function renderList(features) {
  const list = document.getElementById("stations");
  list.replaceChildren();
  for (const f of features) {
    const p = f.properties;
    const lines = [];
    if (p.kind === "aqi") {
      if (p.aqi && !p.aqi.stale) {
        lines.push(el("span", { class: "line band-name" }, `${p.aqi.band} · VN_AQI ${p.aqi.value}`));
        lines.push(el("span", { class: "line" }, `Giờ ${p.aqi.hour_local} · ${age(p.aqi.hour_end)}`));
      } else {
        lines.push(el("span", { class: "line" }, "Không có chỉ số VN_AQI mới"));
      }
    } else {
      lines.push(el("span", { class: "line kind" }, `${p.station_type_label} · ${p.kind_label}`));
      const c = p.concentrations;
      if (c && !p.silent) {
        const text = c.values.filter((v) => v.parameter === "pm25" || v.parameter === "pm10")
          .map((v) => `${v.label} ${number(v.value, 1)} ${v.unit}`).join(" · ");
        if (text) lines.push(el("span", { class: "line" }, `${text} (giờ ${c.hour_local})`));
      }
    }
    if (p.silent) lines.push(el("span", { class: "line warn" }, silentText(p)));
    const button = el("button", { class: "card", type: "button", "aria-expanded": "false" },
      badge(p), el("span", { class: "text" }, el("span", { class: "name" }, p.name), ...lines));
    button.addEventListener("click", () => select(p.station_id));
    list.append(el("li", { "data-station": p.station_id, "data-kind": p.kind }, button));
  }
}

function renderLegend() {
  const legend = document.getElementById("legend");
  legend.replaceChildren();
  for (const b of current.bands) {
    const swatch = el("span", { class: "swatch" }, `${b.lower}–${b.upper}`);
    swatch.style.background = b.color;
    swatch.style.color = b.text_color;
    legend.append(el("li", {}, swatch, el("span", {}, b.name)));
  }
}

function chart(series, kind) {
  const values = series.values;
  const w = 480, h = 150, left = 30, bottom = 22, top = 8;
  // gridlines at the band limits of Decision 1459 (AQI) or round concentrations
  const limits = kind === "aqi" ? [0, 50, 100, 150, 200, 300, 500] : [0, 25, 50, 100, 200, 300, 500, 1000];
  const highest = Math.max(...values.map((v) => v.value || 0));
  const max = limits.find((t) => t >= Math.max(highest, kind === "aqi" ? 100 : 50)) || highest;
  const step = (w - left - 4) / values.length;
  const scaleY = (h - bottom - top) / max;
  const s = svg("svg", { class: "chart", viewBox: `0 0 ${w} ${h}`, role: "img" });
  for (const tick of limits.filter((t) => t <= max)) {
    const y = h - bottom - tick * scaleY;
    s.append(svg("line", { x1: left, x2: w, y1: y, y2: y, stroke: "#ddd" }));
    const t = svg("text", { x: left - 4, y: y + 4, "text-anchor": "end" });
    t.textContent = String(tick);
    s.append(t);
  }
  values.forEach((v, i) => {
    const x = left + i * step + 1;
    const bw = Math.max(step - 2, 1);
    if (v.value === null || v.value === undefined) {
      s.append(svg("rect", { class: "missing", x, y: h - bottom - 14, width: bw, height: 14,
                             "data-missing": "true" }));
    } else {
      const fill = kind === "aqi" && v.level ? band(v.level).color : "#78909c";
      const bh = Math.max(v.value * scaleY, 1);
      s.append(svg("rect", { x, y: h - bottom - bh, width: bw, height: bh, fill, stroke: "#555",
                             "stroke-width": 0.5, "data-value": v.value }));
    }
    // an hour is named by its end, as Decision 1459 does
    const label = v.hour_local ? v.hour_local.slice(6, 11) : v.day.slice(8, 10) + "/" + v.day.slice(5, 7);
    const every = values.length > 24 ? 6 : 4;
    if (i % every === 0) {
      const t = svg("text", { x: x + bw / 2, y: h - 6, "text-anchor": "middle" });
      t.textContent = label;
      s.append(t);
    }
  });
  return s;
}

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

async function select(stationId, scroll = true) {
  selected = stationId;
  const f = current.features.find((x) => x.properties.station_id === stationId);
  if (!f) return;
  const p = f.properties;
  for (const node of document.querySelectorAll("[data-station]")) {
    const on = node.getAttribute("data-station") === stationId;
    node.classList.toggle("selected", on);
    const card = node.querySelector(".card");
    if (card) { card.classList.toggle("selected", on); card.setAttribute("aria-expanded", String(on)); }
  }
  const detail = document.getElementById("detail");
  detail.hidden = false;
  const close = el("button", { class: "closebtn", type: "button" }, "Đóng");
  close.addEventListener("click", () => { detail.hidden = true; });
  detail.replaceChildren(close, el("h3", {}, p.name),
    el("p", { class: "note" }, `${p.station_type_label} · ${p.kind_label}`));
  if (p.silent) detail.append(el("p", { class: "warn" }, silentText(p)));
  const facts = el("dl");
  const fact = (k, v) => facts.append(el("dt", {}, k), el("dd", {}, v));
  if (p.kind === "aqi" && p.aqi) {
    const b = band(p.aqi.level);
    const box = el("div", { class: "bandbox" }, el("span", { class: "value" }, String(p.aqi.value)),
      el("span", {}, el("span", { class: "band" }, b.name), el("br"), "VN_AQI giờ"));
    box.style.background = b.color;
    box.style.color = b.text_color;
    detail.append(box, el("p", { class: "when" },
      `Giờ ${p.aqi.hour_local} (${age(p.aqi.hour_end)}) · ${p.aqi.data_level_label}`));
    if (p.aqi.stale) detail.append(el("p", { class: "warn" }, "Chỉ số này đã cũ, không phản ánh hiện tại."));
    detail.append(el("div", { class: "advice" },
      el("p", {}, el("strong", {}, "Người bình thường: "), b.advice_general),
      el("p", {}, el("strong", {}, `Nhóm nhạy cảm (${current.sensitive_groups}): `), b.advice_sensitive),
      el("p", { class: "note" }, b.health_effect)));
    fact("Chất ô nhiễm chính", p.aqi.dominant_label || MISSING);
  } else if (p.kind === "aqi") {
    detail.append(el("p", { class: "warn" }, "Không có chỉ số VN_AQI trong 48 giờ qua."));
  } else {
    detail.append(el("p", { class: "info" }, "Trạm này không công bố chỉ số VN_AQI; số liệu dưới đây chỉ để tham khảo."));
    const c = p.concentrations;
    if (c) {
      detail.append(el("p", {}, `Trung bình giờ ${c.hour_local} (${age(c.hour_end)})`));
      const table = el("table", {}, el("tr", {}, el("th", {}, "Chất"), el("th", {}, "Nồng độ")));
      for (const v of c.values) table.append(el("tr", {}, el("th", {}, v.label), el("td", {}, `${number(v.value, 1)} ${v.unit}`)));
      detail.append(table);
    }
  }
  if (p.kind === "aqi" && p.aqi && p.aqi.sub_indices.length) {
    const table = el("table", { class: "subindices" }, el("tr", {}, el("th", {}, "Chất"), el("th", {}, "Chỉ số riêng")));
    for (const s of p.aqi.sub_indices) {
      const dominant = s.pollutant === p.aqi.dominant;
      table.append(el("tr", dominant ? { class: "dominant" } : {},
        el("th", {}, s.label + (dominant ? " (chính)" : "")), el("td", {}, number(s.value))));
    }
    detail.append(table);
  }
  const [lon, lat] = f.geometry.coordinates;
  fact("Vị trí", `${p.place ? p.place + " · " : ""}${lat.toFixed(4)}° B, ${lon.toFixed(4)}° Đ`);
  fact("Nguồn số liệu", `${p.name} (${p.station_id}); ${current.source}`);
  detail.append(facts);
  const charts = el("div", { class: "charts" }, el("p", { class: "note" }, "Đang tải biểu đồ…"));
  detail.append(charts);
  if (scroll) detail.scrollIntoView({ behavior: "smooth", block: "start" });
  try {
    const id = encodeURIComponent(stationId);
    const [hourly, daily] = await Promise.all([
      getJson(`/api/v1/stations/${id}/hourly?hours=24`), getJson(`/api/v1/stations/${id}/daily?days=30`)]);
    if (selected !== stationId) return;
    const what = p.kind === "aqi" ? "VN_AQI" : "PM2.5 (µg/m³, tham khảo)";
    charts.replaceChildren(
      el("h4", {}, `${what} 24 giờ qua`), chart(hourly, p.kind),
      el("h4", {}, `${what} theo ngày, 30 ngày gần nhất`), chart(daily, p.kind),
      el("p", { class: "note" }, "Ô viền nét đứt: không có số liệu (không phải giá trị 0)."));
  } catch (e) {
    charts.replaceChildren(el("p", { class: "warn" }, "Không tải được biểu đồ, xin thử lại sau."));
  }
}

async function load() {
  const status = document.getElementById("status");
  try {
    const [outline, doc] = await Promise.all([getJson("/province.geojson"), getJson("/api/v1/current")]);
    current = doc;
    serverOffsetMs = Date.parse(doc.generated_at) - Date.now();
    document.getElementById("title").textContent = `Chất lượng không khí tỉnh ${doc.province}`;
    document.getElementById("source").textContent = `Nguồn số liệu: ${doc.source}.`;
    renderMap(outline, doc.features);
    renderList(doc.features);
    renderLegend();
    status.textContent = `Cập nhật lúc ${localTime(doc.generated_at)}. Chạm vào một trạm để xem chi tiết.`;
  } catch (e) {
    status.textContent = "Không tải được số liệu. Xin thử lại sau ít phút.";
    status.className = "error";
  }
}

document.addEventListener("DOMContentLoaded", load);
setInterval(() => { if (document.visibilityState === "visible") load().then(() => { if (selected) select(selected, false); }); }, 5 * 60 * 1000);
