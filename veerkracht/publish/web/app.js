// Veerkracht web map: PMTiles vector tiles drawn with MapLibre GL, no network beyond this folder.
// The tiles hold the boundaries (each area's code); a year's numbers come from areas_<year>.json
// and are joined to them as feature state (promoteId "code"): the style reads ["feature-state", …].
// Palette, legend and explanation come from meta_<year>.json (veerkracht/publish/webmap.py
// page_meta: the method spec, the data and veerkracht/publish/styles.py), never from strings here.
const LEVELS = ["gemeente", "wijk", "buurt"];
const state = { level: "buurt", view: "national", year: null, meta: null, index: [], zoomedToPart: false };
const fs = (name) => ["feature-state", name];
const counted = ["==", ["typeof", fs("kwetsbare_bewoners")], "number"];

const protocol = new pmtiles.Protocol();
maplibregl.addProtocol("pmtiles", protocol.tile);

const map = new maplibregl.Map({
  container: "map",
  style: { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#f4f6f8" } }] },
  bounds: [[3.2, 50.7], [7.3, 53.6]],
  attributionControl: { compact: false },
});
map.addControl(new maplibregl.NavigationControl(), "top-right");
window.vk = { map, state, ready: false };

function fillColour() {
  const st = state.meta.style;
  if (state.view === "bewoners") return st.bewoners_fill;  // the circles carry the information
  if (state.view === "bivariate") {
    return ["match", ["coalesce", fs("bivariate_class"), ""], ...Object.entries(st.bivariate).flat(), st.no_score];
  }
  if (state.view === "gemeente" && state.level !== "gemeente") {
    const steps = st.within_breaks.flatMap((b, i) => [b, st.classes[i + 1]]);
    return ["case", ["==", ["typeof", fs("score_within_gemeente")], "number"],
      ["step", fs("score_within_gemeente"), st.classes[0], ...steps], st.no_score];
  }
  const classes = st.classes.flatMap((c, i) => [i + 1, c]);
  return ["match", ["coalesce", fs("score_class"), 0], ...classes, st.no_score];
}

function fillOpacity() {
  // Uncertain areas (the Monte Carlo rank interval crosses a class boundary) are drawn paler.
  return ["case", ["==", fs("uncertain"), true], 0.5, 0.92];
}

function loadYear(year) {
  state.year = year;
  window.vk.ready = false;
  fetch(`search_${year}.json`).then(r => r.json()).then(items => { state.index = items; });
  const get = (name) => fetch(`${name}_${year}.json`).then(r => r.json());
  return Promise.all([get("meta"), get("areas")]).then(([meta, areas]) => {
    state.meta = meta;
    map.setMinZoom(meta.min_zoom);  // the tiles' lowest zoom: below it no tile would draw
    for (const level of LEVELS) {
      for (const id of [`${level}-fill`, `${level}-line`, `${level}-bewoners`]) if (map.getLayer(id)) map.removeLayer(id);
    }
    if (map.getSource("vk")) map.removeSource("vk");  // and with it the previous year's feature state
    map.addSource("vk", { type: "vector", url: `pmtiles://${areas.tiles}`, promoteId: "code",
                          attribution: "Bron: CBS, Kadaster/PDOK (CC BY 4.0)" });
    // The year's numbers, on the polygon and on the point of every area.
    for (const [level, table] of Object.entries(areas.levels)) {
      const code = table.fields.indexOf("code");
      for (const row of table.rows) {
        const values = Object.fromEntries(table.fields.map((f, i) => [f, row[i]]));
        map.setFeatureState({ source: "vk", sourceLayer: level, id: row[code] }, values);
        map.setFeatureState({ source: "vk", sourceLayer: `${level}_points`, id: row[code] }, values);
      }
    }
    for (const level of LEVELS) {
      map.addLayer({ id: `${level}-fill`, type: "fill", source: "vk", "source-layer": level,
                     paint: { "fill-color": fillColour(), "fill-opacity": fillOpacity() } });
      map.addLayer({ id: `${level}-line`, type: "line", source: "vk", "source-layer": level,
                     paint: { "line-color": "#666", "line-width": level === "gemeente" ? 0.8 : 0.25 } });
      // Proportional circles: area ~ estimated vulnerable residents; modelled estimates paler;
      // none (opacity 0) where the year has no count.
      map.addLayer({ id: `${level}-bewoners`, type: "circle", source: "vk", "source-layer": `${level}_points`,
                     paint: { "circle-color": "#bd0026", "circle-stroke-color": "#fff",
                              "circle-stroke-width": ["case", counted, 0.5, 0],
                              "circle-opacity": ["case", counted, ["match", fs("estimate_kind"), "modelled", meta.style.modelled_opacity, meta.style.counted_opacity], 0],
                              "circle-radius": ["case", counted, ["*", meta.style.circle_scale[level], ["sqrt", fs("kwetsbare_bewoners")]], 0] } });
    }
    // A year without buurten (KWB 2021/2022) shows its finest level; a partial year says so.
    const select = document.getElementById("level");
    for (const option of select.options) option.disabled = !meta.levels.includes(option.value);
    if (!meta.levels.includes(state.level)) { state.level = meta.levels[meta.levels.length - 1]; select.value = state.level; }
    document.getElementById("coverage").textContent = meta.coverage === "national"
      ? "" : `Dekking ${year}: ${meta.coverage}`;
    // A partial year (Utrecht 2023) zooms to where its areas are; the next national year zooms out.
    if (meta.coverage !== "national" || state.zoomedToPart) {
      const b = meta.bounds;
      map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 40, duration: 0 });
      state.zoomedToPart = meta.coverage !== "national";
    }
    showLevel();
    map.once("idle", () => { window.vk.ready = true; window.vk.shownYear = Number(year); });
  });
}

function showLevel() {
  for (const level of LEVELS) {
    const visible = level === state.level ? "visible" : "none";
    map.setLayoutProperty(`${level}-fill`, "visibility", visible);
    map.setLayoutProperty(`${level}-line`, "visibility", level === state.level || level === "gemeente" ? "visible" : "none");
    map.setPaintProperty(`${level}-fill`, "fill-color", fillColour());
    map.setLayoutProperty(`${level}-bewoners`, "visibility",
                          state.view === "bewoners" && level === state.level ? "visible" : "none");
  }
  renderLegend();
  renderMethod();
}

// Elements built from text nodes: titles come from the spec file, which users write.
function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function swatchRow(colour, label) {
  const row = el("div", undefined, { class: "row" });
  row.append(el("span", undefined, { class: "swatch", style: `background:${colour}` }), document.createTextNode(label));
  return row;
}

function renderLegend() {
  const st = state.meta.style;
  const legend = document.getElementById("legend");
  if (state.view === "bewoners") {
    const a = state.meta.areas[state.level];
    const kinds = a.counted_by_kind || {};
    const n = (k) => (kinds[k] || 0).toLocaleString("nl-NL");
    legend.replaceChildren(el("b", "Geschat aantal kwetsbare bewoners"),
      el("div", `cirkeloppervlak ~ ${state.meta.bewoners.definition}; ` +
        `${a.counted.toLocaleString("nl-NL")} van ${a.drawn.toLocaleString("nl-NL")} ${state.level === "gemeente" ? "gemeenten" : state.level + "en"} ` +
        `in ${state.year}: ${n("published")} gepubliceerd, ${n("carried")} overgenomen uit een eerder jaar, ` +
        `${n("modelled")} gemodelleerd (lichter); geen cirkel: minder dan ${state.meta.bewoners.min_inhabitants} inwoners of geen bron`, { class: "row" }));
    return;
  }
  if (state.view === "bivariate") {
    const rows = [3, 2, 1].map((d) => {
      const row = el("div", undefined, { class: "row" });
      for (const k of [1, 2, 3]) row.append(el("span", undefined, { class: "swatch", title: `K${k}D${d}`, style: `background:${st.bivariate[`K${k}D${d}`]}` }));
      row.append(document.createTextNode(d === 3 ? " druk hoog" : d === 1 ? " druk laag" : ""));
      return row;
    });
    legend.replaceChildren(el("b", "Kwetsbaarheid × druk (tertielen)"), ...rows,
      el("div", "kwetsbaarheid laag → hoog", { class: "row" }), swatchRow(st.no_score, "geen score"));
    return;
  }
  const within = state.view === "gemeente" && state.level !== "gemeente";
  const labels = within
    ? st.classes.map((_, i) => `${i === 0 ? "0" : st.within_breaks[i - 1]} – ${i === st.classes.length - 1 ? "1" : st.within_breaks[i]}`)
    : st.class_labels;
  legend.replaceChildren(el("b", within ? "Rang binnen de eigen gemeente" : "Landelijke klasse (kwintiel)"),
    ...st.classes.map((c, i) => swatchRow(c, labels[i])), swatchRow(st.no_score, "geen score"));
}

// What the scores mean, from the spec that made them (its axes, themes and indicators) and
// from the data (how many boundaries are approximate).
function renderMethod() {
  const m = state.meta.method;
  const themes = [];
  for (const axis of m.axes) {
    themes.push(el("b", axis.title));
    const list = el("ul");
    for (const theme of axis.themes) list.append(el("li", `${theme.title}: ${theme.indicators.join("; ")}`));
    themes.push(list);
  }
  themes.push(el("p", `Methode ${m.label} (${m.spec_hash}), docs/methodology.md.`));
  document.getElementById("method").replaceChildren(...themes);
  const notes = [el("p", `Score = landelijke percentielrang (0 = minst, 1 = meest kwetsbaar). Lichter = onzeker: ` +
    `over ${m.runs.toLocaleString("nl-NL")} varianten van de methode valt het 5–95%-rang-interval in meer dan één klasse. ` +
    "Grijs = geen score (reden in de popup).")];
  const a = state.meta.areas[state.level];
  if (a && a.approximate) {
    notes.push(el("p", `${a.approximate.toLocaleString("nl-NL")} van ${a.drawn.toLocaleString("nl-NL")} grenzen op dit niveau zijn benaderd (reconstructie; zie de popup).`));
  }
  document.getElementById("notes").replaceChildren(...notes);
}

function fmt(v, digits = 2) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits); }

// "≈ 1.240 bewoners (950–1.560), gemodelleerd uit cijfers van 2021"
const KIND_TEXT = { published: "gepubliceerd", carried: "overgenomen uit cijfers van", modelled: "gemodelleerd uit cijfers van" };
function bewonersText(p) {
  if (p.kwetsbare_bewoners === undefined || p.kwetsbare_bewoners === null) return "–";
  const nl = (v) => Number(v).toLocaleString("nl-NL");
  const how = p.estimate_kind === "published" ? `gepubliceerd ${p.estimate_vintage}` : `${KIND_TEXT[p.estimate_kind]} ${p.estimate_vintage}`;
  return `≈ ${nl(p.kwetsbare_bewoners)} bewoners (${nl(p.kwetsbare_bewoners_p05)}–${nl(p.kwetsbare_bewoners_p95)}), ${how}`;
}

// The popup is built from text nodes, never from HTML: area names and reasons come from CBS, from
// users' boundary files and from user-supplied criteria, and real names contain "&" (or worse).
function popupRows(p) {
  const rows = [
    ["Code", p.code], ["Gemeente", p.gemeente_name], ["Inwoners", p.inwoners ?? "–"],
    ["Kwetsbaarheid", fmt(p.score)], ["Klasse", p.score_class ?? "–"], ["Druk", fmt(p.druk)],
    ["Bivariaat", p.bivariate_class ?? "–"],
    ["Rang-interval (5–95%)", p.rank_p05 === undefined || p.rank_p05 === null ? "–" : `${fmt(p.rank_p05)} – ${fmt(p.rank_p95)}`],
    ["Kans top-10%", p.p_top10 === undefined || p.p_top10 === null ? "–" : `${Math.round(p.p_top10 * 100)}%`],
    ["Binnen gemeente", fmt(p.score_within_gemeente)],
    ["Boven p90 (SVI)", p.n_flags ?? "–"],
    ["Kwetsbare bewoners", bewonersText(p)],
    ["Verandering", p.change_class ? `${p.change_class} sinds ${p.change_since} (Δ ${fmt(p.d_kwetsbaarheid)})` : "–"],
    ["Vooral door", p.explanation ?? "–"],
  ];
  if (p.score_null_reason && p.score_null_reason !== "null") rows.push(["Geen score", p.score_null_reason]);
  rows.push(["Grens", p.geometry_source]);
  return rows;
}

function popupNode(p) {
  const root = document.createElement("div");
  const name = document.createElement("b");
  name.className = "popup-name";
  name.textContent = p.name ?? "";
  const table = document.createElement("table");
  for (const [k, v] of popupRows(p)) {
    const tr = table.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = v === undefined || v === null ? "–" : String(v);
  }
  root.append(name, table);
  return root;
}

map.on("click", (e) => {
  const features = map.queryRenderedFeatures(e.point, { layers: [`${state.level}-fill`] });
  if (!features.length) return;
  new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(e.lngLat)
    .setDOMContent(popupNode({ ...features[0].properties, ...features[0].state }))
    .addTo(map);
});

map.on("mousemove", (e) => {
  const hit = map.queryRenderedFeatures(e.point, { layers: [`${state.level}-fill`] }).length > 0;
  map.getCanvas().style.cursor = hit ? "pointer" : "";
});

document.getElementById("level").addEventListener("change", (e) => { state.level = e.target.value; showLevel(); });
document.querySelectorAll("input[name=view]").forEach((el) => el.addEventListener("change", (e) => { state.view = e.target.value; showLevel(); }));
document.getElementById("year").addEventListener("change", (e) => loadYear(e.target.value));

document.getElementById("search").addEventListener("input", (e) => {
  const q = e.target.value.trim().toLowerCase();
  const list = document.getElementById("results");
  list.innerHTML = "";
  if (q.length < 2) return;
  const hits = state.index.filter(it => it.n.toLowerCase().includes(q) || it.c.toLowerCase() === q).slice(0, 12);
  for (const it of hits) {
    const li = document.createElement("li");
    li.textContent = `${it.n} (${it.l}${it.l === "gemeente" ? "" : ", " + it.g})`;
    li.onclick = () => {
      state.level = it.l; document.getElementById("level").value = it.l; showLevel();
      map.fitBounds([[it.b[0], it.b[1]], [it.b[2], it.b[3]]], { padding: 60, duration: 0 });
      list.innerHTML = "";
    };
    list.appendChild(li);
  }
});

map.on("load", () => {
  fetch("years.json").then(r => r.json()).then(years => {
    const select = document.getElementById("year");
    select.replaceChildren(...years.map(y => new Option(String(y))));
    loadYear(years[0]);
  });
});
