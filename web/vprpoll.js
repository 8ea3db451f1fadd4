/**
 * vprpoll polls the VPR status API (`GET /api/vpr/status/{job_id}`) from a web
 * page, or from Node 20 or later, the way the service asks to be polled. It
 * has no dependencies and needs no build step.
 *
 * ```js
 * import { pollStatus, fetchResult, VprStatusError } from "/vprpoll.js";
 *
 * const body = await pollStatus(jobId, { getToken, signal, onUpdate: (b) => show(b.status) });
 * if (body.status === "COMPLETED") render(await fetchResult(body, { getToken, signal }));
 * else showFailure(body.error);
 * ```
 *
 * The rules it follows (and every client of the service should):
 *
 * - Waiting. After each answer it waits what the server asks: `Retry-After`
 *   (delay-seconds or an HTTP-date; anything else counts as absent) on 202,
 *   304, 429 and 503, else 2 s for a 202 or 304. The wait is raised to
 *   `minIntervalMs` (1 s), then lengthened by a jitter of 0–10 %, and never
 *   exceeds `maxIntervalMs` (30 s): jitter only lengthens, so a poll never
 *   comes sooner than asked. A 202/304 asking beyond `maxIntervalMs` waits
 *   `maxIntervalMs`. On 429 and 503, `Retry-After` is a hard "not before": if
 *   it is beyond `maxIntervalMs` the poll fails at once (`rate_limited`,
 *   `unavailable`) rather than come early or wait past its bound.
 * - Deadline. `maxWaitMs` is checked before each wait: a wait that would end
 *   after it fails at once with `timeout`. A request still in flight at the
 *   deadline is aborted, and fails with `timeout` too.
 * - Retries. Network errors, 429 and 503 are retried, 4 times in a row at
 *   most (any 2xx or 304 answer resets the count). Without `Retry-After` they
 *   back off 1, 2, 4, then 8 s (capped by `maxIntervalMs`), with the same
 *   jitter. A 401 calls `getToken` once more for a fresh token and repeats
 *   the request at once; a second 401 in a row, or any 401 with a fixed
 *   `token`, fails with `unauthorized`. 403, 404, 410 and other codes are not
 *   retried.
 * - Conditional polling. The last `ETag` is sent back as `If-None-Match`; a
 *   304 has no body and means "unchanged": the last body is kept, and
 *   `onUpdate` is not called.
 * - Results. `fetchResult` fetches `result_url` without the `Authorization`
 *   header (a presigned URL carries its own authorisation). When the URL has
 *   expired, or the storage answers 403, it asks the status once for a fresh
 *   URL and tries once more. A result URL is a bearer secret until it
 *   expires: never log it.
 *
 * @module vprpoll
 */

const defaultMinIntervalMs = 1000;
const defaultMaxIntervalMs = 30000;
/** What the service itself asks between polls of an unfinished job. */
const defaultPollMs = 2000;
/** Retries of consecutive network errors, 429s and 503s (5 attempts). */
const maxRetries = 4;
const backoffBaseMs = 1000;
const jitter = 0.1;
/** setTimeout fires at once for longer delays: reject them up front. */
const maxTimerMs = 2 ** 31 - 1;

/** The codes VprStatusError uses, by HTTP status. */
const codeByStatus = {
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  410: "gone",
  429: "rate_limited",
  503: "unavailable",
};

/** The answer codes and the states a status body may carry with them. */
const statesByCode = {
  200: ["COMPLETED", "FAILED"],
  202: ["PENDING", "PROCESSING"],
};

/**
 * The reason a poll or a result fetch failed.
 *
 * `code` says what to do about it:
 * - `unauthorized` (401): sign in again;
 * - `forbidden` (403): the job is someone else's (or, from `fetchResult`, the
 *   storage still refused a fresh URL);
 * - `not_found` (404): no such job, or it expired;
 * - `gone` (410): the result was deleted: the report must be regenerated;
 * - `rate_limited` (429) and `unavailable` (503): try again after
 *   `retryAfterMs`, when the server said;
 * - `server`: any other answer, or a body that is not what the API sends;
 * - `network`: no answer at all (in a browser, a CORS refusal looks the same);
 * - `timeout`: `maxWaitMs` passed.
 */
export class VprStatusError extends Error {
  /**
   * @param {string} message
   * @param {object} init
   * @param {import("./vprpoll.js").VprStatusErrorCode} init.code
   * @param {number} [init.status] the HTTP status, 0 when there was no answer
   * @param {unknown} [init.body] the parsed problem details, when there were some
   * @param {number} [init.retryAfterMs] what Retry-After asked, when it was sent
   * @param {unknown} [init.cause]
   */
  constructor(message, { code, status = 0, body, retryAfterMs, cause }) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "VprStatusError";
    /** @type {string} */
    this.code = code;
    /** @type {number} */
    this.status = status;
    /** @type {unknown} */
    this.body = body;
    /** @type {number | undefined} */
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Polls job `jobId` until it is COMPLETED or FAILED and resolves with that
 * final body (FAILED is a result, not an error: read `status`).
 *
 * It rejects with a {@link VprStatusError}, with `signal.reason` when the
 * signal aborts, or with what `getToken` or `onUpdate` threw.
 *
 * @param {string} jobId
 * @param {import("./vprpoll.js").PollOptions} [options]
 * @returns {Promise<import("./vprpoll.js").FinalBody>}
 */
export async function pollStatus(jobId, options = {}) {
  const s = settings(options, "pollStatus");
  if (typeof jobId !== "string" || jobId === "") {
    throw new TypeError("pollStatus: jobId must be a non-empty string");
  }
  const run = begin(s);
  try {
    return await poll(s, run, statusURL(s.baseUrl, jobId));
  } finally {
    run.end();
  }
}

/**
 * Fetches and parses the result a COMPLETED body points at. When its
 * `result_url_expires_at` has passed, or the storage answers 403, it asks the
 * status once for a fresh URL (so it needs the same `token` or `getToken`
 * as {@link pollStatus}) and tries once more.
 *
 * @param {import("./vprpoll.js").CompletedBody} body
 * @param {import("./vprpoll.js").ResultOptions} [options]
 * @returns {Promise<unknown>}
 */
export async function fetchResult(body, options = {}) {
  const s = settings(options, "fetchResult");
  if (body?.status !== "COMPLETED" || typeof body.result_url !== "string" || typeof body.job_id !== "string") {
    throw new TypeError("fetchResult: body must be a COMPLETED status body, with job_id and result_url");
  }
  const run = begin(s);
  try {
    let current = body;
    let refreshed = false;
    if (expired(current)) {
      current = await refresh(s, run, current.job_id);
      refreshed = true;
    }
    let res = await getResult(s, run, current.result_url);
    if (res.status === 403 && !refreshed) {
      discard(res);
      current = await refresh(s, run, current.job_id);
      res = await getResult(s, run, current.result_url);
    }
    if (!res.ok) {
      throw await answerError(res, run, "result");
    }
    try {
      return await res.json();
    } catch (err) {
      throw abortReason(run) ?? new VprStatusError("result: the body is not JSON", { code: "server", status: res.status, cause: err });
    }
  } finally {
    run.end();
  }
}

/**
 * Validates options once, so that mistakes fail at the call, not later.
 *
 * @param {import("./vprpoll.js").PollOptions} o
 * @param {string} fn
 */
function settings(o, fn) {
  if (o === null || typeof o !== "object") {
    throw new TypeError(`${fn}: options must be an object`);
  }
  const { token, getToken } = o;
  if ((token === undefined) === (getToken === undefined)) {
    throw new TypeError(`${fn}: give either token or getToken`);
  }
  if (getToken !== undefined && typeof getToken !== "function") {
    throw new TypeError(`${fn}: getToken must be a function`);
  }
  if (token !== undefined) {
    checkToken(token, fn);
  }
  const fetchFn = o.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== "function") {
    throw new TypeError(`${fn}: no fetch: pass options.fetch`);
  }
  if (o.onUpdate !== undefined && typeof o.onUpdate !== "function") {
    throw new TypeError(`${fn}: onUpdate must be a function`);
  }
  const baseUrl = o.baseUrl ?? "";
  if (typeof baseUrl !== "string") {
    throw new TypeError(`${fn}: baseUrl must be a string`);
  }
  const minIntervalMs = duration(o.minIntervalMs, defaultMinIntervalMs, "minIntervalMs", fn);
  const maxIntervalMs = duration(o.maxIntervalMs, defaultMaxIntervalMs, "maxIntervalMs", fn);
  if (minIntervalMs > maxIntervalMs) {
    throw new RangeError(`${fn}: minIntervalMs (${minIntervalMs}) is above maxIntervalMs (${maxIntervalMs})`);
  }
  const maxWaitMs = o.maxWaitMs === undefined ? undefined : duration(o.maxWaitMs, 0, "maxWaitMs", fn);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`${fn}: signal must be an AbortSignal`);
  }
  return {
    baseUrl: baseUrl.replace(/\/+$/, ""),
    // Called as a plain function: window.fetch called as a method of
    // another object throws "Illegal invocation".
    fetch: (url, init) => fetchFn(url, init),
    onUpdate: o.onUpdate,
    signal: o.signal,
    minIntervalMs,
    maxIntervalMs,
    maxWaitMs,
    /**
     * The token for the next request; after a 401, a fresh one.
     *
     * @param {boolean} forceRefresh
     * @param {AbortSignal} signal
     * @returns {Promise<string>}
     */
    async token(forceRefresh, signal) {
      if (getToken === undefined) {
        return token;
      }
      return checkToken(await abortable(getToken({ forceRefresh, signal }), signal), "getToken");
    },
    canRefresh: getToken !== undefined,
  };
}

/** Bearer tokens are RFC 6750 b64token: anything else cannot be a header value. */
function checkToken(token, fn) {
  if (typeof token !== "string" || !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw new TypeError(`${fn}: the token must be a non-empty bearer token string`);
  }
  return token;
}

function duration(v, def, name, fn) {
  if (v === undefined) {
    return def;
  }
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > maxTimerMs) {
    throw new RangeError(`${fn}: ${name} must be a number of milliseconds from 0 to ${maxTimerMs}`);
  }
  return v;
}

function statusURL(baseUrl, jobId) {
  return `${baseUrl}/api/vpr/status/${encodeURIComponent(jobId)}`;
}

/**
 * Starts one call's cancellation: an internal signal that aborts with the
 * caller's reason, or with a timeout error at the deadline. Every request
 * and wait listens to it; end() clears the timer and the listener.
 *
 * @param {ReturnType<typeof settings>} s
 */
function begin(s) {
  s.signal?.throwIfAborted();
  const ctl = new AbortController();
  const forward = () => ctl.abort(s.signal.reason);
  s.signal?.addEventListener("abort", forward, { once: true });
  const deadline = s.maxWaitMs === undefined ? Infinity : Date.now() + s.maxWaitMs;
  const timer =
    s.maxWaitMs === undefined
      ? undefined
      : setTimeout(() => ctl.abort(timeoutError(s.maxWaitMs, "the request was still unanswered")), s.maxWaitMs);
  return {
    signal: ctl.signal,
    /**
     * Waits ms, unless that would end past the deadline.
     *
     * @param {number} ms
     */
    wait(ms) {
      if (Date.now() + ms > deadline) {
        throw timeoutError(s.maxWaitMs, `the next poll was due in ${Math.ceil(ms)} ms`);
      }
      return sleep(ms, ctl.signal);
    },
    end() {
      clearTimeout(timer);
      s.signal?.removeEventListener("abort", forward);
    },
  };
}

function timeoutError(maxWaitMs, why) {
  return new VprStatusError(`gave up after maxWaitMs (${maxWaitMs} ms): ${why}`, { code: "timeout" });
}

/** Resolves after ms, or rejects with signal.reason, clearing its timer. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Settles as p does, or rejects with signal.reason as soon as signal aborts:
 * the caller's own code (getToken, onUpdate) cannot hold an aborted call.
 */
function abortable(p, signal) {
  if (typeof p?.then !== "function") {
    return p;
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) {
      onAbort();
    } else {
      signal.addEventListener("abort", onAbort, { once: true });
    }
    // Subscribed even after an abort: p's rejection must not go unhandled.
    Promise.resolve(p)
      .then(resolve, reject)
      .finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The reason to reject with when a failure came from an abort, else undefined. */
function abortReason(run) {
  return run.signal.aborted ? run.signal.reason : undefined;
}

/**
 * The polling loop of pollStatus.
 *
 * @param {ReturnType<typeof settings>} s
 * @param {ReturnType<typeof begin>} run
 * @param {string} url
 */
async function poll(s, run, url) {
  let etag = null;
  let last = null; // the last body: what a 304 means
  let failures = 0; // consecutive network errors, 429s and 503s
  let refreshed = false; // a fresh token was fetched after a 401
  let forceRefresh = false;
  // Waits are computed in one place so that every rule applies to all.
  const paced = (askMs) => lengthen(Math.min(askMs, s.maxIntervalMs), s);
  const backoff = (n) => paced(backoffBaseMs * 2 ** (n - 1));

  for (;;) {
    const token = await s.token(forceRefresh, run.signal);
    run.signal.throwIfAborted();
    forceRefresh = false;
    const headers = { Authorization: `Bearer ${token}` };
    if (etag) {
      headers["If-None-Match"] = etag;
    }
    let res;
    try {
      res = await s.fetch(url, { headers, signal: run.signal });
    } catch (err) {
      const aborted = abortReason(run);
      if (aborted !== undefined) {
        throw aborted;
      }
      if (++failures > maxRetries) {
        throw networkError(err, failures);
      }
      await run.wait(backoff(failures));
      continue;
    }

    let waitMs;
    switch (res.status) {
      case 200:
      case 202: {
        const body = await statusBody(res, run);
        failures = 0;
        refreshed = false;
        etag = res.status === 202 ? res.headers.get("ETag") : null;
        const changed = body.status !== last?.status;
        last = body;
        if (changed && s.onUpdate) {
          await abortable(s.onUpdate(body, res), run.signal);
          run.signal.throwIfAborted();
        }
        if (res.status === 200) {
          return body;
        }
        waitMs = paced(retryAfterMs(res) ?? defaultPollMs);
        break;
      }
      case 304:
        if (last === null) {
          throw new VprStatusError("304 without an earlier answer to keep", { code: "server", status: 304 });
        }
        failures = 0;
        refreshed = false;
        waitMs = paced(retryAfterMs(res) ?? defaultPollMs);
        break;
      case 401:
        if (s.canRefresh && !refreshed) {
          discard(res);
          refreshed = true;
          forceRefresh = true;
          continue; // at once, with a fresh token
        }
        throw await answerError(res, run, "status");
      case 429:
      case 503: {
        const asked = retryAfterMs(res);
        const err = await answerError(res, run, "status", asked);
        if (asked !== undefined && asked > s.maxIntervalMs) {
          throw err; // not before `asked`, which is past our bound
        }
        if (++failures > maxRetries) {
          throw err;
        }
        waitMs = asked === undefined ? backoff(failures) : lengthen(asked, s);
        break;
      }
      default:
        throw await answerError(res, run, "status");
    }
    await run.wait(waitMs);
  }
}

/**
 * The server's ask, raised to minIntervalMs, lengthened by 0–10 % jitter,
 * but not past maxIntervalMs (callers never ask beyond it).
 */
function lengthen(askMs, s) {
  const base = Math.max(askMs, s.minIntervalMs);
  return Math.min(base * (1 + Math.random() * jitter), Math.max(base, s.maxIntervalMs));
}

function networkError(err, attempts) {
  const why = err instanceof Error ? err.message : String(err);
  return new VprStatusError(`no answer after ${attempts} attempts (network error, or a CORS refusal): ${why}`, {
    code: "network",
    cause: err,
  });
}

/**
 * Reads and checks a 200 or 202 status body: JSON whose status agrees with
 * the answer's code.
 */
async function statusBody(res, run) {
  let body;
  try {
    body = await res.json();
  } catch (err) {
    throw abortReason(run) ?? new VprStatusError(`status: ${res.status} with a body that is not JSON`, { code: "server", status: res.status, cause: err });
  }
  const ok =
    body !== null &&
    typeof body === "object" &&
    typeof body.job_id === "string" &&
    statesByCode[res.status].includes(body.status) &&
    (body.status !== "COMPLETED" || typeof body.result_url === "string");
  if (!ok) {
    throw new VprStatusError(`status: ${res.status} with an unexpected body`, { code: "server", status: res.status, body });
  }
  return body;
}

/**
 * The error for an answer that is not a success, with its problem details
 * when it has some.
 *
 * @param {Response} res
 * @param {{signal: AbortSignal}} run
 * @param {string} what "status" or "result"
 * @param {number} [retryAfter] ms, when the answer asked
 */
async function answerError(res, run, what, retryAfter) {
  let body;
  if (/json/i.test(res.headers.get("Content-Type") ?? "")) {
    try {
      body = await res.json();
    } catch {
      run.signal.throwIfAborted();
      body = undefined; // the code says enough
    }
  } else {
    discard(res);
  }
  const detail = [body?.error, body?.message].filter((v) => typeof v === "string").join(": ");
  return new VprStatusError(`${what}: ${res.status}${detail ? ` ${detail}` : res.statusText ? ` ${res.statusText}` : ""}`, {
    code: codeByStatus[res.status] ?? "server",
    status: res.status,
    body,
    retryAfterMs: retryAfter,
  });
}

/** Lets go of a body we will not read, so the connection can be reused. */
function discard(res) {
  res.body?.cancel().catch(() => {});
}

/**
 * Retry-After in milliseconds, or undefined when absent or malformed.
 *
 * @param {Response} res
 */
function retryAfterMs(res) {
  const v = res.headers.get("Retry-After")?.trim();
  if (!v) {
    return undefined;
  }
  if (/^\d+$/.test(v)) {
    return Number(v) * 1000;
  }
  const at = httpDate(v);
  return at === undefined ? undefined : Math.max(0, at - Date.now());
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const day = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const month = `(${months.join("|")})`;
const clock = "(\\d{2}):(\\d{2}):(\\d{2})";
// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms
// a recipient must also accept.
const imfFixdate = new RegExp(`^${day}, (\\d{2}) ${month} (\\d{4}) ${clock} GMT$`);
const rfc850 = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${month}-(\\d{2}) ${clock} GMT$`);
const asctime = new RegExp(`^${day} ${month} ( \\d|\\d{2}) ${clock} (\\d{4})$`);

/** An HTTP-date as epoch milliseconds, or undefined. */
function httpDate(v) {
  let d, mon, y, h, m, s;
  let match;
  if ((match = imfFixdate.exec(v))) {
    [, d, mon, y, h, m, s] = match;
  } else if ((match = rfc850.exec(v))) {
    [, d, mon, y, h, m, s] = match;
    y = Number(y) + (Number(y) < 69 ? 2000 : 1900); // as Go's http.ParseTime
  } else if ((match = asctime.exec(v))) {
    [, mon, d, h, m, s, y] = match;
  } else {
    return undefined;
  }
  const fields = [Number(y), months.indexOf(mon), Number(d), Number(h), Number(m), Number(s)];
  const t = new Date(Date.UTC(fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]));
  // Date.UTC rolls 31 Feb over into March: refuse what does not round-trip.
  const back = [t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()];
  return back.every((f, i) => f === fields[i]) ? t.getTime() : undefined;
}

function expired(body) {
  const at = Date.parse(body.result_url_expires_at);
  return !Number.isNaN(at) && at <= Date.now();
}

/**
 * One status request for a fresh result URL of a completed job; a 401 gets
 * one fresh token, as in pollStatus.
 */
async function refresh(s, run, jobId) {
  const url = statusURL(s.baseUrl, jobId);
  for (let attempt = 0; ; attempt++) {
    const token = await s.token(attempt > 0, run.signal);
    run.signal.throwIfAborted();
    let res;
    try {
      res = await s.fetch(url, { headers: { Authorization: `Bearer ${token}` }, signal: run.signal });
    } catch (err) {
      throw abortReason(run) ?? networkError(err, 1);
    }
    if (res.status === 401 && s.canRefresh && attempt === 0) {
      discard(res);
      continue;
    }
    if (res.status === 200) {
      const body = await statusBody(res, run);
      if (body.status === "COMPLETED") {
        return body;
      }
      throw new VprStatusError(`status: the job is ${body.status} now, not COMPLETED`, { code: "server", status: 200, body });
    }
    if (res.status === 202) {
      discard(res);
      throw new VprStatusError("status: 202 for a completed job", { code: "server", status: 202 });
    }
    throw await answerError(res, run, "status", retryAfterMs(res));
  }
}

/** GETs a result URL: no Authorization (it carries its own), no cookies, not cached. */
async function getResult(s, run, url) {
  try {
    return await s.fetch(url, { signal: run.signal, credentials: "omit", cache: "no-store" });
  } catch (err) {
    throw abortReason(run) ?? networkError(err, 1);
  }
}
