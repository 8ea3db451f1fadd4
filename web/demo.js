// The demo page of cmd/local: creates jobs with the development endpoints
// and follows them with vprpoll.js, showing every answer as it arrives.
import { pollStatus, fetchResult, VprStatusError } from "/vprpoll.js";

/** What a user should do about each VprStatusError code. */
const advice = {
  unauthorized: "Your session has expired or the sign-in is not valid. Sign in again, then reopen the report.",
  forbidden: "This report belongs to another account. Sign in with the account that created it.",
  not_found: "There is no such report: it may have expired (jobs are kept 10 minutes). Start a new one.",
  gone: "The report's result has been deleted. Regenerate the report.",
  rate_limited: "Too many requests for now. Wait a moment, then try again.",
  unavailable: "The service is busy. Wait a moment, then try again.",
  server: "Something went wrong on our side. Try again later; if it persists, contact support.",
  network: "The service cannot be reached. Check the connection, then try again.",
  timeout: "This is taking longer than expected. Come back to it later.",
};

const $ = (selector) => document.querySelector(selector);

/**
 * Makes an element: h("p", { class: "x" }, "text", child). Text goes in as
 * text, never as HTML: job errors and report fields are user data.
 */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null));
  return el;
}

/** The development endpoints refuse anything but JSON bodies. */
async function postJSON(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error(`${path}: ${res.status} ${[answer.error, answer.message].filter(Boolean).join(": ")}`);
  }
  return answer;
}

/** Tokens by user, minted on demand; after a 401, minted afresh. */
function tokenSource(user) {
  let token;
  return async ({ forceRefresh }) => {
    if (!token || forceRefresh) {
      ({ token } = await postJSON("/_local/token", { sub: user }));
    }
    return token;
  };
}

/** The poll log: one row per request the module makes. */
class PollLog {
  constructor(tbody, activity) {
    this.tbody = tbody;
    this.activity = activity;
    this.reset();
  }

  reset(what = "Nothing running.") {
    this.tbody.replaceChildren();
    this.count = 0;
    this.start = performance.now();
    this.lastAnswer = undefined;
    this.activity.textContent = what;
  }

  /** A fetch for vprpoll that records each request and its answer. */
  fetch() {
    return async (url, init) => {
      const sentAt = performance.now();
      const res = await fetch(url, init);
      await this.record(url, init, res, sentAt);
      return res;
    };
  }

  async record(url, init, res, sentAt) {
    const isStatus = new URL(url, location.href).pathname.startsWith("/api/vpr/status/");
    const header = (name) => res.headers.get(name) ?? "";
    let state = "";
    if (res.status === 304) {
      state = "unchanged";
    } else if (/json/.test(header("Content-Type"))) {
      // A clone: vprpoll reads the body itself.
      const body = await res.clone().json().catch(() => undefined);
      state = !res.ok ? body?.error ?? "" : isStatus ? body?.status ?? "" : "the report";
    } else if (!res.ok) {
      state = (await res.clone().text().catch(() => "")).slice(0, 60);
    }
    const waited = this.lastAnswer === undefined ? undefined : (sentAt - this.lastAnswer) / 1000;
    this.lastAnswer = performance.now();
    const n = ++this.count;
    const at = ((sentAt - this.start) / 1000).toFixed(2);
    this.tbody.append(
      h(
        "tr",
        { dataset: { status: String(res.status) } },
        h("td", {}, String(n)),
        h("td", { class: "num" }, `${at} s`, waited === undefined ? undefined : h("span", { class: "waited" }, ` +${waited.toFixed(2)} s`)),
        h("td", {}, isStatus ? "status" : "result"),
        h("td", {}, h("span", { class: `pill s${String(res.status)[0]}xx` }, String(res.status))),
        h("td", {}, state),
        h("td", { class: "num" }, header("Retry-After") ? `${header("Retry-After")} s` : ""),
        h("td", { class: "mono" }, header("ETag")),
        h("td", { class: "mono" }, header("RateLimit")),
        h("td", { class: "mono" }, header("RateLimit-Policy")),
      ),
    );
    this.activity.textContent = `Request ${n} answered ${res.status}${state ? ` (${state})` : ""}.`;
  }
}

/** Renders what the user would see at the end: the report, the failure, or what to do. */
const outcome = {
  el: $("#outcome"),

  show(kind, ...children) {
    this.el.dataset.outcome = kind;
    this.el.replaceChildren(...children);
  },

  waiting(text) {
    this.show("", h("p", { class: "muted" }, text));
  },

  report(body, report) {
    const usage = body.token_usage;
    this.show(
      "COMPLETED",
      h("p", { class: "banner ok" }, h("strong", {}, "Completed. "), "Here is the report."),
      h(
        "article",
        { class: "report" },
        h("h3", {}, String(report.headline ?? "Value Proposition Report")),
        Array.isArray(report.strengths) && h("ul", {}, report.strengths.map((s) => h("li", {}, String(s)))),
        Array.isArray(report.evidence) &&
          h("dl", {}, report.evidence.flatMap((e) => [h("dt", {}, String(e.claim)), h("dd", {}, String(e.source))])),
      ),
      h(
        "p",
        { class: "hint" },
        usage ? `${usage.input_tokens} input and ${usage.output_tokens} output tokens. ` : "",
        `The result URL was valid until ${new Date(body.result_url_expires_at).toLocaleTimeString()}.`,
      ),
    );
  },

  failed(body) {
    this.show(
      "FAILED",
      h("p", { class: "banner warn" }, h("strong", {}, "The job failed: "), body.error),
      h("p", {}, "Nothing is wrong with the request itself: check the inputs, then generate the report again."),
    );
  },

  error(err) {
    if (err instanceof VprStatusError) {
      this.show(
        `error:${err.code}`,
        h(
          "p",
          { class: "banner bad" },
          h("strong", {}, `${err.status || "No answer"} · ${err.code}. `),
          advice[err.code] ?? advice.server,
        ),
        h("p", { class: "hint" }, err.message),
      );
    } else if (err?.name === "AbortError") {
      this.show("stopped", h("p", { class: "banner" }, "Stopped."));
    } else {
      this.show("error", h("p", { class: "banner bad" }, String(err?.message ?? err)));
    }
  },
};

const log = new PollLog($("#polls tbody"), $("#activity"));
const form = $("#create");
const stop = $("#stop");
let running; // the AbortController of what runs now

/** Runs one scenario at a time: starting another stops the previous one. */
async function exclusive(title, fn) {
  running?.abort();
  const ctl = new AbortController();
  running = ctl;
  stop.disabled = false;
  document.body.dataset.busy = "true";
  log.reset(title);
  outcome.waiting(title);
  try {
    await fn(ctl.signal);
  } catch (err) {
    if (running === ctl) outcome.error(err);
  } finally {
    if (running === ctl) {
      running = undefined;
      stop.disabled = true;
      delete document.body.dataset.busy;
    }
  }
}

/** Polls jobId to its end and shows the outcome, fetching the report if there is one. */
async function follow(jobId, getToken, signal) {
  const body = await pollStatus(jobId, {
    getToken,
    signal,
    fetch: log.fetch(),
    maxWaitMs: 10 * 60 * 1000,
    onUpdate: (b) => outcome.waiting(`Job ${b.status.toLowerCase()}…`),
  });
  if (body.status === "FAILED") {
    outcome.failed(body);
    return body;
  }
  outcome.report(body, await fetchResult(body, { getToken, signal, fetch: log.fetch() }));
  return body;
}

function createJob(user, outcomeName, pendingFor, processingFor, error) {
  return postJSON("/_local/jobs", {
    user_id: user,
    outcome: outcomeName,
    pending_for: pendingFor,
    processing_for: processingFor,
    ...(error && { error }),
  });
}

const field = (name) => form.elements.namedItem(name);
const user = () => field("user").value.trim();

form.addEventListener("change", () => {
  $("#error-field").hidden = field("outcome").value !== "FAILED";
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!form.reportValidity()) return;
  const outcomeName = field("outcome").value;
  exclusive(`Creating a job that will be ${outcomeName}…`, async (signal) => {
    const getToken = tokenSource(user());
    const { job_id } = await createJob(user(), outcomeName, field("pending_for").value, field("processing_for").value, field("error").value.trim());
    log.activity.textContent = `Job ${job_id} created; polling.`;
    await follow(job_id, getToken, signal);
  });
});

stop.addEventListener("click", () => running?.abort());

/** The refusals, each made as a frontend would meet it. */
const scenarios = {
  not_found: (signal) => follow(crypto.randomUUID(), tokenSource(user()), signal),
  forbidden: async (signal) => {
    const { job_id } = await createJob(user(), "COMPLETED", "0s", "0s");
    await follow(job_id, tokenSource(`${user()}-other`), signal);
  },
  gone: async (signal) => {
    const getToken = tokenSource(user());
    const { job_id } = await createJob(user(), "COMPLETED", "0s", "0s");
    await pollStatus(job_id, { getToken, signal, fetch: log.fetch() });
    // What the bucket's lifecycle rule does to old results.
    const res = await fetch(`/_local/jobs/${job_id}/result`, { method: "DELETE", signal });
    if (!res.ok) throw new Error(`deleting the result: ${res.status}`);
    await follow(job_id, getToken, signal);
  },
  unauthorized: (signal) => follow(crypto.randomUUID(), () => "not-a-valid-token", signal),
};

for (const button of document.querySelectorAll("[data-scenario]")) {
  button.addEventListener("click", () => {
    const name = button.dataset.scenario;
    exclusive(`${button.textContent.trim()}…`, (signal) => scenarios[name](signal));
  });
}
