// The facilitators' page: plain JavaScript over the same API as every other client.
// Everything the server sends is shown with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let jobId = null;
let poller = null;
let reportUrl = null;

function token() {
  const t = $("token").value.trim();
  sessionStorage.setItem("wopmatch-token", t);
  return t;
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + token() }, options.headers || {});
  return fetch(path, Object.assign({}, options, { headers }));
}

function show(id, visible) { $(id).hidden = !visible; }

function text(id, value) { $(id).textContent = value === null || value === undefined ? "-" : String(value); }

function number(v, digits = 2) {
  return v === null || v === undefined ? "-" : Number(v).toLocaleString("en", { maximumFractionDigits: digits });
}

function showProblems(body, status) {
  show("problems-box", true);
  const list = $("problems");
  list.replaceChildren();
  text("problems-head", (body && body.detail) || ("HTTP " + status));
  for (const p of (body && body.problems) || []) {
    const li = document.createElement("li");
    if (p.where) {
      const code = document.createElement("code");
      code.textContent = p.where;
      li.append(code, ": ");
    }
    li.append(p.message);
    list.append(li);
  }
}

function form() {
  const data = new FormData();
  const file = $("file").files[0];
  if (!file) throw new Error("choose a file first");
  data.append("file", file, file.name);
  return data;
}

async function readJson(r) {
  try { return await r.json(); } catch (e) { return null; }
}

async function validate() {
  reset();
  const r = await api("/v1/validate/upload", { method: "POST", body: form() });
  const body = await readJson(r);
  if (!r.ok) { showProblems(body, r.status); return; }
  show("validated-box", true);
  text("validated", `${body.operators} operators: ${body.mentees} mentees, ${body.mentors} mentors, ` +
       `${body.donors} donors, ${body.pinned} pinned, ${body.forbidden} forbidden pairs.`);
}

async function solve(event) {
  event.preventDefault();
  reset();
  const data = form();
  data.append("policy", $("policy").value);
  if ($("time-limit").value) data.append("time_limit", $("time-limit").value);
  const key = (self.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
  $("solve").disabled = true;
  const r = await api("/v1/jobs/upload", { method: "POST", body: data, headers: { "Idempotency-Key": key } });
  const body = await readJson(r);
  if (!r.ok) {
    $("solve").disabled = false;
    showProblems(body, r.status);
    return;
  }
  jobId = body.id;
  show("job-box", true);
  render(body);
  poller = setInterval(poll, 1000);
}

async function poll() {
  if (!jobId) return;
  const r = await api("/v1/jobs/" + jobId);
  if (!r.ok) return;
  render(await r.json());
}

function render(job) {
  text("job-id", job.id);
  text("state", job.state);
  const p = job.progress || {};
  const ended = ["done", "failed", "cancelled"].includes(job.state);
  text("phase", ended ? "ended" : (p.phase || job.state));
  if (p.best) text("best", `${p.best.matched} matched, coverage ${number(p.best.coverage)}`);
  if (p.bound_coverage !== undefined && p.bound_coverage !== null) text("bound", number(p.bound_coverage));
  text("job-error", job.error || "");
  $("cancel").disabled = ended;
  if (ended) {
    clearInterval(poller);
    poller = null;
    $("solve").disabled = false;
    if (job.summary) showResult(job);
  }
}

async function showResult(job) {
  const s = job.summary;
  show("result-box", true);
  text("fig-status", s.status);
  text("fig-matched", `${s.matched} / ${s.mentees}`);
  text("fig-coverage", number(s.coverage));
  text("fig-quality", number(s.quality, 4));
  text("fig-cost", number(s.cost, 0));
  text("fig-gap", s.gap_coverage === null ? "-" : (100 * s.gap_coverage).toFixed(2) + "%");
  text("fig-method", s.method);
  text("fig-verified", s.verified ? "yes" : "no");
  text("fig-message", s.message || "");
  const r = await api(`/v1/jobs/${job.id}/report`);
  if (r.ok) {
    if (reportUrl) URL.revokeObjectURL(reportUrl);
    reportUrl = URL.createObjectURL(new Blob([await r.text()], { type: "text/html" }));
    $("report").src = reportUrl;
  }
}

async function download(suffix, filename) {
  const r = await api(`/v1/jobs/${jobId}/${suffix}`);
  if (!r.ok) { showProblems(await readJson(r), r.status); return; }
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function cancel() {
  if (!jobId) return;
  $("cancel").disabled = true;
  const r = await api(`/v1/jobs/${jobId}/cancel`, { method: "POST" });
  const body = await readJson(r);
  if (r.ok) render(body);
}

function reset() {
  for (const id of ["problems-box", "validated-box", "result-box"]) show(id, false);
  if (poller) clearInterval(poller);
  poller = null;
}

async function policies() {
  // the choices come from the API's own description, so the page never lists a policy the server lacks
  const r = await fetch("/openapi.json");
  if (!r.ok) return;
  const schema = await r.json();
  const names = (((schema.components || {}).schemas || {}).SolveRequest || {}).properties;
  const choices = names && names.policy && names.policy.enum;
  if (!choices) return;
  const select = $("policy");
  select.replaceChildren();
  for (const name of choices) {
    const o = document.createElement("option");
    o.value = name;
    o.textContent = name;
    select.append(o);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = sessionStorage.getItem("wopmatch-token") || "";
  $("round-form").addEventListener("submit", (e) => solve(e).catch((err) => showProblems({ detail: String(err) })));
  $("validate").addEventListener("click", () => validate().catch((err) => showProblems({ detail: String(err) })));
  $("cancel").addEventListener("click", cancel);
  $("download-json").addEventListener("click", () => download("solution", `wopmatch-${jobId}.json`));
  $("download-xlsx").addEventListener("click", () => download("solution.xlsx", `wopmatch-${jobId}.xlsx`));
  $("download-report").addEventListener("click", () => download("report", `wopmatch-${jobId}-report.html`));
  $("download-plans").addEventListener("click", () => download("plans", `wopmatch-${jobId}-plans.zip`));
  policies();
});
