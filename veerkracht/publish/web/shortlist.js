// The shortlist page: shortlist_<year>.json (rows per level), built from text nodes only (names
// come from CBS and users' files).
const COLUMNS = [
  ["position", "#"], ["name", "Gebied"], ["gemeente_name", "Gemeente"], ["inwoners", "Inwoners"],
  ["score", "Kwetsbaarheid"], ["interval", "Rang-interval"], ["p_top10", "Kans top-10%"],
  ["themes_top", "Thema's top-10%"], ["bewoners", "Kwetsbare bewoners"], ["top_indicator", "Vooral door"],
  ["status", "Status"],
];
const state = { lists: {}, year: null };

function cell(row, key) {
  if (key === "interval") return row.rank_p05 === null ? "–" : `${row.rank_p05.toFixed(2)} – ${row.rank_p95.toFixed(2)}`;
  if (key === "bewoners") {
    if (row.kwetsbare_bewoners === null) return "–";
    const nl = (v) => Number(v).toLocaleString("nl-NL");
    return `≈ ${nl(row.kwetsbare_bewoners)} (${nl(row.kwetsbare_bewoners_p05)}–${nl(row.kwetsbare_bewoners_p95)}) ${row.estimate_kind}`;
  }
  if (key === "p_top10") return row.p_top10 === null ? "–" : `${Math.round(row.p_top10 * 100)}%`;
  if (key === "score") return row.score.toFixed(3);
  const v = row[key];
  return v === null || v === undefined ? "–" : String(v);
}

function render() {
  const level = document.getElementById("level").value;
  const rows = state.lists[level] || [];
  const head = document.querySelector("#list thead");
  const body = document.querySelector("#list tbody");
  head.replaceChildren();
  body.replaceChildren();
  const tr = head.insertRow();
  for (const [, title] of COLUMNS) { const th = document.createElement("th"); th.textContent = title; tr.appendChild(th); }
  for (const row of rows) {
    const r = body.insertRow();
    if (row.status !== "top_decile") r.className = "uncertain";
    for (const [key] of COLUMNS) r.insertCell().textContent = cell(row, key);
  }
  const top = rows.filter(r => r.status.startsWith("top_decile")).length;
  const stacked = rows.filter(r => r.status.startsWith("top_decile") && r.themes_top >= 2).length;
  const unsure = rows.filter(r => r.status !== "top_decile").length;
  const inTop = rows.filter(r => r.status.startsWith("top_decile") && r.kwetsbare_bewoners !== null);
  const held = inTop.reduce((s, r) => s + r.kwetsbare_bewoners, 0);
  document.getElementById("summary").textContent =
    `${top} ${level}en in de top-10%, waarvan ${stacked} met gestapelde achterstand; ${unsure} gemarkeerd als onzeker of net eronder. ` +
    `De top-10%-${level}en tellen samen ~${held.toLocaleString("nl-NL")} kwetsbare bewoners (${inTop.length} met een schatting).`;
}

function loadYear(year) {
  state.year = year;
  fetch(`shortlist_${year}.json`).then(r => r.json()).then(lists => {
    state.lists = lists;
    const select = document.getElementById("level");
    const keep = select.value;
    select.replaceChildren(...Object.keys(lists).map(l => new Option(l)));
    if (Object.keys(lists).includes(keep)) select.value = keep;
    render();
  });
}

document.getElementById("level").addEventListener("change", render);
document.getElementById("year").addEventListener("change", (e) => loadYear(e.target.value));
fetch("years.json").then(r => r.json()).then(years => {
  document.getElementById("year").replaceChildren(...years.map(y => new Option(String(y))));
  loadYear(years[0]);
});
