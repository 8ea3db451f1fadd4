// Fakes and fixtures of the unit tests of vprpoll.js (node --test web/):
// a fake clock, a scripted fake fetch, and the bodies the service sends.
// Not served, not a test itself.
import { after } from "node:test";
import assert from "node:assert/strict";

import { VprStatusError } from "./vprpoll.js";

export const jobId = "11111111-1111-4111-8111-111111111111";
export const token = "header.payload.signature";
export const start = Date.UTC(2026, 10, 30, 12, 0, 0);

export const pending = { job_id: jobId, status: "PENDING", created_at: "2026-11-30T12:00:00Z" };
export const processing = { ...pending, status: "PROCESSING", started_at: "2026-11-30T12:00:03Z" };
export const completed = {
  job_id: jobId,
  status: "COMPLETED",
  created_at: "2026-11-30T12:00:00Z",
  completed_at: "2026-11-30T12:00:08Z",
  result_url: "https://results.example/r/1.json?sig=a",
  result_url_expires_at: "2026-11-30T13:00:00Z",
};
export const failed = { job_id: jobId, status: "FAILED", created_at: "2026-11-30T12:00:00Z", error: "no report" };
export const problem = (status, error, message) => ({ type: "about:blank", title: "x", status, error, ...(message && { message }) });

/** Makes rejections nobody handled fail the file's run: the module must never leave one. */
export function failOnUnhandledRejections() {
  const unhandled = [];
  process.on("unhandledRejection", (err) => unhandled.push(err));
  after(() => assert.deepEqual(unhandled, [], "unhandled rejections"));
}

/** A clock whose timers fire only when the test runs them. */
export class FakeClock {
  constructor(t, now = start) {
    this.now = now;
    this.timers = new Map();
    this.nextId = 1;
    t.mock.method(globalThis, "setTimeout", (fn, ms = 0) => {
      const id = this.nextId++;
      this.timers.set(id, { at: this.now + Math.max(0, ms), ms, fn });
      return id;
    });
    t.mock.method(globalThis, "clearTimeout", (id) => this.timers.delete(id));
    t.mock.method(Date, "now", () => this.now);
  }

  /**
   * Runs p to completion: lets pending promise reactions run, then fires the
   * earliest timer, moving the clock to it, until p settles.
   */
  async settle(p) {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    for (let steps = 0; steps < 10000; steps++) {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (done) {
        return p;
      }
      const [id, next] = [...this.timers].reduce((a, b) => (b[1].at < a[1].at ? b : a), [0, { at: Infinity }]);
      if (next.at === Infinity) {
        throw new Error("stuck: the promise is pending and no timer is set");
      }
      this.timers.delete(id);
      this.now = next.at;
      next.fn();
    }
    throw new Error("too many steps");
  }
}

/**
 * A fetch that answers from script, in order, and records each call. A step
 * is an answer ({status, body, headers}, body a string, a ReadableStream or
 * JSON; or {response} given as it is), an Error to throw, or a function of
 * the call returning either (or a promise of one).
 */
export function fakeFetch(clock, script) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    const call = { url, init, at: clock.now, headers: new Headers(init.headers) };
    calls.push(call);
    if (init.signal?.aborted) {
      throw init.signal.reason;
    }
    if (script.length === 0) {
      throw new Error(`unexpected request ${calls.length}: ${url}`);
    }
    let step = script.shift();
    if (typeof step === "function") {
      step = await step(call);
    }
    if (step instanceof Error) {
      throw step;
    }
    return step.response ?? answer(step);
  };
  fetch.calls = calls;
  return fetch;
}

export function answer({ status, body, headers = {} }) {
  const h = new Headers(headers);
  let payload = null;
  if (body !== undefined) {
    payload = typeof body === "string" || body instanceof ReadableStream ? body : JSON.stringify(body);
    if (!h.has("Content-Type")) {
      h.set("Content-Type", status >= 400 ? "application/problem+json" : "application/json");
    }
  }
  return new Response(payload, { status, headers: h });
}

/** The gaps between consecutive calls, in ms. */
export const gaps = (calls) => calls.slice(1).map((c, i) => c.at - calls[i].at);

/** Pins Math.random, so jitter is known: r = 0 adds none, r → 1 adds 10 %. */
export const jitterAt = (t, r) => t.mock.method(Math, "random", () => r);

/** Asserts p rejects with a VprStatusError of code, and returns the error. */
export async function rejectsWith(clock, p, code, status) {
  const err = await clock.settle(p).then(
    () => assert.fail(`resolved; want a rejection with code ${code}`),
    (e) => e,
  );
  assert.ok(err instanceof VprStatusError, `${err}`);
  assert.equal(err.code, code, err.message);
  if (status !== undefined) {
    assert.equal(err.status, status);
  }
  return err;
}
