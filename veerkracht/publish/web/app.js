// Veerkracht web map: PMTiles vector tiles drawn with MapLibre GL, no network beyond this folder.
const COLOURS = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];  // veerkracht/styles.py
const NO_SCORE = "#d9d9d9";
const LABELS = ["1 – minst kwetsbaar", "2", "3", "4", "5 – meest kwetsbaar"];
const LEVELS = ["gemeente", "wijk", "buurt"];
// Bivariate 3 x 3 (kwetsbaarheid tercile K x druk tercile D), a Stevens-style blue-red scheme:
// grey = low on both, red = kwetsbaar, blue = druk, dark purple = both high.
const BIVARIATE = {
  K1D1: "#e8e8e8", K2D1: "#e4acac", K3D1: "#c85a5a",
  K1D2: "#b0d5df", K2D2: "#ad9ea5", K3D2: "#985356",
  K1D3: "#64acbe", K2D3: "#627f8c", K3D3: "#574249",
};
const state = { level: "buurt", view: "national", year: null, index: [] };
// Circle radius in pixels per sqrt(resident): a gemeente has ~100x a buurt's residents.
const CIRCLE_SCALE = { gemeente: 0.06, wijk: 0.15, buurt: 0.3 };

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
  if (state.view === "bewoners") return "#f2f2f2";  // the circles carry the information
  if (state.view === "bivariate") {
    return ["match", ["coalesce", ["get", "bivariate_class"], ""], ...Object.entries(BIVARIATE).flat(), NO_SCORE];
  }
  if (state.view === "gemeente" && state.level !== "gemeente") {
    return ["case", ["==", ["get", "score_within_gemeente"], null], NO_SCORE,
      ["step", ["get", "score_within_gemeente"], COLOURS[0], 0.2, COLOURS[1], 0.4, COLOURS[2], 0.6, COLOURS[3], 0.8, COLOURS[4]]];
  }
  return ["match", ["coalesce", ["get", "score_class"], 0], 1, COLOURS[0], 2, COLOURS[1], 3, COLOURS[2], 4, COLOURS[3], 5, COLOURS[4], NO_SCORE];
}

function fillOpacity() {
  // Uncertain areas (the Monte Carlo rank interval crosses a class boundary) are drawn paler.
  return ["case", ["==", ["get", "uncertain"], true], 0.5, 0.92];
}

function loadYear(year) {
  state.year = year;
  for (const level of LEVELS) {
    for (const id of [`${level}-fill`, `${level}-line`, `${level}-bewoners`]) if (map.getLayer(id)) map.removeLayer(id);
  }
  if (map.getSource("vk")) map.removeSource("vk");
  map.addSource("vk", { type: "vector", url: `pmtiles://veerkracht_${year}.pmtiles`,
                        attribution: "Bron: CBS, Kadaster/PDOK (CC BY 4.0)" });
  for (const level of LEVELS) {
    map.addLayer({ id: `${level}-fill`, type: "fill", source: "vk", "source-layer": level,
                   paint: { "fill-color": fillColour(), "fill-opacity": fillOpacity() } });
    map.addLayer({ id: `${level}-line`, type: "line", source: "vk", "source-layer": level,
                   paint: { "line-color": "#666", "line-width": level === "gemeente" ? 0.8 : 0.25 } });
    // Proportional circles: area ~ estimated vulnerable residents (lower bound).
    map.addLayer({ id: `${level}-bewoners`, type: "circle", source: "vk", "source-layer": `${level}_bewoners`,
                   paint: { "circle-color": "#bd0026", "circle-opacity": 0.55, "circle-stroke-color": "#fff",
                            "circle-stroke-width": 0.5,
                            "circle-radius": ["*", CIRCLE_SCALE[level], ["sqrt", ["get", "kwetsbare_bewoners_min"]]] } });
  }
  fetch(`meta_${year}.json`).then(r => r.json()).then(meta => {
    // A year without buurten (KWB 2021/2022) shows its finest level; a partial year says so.
    const select = document.getElementById("level");
    for (const option of select.options) option.disabled = !meta.levels.includes(option.value);
    if (!meta.levels.includes(state.level)) { state.level = meta.levels[meta.levels.length - 1]; select.value = state.level; }
    document.getElementById("coverage").textContent = meta.coverage === "national"
      ? "" : `Dekking ${year}: ${meta.coverage}`;
    showLevel();
  });
  fetch(`search_${year}.json`).then(r => r.json()).then(items => { state.index = items; });
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
}

function renderLegend() {
  if (state.view === "bewoners") {
    document.getElementById("legend").innerHTML = "<b>Geschat aantal kwetsbare bewoners</b>" +
      '<div class="row">cirkeloppervlak ~ ondergrens (grootste gepubliceerde groep: laag inkomen, sociaal minimum, bijstand, Wmo, jeugdzorg); geen cirkel: niet gepubliceerd</div>';
    return;
  }
  if (state.view === "bivariate") {
    const cell = (k, d) => `<span class="swatch" title="K${k}D${d}" style="background:${BIVARIATE[`K${k}D${d}`]}"></span>`;
    const rows = [3, 2, 1].map((d) => `<div class="row">${[1, 2, 3].map((k) => cell(k, d)).join("")}${d === 3 ? " druk hoog" : d === 1 ? " druk laag" : ""}</div>`);
    document.getElementById("legend").innerHTML = "<b>Kwetsbaarheid × druk (tertielen)</b>" + rows.join("") +
      `<div class="row">kwetsbaarheid laag → hoog</div><div class="row"><span class="swatch" style="background:${NO_SCORE}"></span>geen score</div>`;
    return;
  }
  const title = state.view === "gemeente" && state.level !== "gemeente"
    ? "Rang binnen de eigen gemeente" : "Landelijke klasse (kwintiel)";
  document.getElementById("legend").innerHTML = `<b>${title}</b>` +
    COLOURS.map((c, i) => `<div class="row"><span class="swatch" style="background:${c}"></span>${LABELS[i]}</div>`).join("") +
    `<div class="row"><span class="swatch" style="background:${NO_SCORE}"></span>geen score</div>`;
}

function fmt(v, digits = 2) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits); }

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
    ["Kwetsbare bewoners", p.kwetsbare_bewoners_min === undefined || p.kwetsbare_bewoners_min === null ? "–" : `${p.kwetsbare_bewoners_min} – ${p.kwetsbare_bewoners_max}`],
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
    .setDOMContent(popupNode(features[0].properties))
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
    map.once("idle", () => { window.vk.ready = true; });
  });
});
