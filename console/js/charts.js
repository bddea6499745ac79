// Charts drawn as inline SVG, with a text summary for screen readers and a table of the figures.

import { h, table, when } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// NQ points earned (credits) and burned (debits) per UTC day, from ledger entries.
export function pointsPerDay(entries) {
  const days = new Map();
  for (const entry of entries) {
    const day = String(entry.at).slice(0, 10);
    const bucket = days.get(day) || { day, earned: 0, burned: 0 };
    if (entry.nq > 0) bucket.earned += entry.nq;
    if (entry.nq < 0) bucket.burned += -entry.nq;
    days.set(day, bucket);
  }
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}

export function earnedBurnedChart(days, title = "NQ points earned and burned per day") {
  const shown = days.slice(-31);
  if (!shown.length) return h("p", { class: "muted" }, `${title}: no ledger entries yet.`);
  const width = 640, height = 200, left = 44, bottom = 34, top = 10;
  const max = Math.max(1, ...shown.map((d) => Math.max(d.earned, d.burned)));
  const slot = (width - left) / shown.length;
  const bar = Math.max(2, Math.min(18, slot / 2 - 2));
  const y = (value) => top + (height - top - bottom) * (1 - value / max);
  const earnedTotal = shown.reduce((sum, d) => sum + d.earned, 0);
  const burnedTotal = shown.reduce((sum, d) => sum + d.burned, 0);
  const summary = `${title}: ${shown.length} day(s) from ${shown[0].day} to ${shown.at(-1).day}, ${earnedTotal} earned, ${burnedTotal} burned`;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": summary, class: "chart" });
  svg.append(s("line", { x1: left, x2: width, y1: y(0), y2: y(0), stroke: "#57606a" }));
  svg.append(s("text", { x: left - 6, y: y(max) + 4, "text-anchor": "end" }, max));
  svg.append(s("text", { x: left - 6, y: y(0) + 4, "text-anchor": "end" }, 0));
  shown.forEach((d, i) => {
    const x = left + i * slot + slot / 2;
    const earned = s("rect", { class: "bar-earned", x: x - bar - 1, y: y(d.earned), width: bar, height: y(0) - y(d.earned) });
    earned.append(s("title", {}, `${d.day}: ${d.earned} earned`));
    const burned = s("rect", { class: "bar-burned", x: x + 1, y: y(d.burned), width: bar, height: y(0) - y(d.burned) });
    burned.append(s("title", {}, `${d.day}: ${d.burned} burned`));
    svg.append(earned, burned);
    if (shown.length <= 12 || i % Math.ceil(shown.length / 12) === 0) {
      svg.append(s("text", { x, y: height - bottom + 14, "text-anchor": "middle" }, d.day.slice(5)));
    }
  });
  svg.append(s("rect", { class: "bar-earned", x: left, y: height - 12, width: 10, height: 10 }));
  svg.append(s("text", { x: left + 14, y: height - 3 }, "earned"));
  svg.append(s("rect", { class: "bar-burned", x: left + 74, y: height - 12, width: 10, height: 10 }));
  svg.append(s("text", { x: left + 88, y: height - 3 }, "burned"));
  return h(
    "figure",
    { id: "points-chart" },
    svg,
    h("figcaption", {}, summary),
    h(
      "details",
      {},
      h("summary", {}, "Figures"),
      table("Points per day", [
        { label: "Day", value: (d) => d.day },
        { label: "Earned", value: (d) => d.earned, num: true },
        { label: "Burned", value: (d) => d.burned, num: true },
      ], shown),
    ),
  );
}

// Members per tier (and VIP tier) of a program, as its latest reconciliation run counted them.
export function membersPerTierChart(program, counts) {
  const title = `Members per tier of ${program.name}`;
  const id = `tier-counts-${program.program_id}`;
  if (!counts.as_of) {
    return h("p", { class: "muted", id }, `${title}: not counted yet (the program's daily reconciliation run counts them).`);
  }
  const rows = [
    ...counts.tiers.map((t) => ({ label: t.name || (t.rank === null ? "no tier" : `rank ${t.rank}`), members: t.members })),
    ...counts.vip_tiers.map((v) => ({ label: `VIP ${v.name}`, members: v.members })),
  ];
  const width = 640, row = 24, left = 150, right = 60;
  const height = rows.length * row + 8;
  const max = Math.max(1, ...rows.map((r) => r.members));
  const summary = `${title}, as of ${when(counts.as_of)}: ${rows.map((r) => `${r.label} ${r.members}`).join(", ")}`;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": summary, class: "chart" });
  rows.forEach((r, i) => {
    const y = 4 + i * row;
    const length = ((width - left - right) * r.members) / max;
    svg.append(s("text", { x: left - 8, y: y + 15, "text-anchor": "end" }, r.label));
    const bar = s("rect", { class: "bar-earned", x: left, y: y + 3, width: Math.max(1, length), height: row - 8 });
    bar.append(s("title", {}, `${r.label}: ${r.members} member(s)`));
    svg.append(bar, s("text", { x: left + length + 6, y: y + 15 }, r.members));
  });
  return h(
    "figure",
    { id },
    svg,
    h("figcaption", {}, summary),
    h(
      "details",
      {},
      h("summary", {}, "Figures"),
      table(title, [
        { label: "Tier", value: (r) => r.label },
        { label: "Members", value: (r) => r.members, num: true },
      ], rows),
    ),
  );
}
