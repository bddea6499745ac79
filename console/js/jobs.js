// Scheduled jobs (`GET /v1/programs/{id}/jobs`): a program's runs newest first, filtered by
// job, each opened with the progress of its member shards (`GET …/jobs/{run_id}`).

import { allPrograms, get, segment } from "./api.js";
import { clearError, closeOnEscape, definitions, explain, focusBack, h, pagedTable, replace, say, showError, table, when } from "./dom.js";

const $ = (id) => document.getElementById(id);
const STALE = Object.assign(new Error("a newer list"), { stale: true });
const PAGE = 50;
const WHAT = "read the scheduled jobs";

// The answer asked for last is the one shown: an older one (or one arriving after the operator
// left the section, or signed out) is dropped. `listing` counts the lists, `opening` the runs.
let listing = 0;
let opening = 0;
const visible = () => !$("jobs").hidden && !$("app").hidden;
const currentList = (mine) => mine === listing && visible();
const currentRun = (mine) => mine === opening && visible();

const count = (value) => (value === null || value === undefined ? "—" : value);
const tally = (counts) => Object.entries(counts || {}).map(([name, n]) => `${name}: ${n}`).join(", ") || "—";
const SHARD_STATES = { not_started: "not started", running: "running", done: "done" };
// A running run with no checkpoint for 30 minutes is `stalled` (the API says so): its shards'
// messages keep failing, or wait in the jobs dead-letter queue for a redrive.
const runState = (r) => (r.stalled ? `stalled since ${when(r.progress_at)}` : r.state);

export function setupJobs() {
  $("jobs-form").addEventListener("submit", (event) => {
    event.preventDefault();
    listRuns({ focus: true });
  });
}

// Entering the section: the group's programs in the picker (the one picked kept), then its runs.
export async function loadJobs() {
  const mine = ++listing;
  opening++;
  clearError();
  replace($("job-run-view"));
  const picker = $("jobs-program");
  const picked = picker.value;
  let programs;
  try {
    programs = await allPrograms();
  } catch (error) {
    if (!currentList(mine)) return;
    showError("Scheduled jobs", explain(error, WHAT));
    return;
  }
  if (!currentList(mine)) return;
  replace(picker, programs.map((p) => h("option", { value: p.program_id }, `${p.name} (${p.program_id})`)));
  if (programs.some((p) => p.program_id === picked)) picker.value = picked;
  if (!programs.length) {
    replace($("job-runs"), h("p", { class: "muted" }, "No program yet: a program's jobs run once it exists."));
    return;
  }
  await listRuns({ mine });
}

async function listRuns({ focus = false, mine = ++listing } = {}) {
  opening++; // a run opened from the list before is not this list's
  clearError();
  replace($("job-run-view"));
  const view = $("job-runs");
  const programId = $("jobs-program").value;
  if (!programId) return;
  const job = $("jobs-job").value;
  const name = $("jobs-program").selectedOptions[0]?.textContent || programId;
  replace(view, h("p", { class: "muted" }, "Loading the runs…"));
  try {
    await pagedTable(view, `Runs of ${name}${job ? `, ${job} only` : ""} (newest first)`, [
      { label: "Scheduled", value: (r) => when(r.scheduled_at) },
      { label: "Job", value: (r) => r.job },
      { label: "State", value: runState },
      { label: "Started", value: (r) => when(r.started_at) },
      { label: "Completed", value: (r) => when(r.completed_at) },
      { label: "Members", value: (r) => count(r.members), num: true },
      { label: "Changed", value: (r) => count(r.changed), num: true },
      { label: "Drift", value: (r) => count(r.drift), num: true },
      { label: "Shards", value: (r) => openButton(programId, r) },
    ], "no run yet.", "runs", async (cursor) => {
      const page = await get(`/v1/programs/${segment(programId)}/jobs`, { job, limit: PAGE, cursor });
      if (!currentList(mine)) throw STALE;
      return { rows: page.runs, next: page.next_cursor };
    });
    say(`${view.querySelectorAll("tbody tr").length} run(s) shown.`);
    if (focus) {
      const landing = view.querySelector("table") || view.firstElementChild; // the table, or the line saying there is none
      landing.setAttribute("tabindex", "-1");
      landing.focus();
    }
  } catch (error) {
    if (error.stale || !currentList(mine)) return;
    replace(view);
    showError("Scheduled jobs", explain(error, WHAT));
  }
}

function openButton(programId, run) {
  const label = `Open the ${run.job} run of ${when(run.scheduled_at)}`;
  return h("button", { type: "button", "aria-label": label, onclick: (event) => openRun(programId, run.run_id, event.currentTarget) }, "Open");
}

async function openRun(programId, runId, opener) {
  const mine = ++opening;
  clearError();
  const view = $("job-run-view");
  replace(view, h("p", { class: "muted" }, "Loading the run…"));
  let run;
  try {
    run = await get(`/v1/programs/${segment(programId)}/jobs/${segment(runId)}`);
  } catch (error) {
    if (!currentRun(mine)) return;
    replace(view);
    const said = error.code === "run_not_found" ? { ...error, message: `The run ${runId} was not found.` } : error;
    showError("Scheduled run", explain(said, WHAT));
    return;
  }
  if (!currentRun(mine)) return;
  const title = `${run.job} run of ${when(run.scheduled_at)}`;
  const heading = h("h3", { tabindex: "-1" }, title);
  const done = run.shard_progress.filter((s) => s.state === "done").length;
  replace(
    view,
    heading,
    definitions([
      ["Run id", run.run_id],
      ["State", run.state === "completed" ? "completed" : `${runState(run)}: ${done} of ${run.shards} shards done`],
      ...(run.stalled
        ? [["Why", "No shard has moved on for 30 minutes: their messages keep failing, or wait in the jobs dead-letter queue (redrive it: each shard resumes from its last checkpoint)."]]
        : []),
      ["Scheduled", when(run.scheduled_at)],
      ["Started", when(run.started_at)],
      ["Completed", when(run.completed_at)],
      ["Members read", count(run.members)],
      ["Members changed", count(run.changed)],
      ["Balance drift", count(run.drift)],
      ["Writes retried", count(run.retried)],
      ...(run.job === "reconcile" && run.state === "completed"
        ? [["Members per tier rank", tally(run.tiers)], ["Members per VIP tier", tally(run.vip_tiers)]]
        : []),
    ]),
    table(`Shards of the ${title}`, [
      { label: "Shard", value: (s) => s.shard, num: true },
      { label: "State", value: (s) => SHARD_STATES[s.state] || s.state },
      { label: "Pages", value: (s) => s.pages, num: true },
      { label: "Members", value: (s) => s.members, num: true },
      { label: "Changed", value: (s) => s.changed, num: true },
      { label: "Drift", value: (s) => s.drift, num: true },
      { label: "Retried", value: (s) => s.retried, num: true },
      { label: "Last checkpoint", value: (s) => when(s.updated_at) },
    ], run.shard_progress),
  );
  heading.focus();
  say(`Run ${run.run_id} opened.`);
  // Escape in the run closes it, the focus back on its Open button
  closeOnEscape(view, () => {
    opening++;
    replace(view);
    say("");
    focusBack(opener, "jobs-title");
  });
}

// Sign-out: the programs, the runs and the run shown are forgotten (the form is reset with the others).
export function forgetJobs() {
  listing++;
  opening++;
  replace($("jobs-program"));
  replace($("job-runs"));
  replace($("job-run-view"));
}
