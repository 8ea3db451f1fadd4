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
 * Every answer is untrusted input (a proxy gone wrong, a wrong `baseUrl`, a
 * compromised host), as in the Go client (package client):
 *
 * - No token on redirects. The API never redirects a poll, so a status
 *   request is never redirected (it is made with `redirect: "manual"`): a
 *   3xx (but 304), or a browser's opaque redirect, is a `server` error that
 *   names its `Location` when it can be read (without its query), and no
 *   second request is made. Result fetches carry no token, and follow
 *   redirects.
 * - Bounded bodies. Bodies are read through `res.body` with a byte limit:
 *   64 KiB for status and error bodies, `maxResultBytes` (32 MiB) for a
 *   result, counted after decompression; a `Content-Length` over the limit
 *   is refused before reading, and the stream is cancelled at the limit. The
 *   status code counts first: a 401 or 503 whose body is over the limit is
 *   still a 401 (`unauthorized`, after the one fresh token) or a 503
 *   (retried), its body left out. Only a 200 or 202 status body over the
 *   limit (`server`), or a result over `maxResultBytes` (`server`, "result:
 *   …"), is an error.
 * - Bounded time. Each request the module makes, status or result, must be
 *   answered, headers and whole body, within `requestTimeoutMs` (30 s, as
 *   the Go client's default). Expiry counts as a network failure and is
 *   retried like one (`network` once the retries are spent; `fetchResult`
 *   does not retry). Aborting `signal` still rejects with its reason, and
 *   `maxWaitMs` with `timeout`.
 * - Answers that agree. A 200 or 202 body must be a JSON object for the job
 *   asked for (`job_id` equal to the id, letter case aside: a UUID's hex
 *   digits), with a state that agrees with the code: PENDING or PROCESSING
 *   on a 202, COMPLETED or FAILED on a 200. A FAILED body's `error` must be
 *   a string. A COMPLETED body's `result_url` must be an absolute `https:`
 *   URL (`http:` too when `baseUrl`, or the page, is `http:`, for local
 *   development), without credentials, with a valid port. Anything else is
 *   a `server` error, not retried.
 * - No secrets in errors. No error message, and no `cause` error the module
 *   attaches, holds a URL's query (where a presigned URL's signature is) or
 *   credentials: causes are copies with those cut (Node's `fetch` puts the
 *   whole URL in its TypeError). An error's `body` has `result_url` cut to
 *   its origin and path.
 * - Server-controlled text (a FAILED job's `error`, problem details) is
 *   passed on as received: show it as text (`textContent`), never as HTML,
 *   and escape control characters before it reaches a terminal, as
 *   cmd/vprpoll does.
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
/** The bound of status and error bodies; the service's are under 2 KiB. */
const maxStatusBytes = 64 * 1024;
const defaultMaxResultBytes = 32 * 1024 * 1024;
const defaultRequestTimeoutMs = 30000;

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
const states = [...statesByCode[200], ...statesByCode[202]];

const utf8 = new TextDecoder();

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
 * - `network`: no complete answer (in a browser, a CORS refusal looks the
 *   same), `requestTimeoutMs` included;
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
    return await poll(s, run, jobId);
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
  const unusable = resultURLProblem(body.result_url, s.baseProtocol);
  if (unusable) {
    throw new VprStatusError(`result: an unusable result_url (${unusable})`, { code: "server" });
  }
  const run = begin(s);
  try {
    let current = body;
    let refreshed = false;
    if (expired(current)) {
      current = await refresh(s, run, current.job_id);
      refreshed = true;
    }
    let a = await getResult(s, run, current.result_url);
    if (a.res.status === 403 && !refreshed) {
      current = await refresh(s, run, current.job_id);
      a = await getResult(s, run, current.result_url);
    }
    if (!a.res.ok) {
      throw answerError(a, "result");
    }
    return a.value;
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
  const requestTimeoutMs = duration(o.requestTimeoutMs, defaultRequestTimeoutMs, "requestTimeoutMs", fn);
  if (requestTimeoutMs === 0) {
    throw new RangeError(`${fn}: requestTimeoutMs must be above 0`);
  }
  const maxResultBytes = o.maxResultBytes ?? defaultMaxResultBytes;
  if (!Number.isSafeInteger(maxResultBytes) || maxResultBytes < 1) {
    throw new RangeError(`${fn}: maxResultBytes must be a whole number of bytes, at least 1`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`${fn}: signal must be an AbortSignal`);
  }
  return {
    baseUrl: baseUrl.replace(/\/+$/, ""),
    baseProtocol: protocolOf(baseUrl),
    // Called as a plain function: window.fetch called as a method of
    // another object throws "Illegal invocation".
    fetch: (url, init) => fetchFn(url, init),
    onUpdate: o.onUpdate,
    signal: o.signal,
    minIntervalMs,
    maxIntervalMs,
    maxWaitMs,
    requestTimeoutMs,
    maxResultBytes,
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

/**
 * The protocol of the API's URL ("" is the page's own origin), or undefined
 * when there is no telling (a relative baseUrl outside a page).
 */
function protocolOf(baseUrl) {
  try {
    return new URL(baseUrl || "/", globalThis.location?.href).protocol;
  } catch {
    return undefined;
  }
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
 * @param {string} jobId
 */
async function poll(s, run, jobId) {
  const url = statusURL(s.baseUrl, jobId);
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
    let a;
    try {
      a = await request(s, run, url, { headers, redirect: "manual" }, (res, signal) => statusAnswer(s, res, signal, jobId));
    } catch (err) {
      if (!(err instanceof NetworkFailure)) {
        throw err;
      }
      if (++failures > maxRetries) {
        throw networkError(err.cause, failures);
      }
      await run.wait(backoff(failures));
      continue;
    }

    const { res } = a;
    let waitMs;
    switch (res.status) {
      case 200:
      case 202: {
        const { body } = a;
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
          refreshed = true;
          forceRefresh = true;
          continue; // at once, with a fresh token
        }
        throw answerError(a, "status");
      case 429:
      case 503: {
        const asked = retryAfterMs(res);
        const err = answerError(a, "status", asked);
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
        throw answerError(a, "status");
    }
    await run.wait(waitMs);
  }
}

/**
 * A request that got no complete answer (no answer, a body cut short, or
 * requestTimeoutMs passed): retried by pollStatus, `network` once it gives
 * up. Internal: it never leaves the module.
 */
class NetworkFailure extends Error {
  constructor(cause) {
    super("network failure", { cause });
  }
}

/** A body that could not be read to its end: the stream failed or was aborted. */
class ReadFailure extends Error {
  constructor(cause) {
    super("read failure", { cause });
  }
}

/**
 * Makes one request and reads its answer with read(res, signal), both
 * within requestTimeoutMs: the timer covers the headers and the whole body.
 * It rejects with the caller's abort reason (or maxWaitMs's timeout) when
 * run's signal aborts, with a NetworkFailure when the request times out or
 * gets no complete answer, or with what read throws.
 *
 * @template T
 * @param {ReturnType<typeof settings>} s
 * @param {ReturnType<typeof begin>} run
 * @param {string} url
 * @param {RequestInit} init
 * @param {(res: Response, signal: AbortSignal) => Promise<T>} read
 * @returns {Promise<T>}
 */
async function request(s, run, url, init, read) {
  run.signal.throwIfAborted();
  // The request's own signal: the call's (caller and maxWaitMs), combined
  // by hand with the timer, so that the reason tells which one ended it.
  const ctl = new AbortController();
  const forward = () => ctl.abort(run.signal.reason);
  run.signal.addEventListener("abort", forward, { once: true });
  const timer = setTimeout(
    () => ctl.abort(new DOMException(`no complete answer within requestTimeoutMs (${s.requestTimeoutMs} ms)`, "TimeoutError")),
    s.requestTimeoutMs,
  );
  const failure = (err) => abortReason(run) ?? new NetworkFailure(ctl.signal.aborted ? ctl.signal.reason : scrub(err, url));
  try {
    let res;
    try {
      // abortable: a fetch option that ignores the signal is bounded too.
      res = await abortable(s.fetch(url, { ...init, signal: ctl.signal }), ctl.signal);
    } catch (err) {
      throw failure(err);
    }
    try {
      return await read(res, ctl.signal);
    } catch (err) {
      throw err instanceof ReadFailure ? failure(err.cause) : (abortReason(run) ?? err);
    }
  } finally {
    clearTimeout(timer);
    run.signal.removeEventListener("abort", forward);
  }
}

/**
 * Reads res's body through its stream, up to limit bytes. Resolves with the
 * bytes, or with undefined when the body is over limit (a Content-Length
 * over it is not read at all; a stream is cancelled at the limit, so an
 * endless body or a decompression bomb costs limit bytes). Rejects with a
 * ReadFailure when the stream fails or signal aborts.
 *
 * @param {Response} res
 * @param {number} limit
 * @param {AbortSignal} signal
 * @returns {Promise<Uint8Array | undefined>}
 */
async function readBytes(res, limit, signal) {
  const declared = res.headers.get("Content-Length");
  if (declared !== null && Number(declared) > limit) {
    discard(res);
    return undefined;
  }
  if (res.body === null) {
    return new Uint8Array(0);
  }
  const reader = res.body.getReader();
  // Cancelling ends a pending read (done), whatever the stream's source
  // does; a real fetch's stream also fails by itself on abort.
  const stop = () => reader.cancel(signal.reason).catch(() => {});
  if (signal.aborted) {
    stop();
    throw new ReadFailure(signal.reason);
  }
  signal.addEventListener("abort", stop, { once: true });
  const chunks = [];
  let size = 0;
  try {
    for (;;) {
      let step;
      try {
        step = await reader.read();
      } catch (err) {
        throw new ReadFailure(signal.aborted ? signal.reason : err);
      }
      if (signal.aborted) {
        throw new ReadFailure(signal.reason);
      }
      if (step.done) {
        break;
      }
      if (!(step.value instanceof Uint8Array)) {
        throw new ReadFailure(new TypeError("the body's stream gave something other than bytes"));
      }
      size += step.value.byteLength;
      if (size > limit) {
        reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(step.value);
    }
  } finally {
    signal.removeEventListener("abort", stop);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}

/**
 * Reads res's body as JSON, up to limit bytes; a body over it, or that is
 * not JSON, is a `server` error: `${what} ${over}` or `${what} ${notJSON}`.
 */
async function readJSON(res, limit, signal, what, over, notJSON) {
  const bytes = await readBytes(res, limit, signal);
  if (bytes === undefined) {
    throw new VprStatusError(`${what} ${over}`, { code: "server", status: res.status });
  }
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch (err) {
    // V8 quotes the start of the text it could not parse: scrubbed too.
    throw new VprStatusError(`${what} ${notJSON}`, { code: "server", status: res.status, cause: scrub(err) });
  }
}

/**
 * Reads the problem details of an error answer, when it says it has some:
 * undefined when it has none, they are not JSON, or they are over 64 KiB
 * (the status code says enough).
 */
async function readProblem(res, signal) {
  if (!/json/i.test(res.headers.get("Content-Type") ?? "")) {
    discard(res);
    return undefined;
  }
  const bytes = await readBytes(res, maxStatusBytes, signal);
  if (bytes === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch {
    return undefined;
  }
}

/**
 * Reads a status answer: a 200 or 202 body, checked (see statusBodyProblem),
 * or an error answer's problem details. Resolves with {res, body} or
 * {res, problem}.
 */
async function statusAnswer(s, res, signal, jobId) {
  if (res.status === 304) {
    discard(res);
    return { res };
  }
  // With redirect: "manual", a browser gives an opaque redirect (status 0,
  // no headers), Node the 3xx itself.
  if (res.type === "opaqueredirect" || (res.status >= 300 && res.status < 400)) {
    discard(res);
    const loc = res.headers.get("Location");
    const to = loc ? ` to ${scrubText(loc.split(/[?#]/)[0])}` : "";
    throw new VprStatusError(
      `status: redirected${res.status ? ` (${res.status})` : ""}${to}: not followed (the API never redirects a poll, and the token must not go along)`,
      { code: "server", status: res.status },
    );
  }
  if (res.status !== 200 && res.status !== 202) {
    return { res, problem: await readProblem(res, signal) };
  }
  const what = `status: ${res.status} with`;
  const body = await readJSON(res, maxStatusBytes, signal, what, `a body over ${maxStatusBytes} bytes`, "a body that is not JSON");
  const why = statusBodyProblem(s, res.status, body, jobId);
  if (why) {
    throw new VprStatusError(`${what} ${why}`, { code: "server", status: res.status, body: redactBody(body) });
  }
  return { res, body };
}

/**
 * Says what is wrong with a 200 or 202 body for jobId, or returns "" when
 * nothing is. What it says never repeats the server's text.
 */
function statusBodyProblem(s, code, body, jobId) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return "a body that is not an object";
  }
  // Letter case aside: a UUID's hex digits name the same job either way.
  if (typeof body.job_id !== "string" || body.job_id.toLowerCase() !== jobId.toLowerCase()) {
    return "the job_id of another job";
  }
  if (!states.includes(body.status)) {
    return "an unknown status";
  }
  if (!statesByCode[code].includes(body.status)) {
    return `a ${body.status} state, which a ${code} does not carry`;
  }
  if (body.status === "FAILED" && typeof body.error !== "string") {
    return "a FAILED status whose error is not a string";
  }
  if (body.status === "COMPLETED") {
    const why = resultURLProblem(body.result_url, s.baseProtocol);
    if (why) {
      return `an unusable result_url (${why})`;
    }
  }
  return "";
}

/**
 * Says why raw is not a result URL to fetch, or returns "" when it is: an
 * absolute https: URL (http: too under an http: API), without credentials,
 * with a valid port. What it says never repeats the URL.
 */
function resultURLProblem(raw, baseProtocol) {
  if (typeof raw !== "string") {
    return "missing";
  }
  let u;
  try {
    u = new URL(raw); // no base: a relative URL fails, as does a bad port
  } catch {
    return "not a valid absolute URL";
  }
  if (u.protocol === "http:" && baseProtocol !== "http:") {
    return "http: under an API that is not http:";
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    return "not https:";
  }
  if (u.username !== "" || u.password !== "") {
    return "credentials in it";
  }
  if (u.port === "0") {
    return "a bad port";
  }
  return "";
}

/** A URL without what may be secret: its query, fragment and credentials. */
function withoutQuery(raw) {
  try {
    const u = new URL(raw);
    return u.protocol === "http:" || u.protocol === "https:" ? `${u.protocol}//${u.host}${u.pathname}` : `${u.protocol}…`;
  } catch {
    return "(not a URL)";
  }
}

/** A status body to attach to an error: result_url cut to origin and path. */
function redactBody(body) {
  if (body === null || typeof body !== "object" || typeof body.result_url !== "string") {
    return body;
  }
  return { ...body, result_url: withoutQuery(body.result_url) };
}

// A URL in an error's text: its credentials, and what follows ? or #.
const credentialsInURL = /(\/\/)[^\s/?#@]*@/g;
const queryOfURL = /\b([a-z][a-z0-9+.-]*:[^\s?#"'<>]*)[?#][^\s"'<>]*/gi;

/**
 * text without any URL's query, fragment or credentials: url itself, then
 * anything that looks like a URL.
 */
function scrubText(text, url) {
  let t = String(text);
  if (typeof url === "string" && url !== "") {
    t = t.split(url).join(withoutQuery(url));
  }
  return t.replace(credentialsInURL, "$1").replace(queryOfURL, "$1?…");
}

/**
 * A copy of err to attach as a cause: the same class (TypeError or Error),
 * name and code, its message and its causes' scrubbed, no stack (V8's
 * repeats the message) and no other properties (undici's carry the input).
 */
function scrub(err, url, depth = 0) {
  const message = scrubText(err instanceof Error ? err.message : String(err), url);
  const cause = err instanceof Error && err.cause !== undefined && depth < 4 ? { cause: scrub(err.cause, url, depth + 1) } : undefined;
  const copy = err instanceof TypeError ? new TypeError(message, cause) : new Error(message, cause);
  if (err instanceof Error && err.name !== copy.name) {
    copy.name = String(err.name);
  }
  if (typeof err?.code === "string" || typeof err?.code === "number") {
    copy.code = err.code;
  }
  return copy;
}

/**
 * The server's ask, raised to minIntervalMs, lengthened by 0–10 % jitter,
 * but not past maxIntervalMs (callers never ask beyond it).
 */
function lengthen(askMs, s) {
  const base = Math.max(askMs, s.minIntervalMs);
  return Math.min(base * (1 + Math.random() * jitter), Math.max(base, s.maxIntervalMs));
}

/** The `network` error after attempts; err is scrubbed already, or the module's own. */
function networkError(err, attempts) {
  const why = err instanceof Error ? err.message : String(err);
  return new VprStatusError(`no complete answer after ${attempts} attempt${attempts === 1 ? "" : "s"} (network error, or a CORS refusal): ${why}`, {
    code: "network",
    cause: err,
  });
}

/**
 * The error for an answer that is not a success, with its problem details
 * when it has some.
 *
 * @param {{res: Response, problem?: unknown}} a
 * @param {string} what "status" or "result"
 * @param {number} [retryAfter] ms, when the answer asked
 */
function answerError({ res, problem: body }, what, retryAfter) {
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
    let a;
    try {
      const headers = { Authorization: `Bearer ${token}` };
      a = await request(s, run, url, { headers, redirect: "manual" }, (res, signal) =>
        statusAnswer(s, res, signal, jobId),
      );
    } catch (err) {
      throw err instanceof NetworkFailure ? networkError(err.cause, 1) : err;
    }
    const { res, body } = a;
    if (res.status === 401 && s.canRefresh && attempt === 0) {
      continue;
    }
    if (res.status === 200) {
      if (body.status === "COMPLETED") {
        return body;
      }
      throw new VprStatusError(`status: the job is ${body.status} now, not COMPLETED`, { code: "server", status: 200, body });
    }
    if (res.status === 202) {
      throw new VprStatusError("status: 202 for a completed job", { code: "server", status: 202, body });
    }
    throw answerError(a, "status", retryAfterMs(res));
  }
}

/**
 * GETs a result URL: no Authorization (it carries its own), no cookies, not
 * cached. Resolves with {res, value} (the parsed result) or, for an error
 * answer, {res, problem}.
 */
async function getResult(s, run, url) {
  const over = `is over maxResultBytes (${s.maxResultBytes} bytes)`;
  try {
    return await request(s, run, url, { credentials: "omit", cache: "no-store" }, async (res, signal) =>
      res.ok
        ? { res, value: await readJSON(res, s.maxResultBytes, signal, "result: the body", over, "is not JSON") }
        : { res, problem: await readProblem(res, signal) },
    );
  } catch (err) {
    throw err instanceof NetworkFailure ? networkError(err.cause, 1) : err;
  }
}
