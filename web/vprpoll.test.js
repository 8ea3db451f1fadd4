// Unit tests of vprpoll.js: node --test web/
//
// Every test runs on a fake clock (setTimeout, clearTimeout and Date.now
// replaced on the globals for the test's duration) and a scripted fake
// fetch, so hours of polling take milliseconds and every wait is exact.
import { test } from "node:test";
import assert from "node:assert/strict";

import { pollStatus, fetchResult } from "./vprpoll.js";
import {
  jobId,
  token,
  start,
  pending,
  processing,
  completed,
  failed,
  problem,
  FakeClock,
  fakeFetch,
  gaps,
  jitterAt,
  rejectsWith,
  failOnUnhandledRejections,
} from "./testkit.js";

failOnUnhandledRejections();

test("polls until COMPLETED and resolves with the final body", async (t) => {
  const clock = new FakeClock(t);
  jitterAt(t, 0);
  const fetch = fakeFetch(clock, [
    { status: 202, body: pending, headers: { "Retry-After": "2", ETag: '"a"' } },
    { status: 202, body: processing, headers: { "Retry-After": "2", ETag: '"b"' } },
    { status: 200, body: completed },
  ]);
  const body = await clock.settle(pollStatus(jobId, { token, fetch, baseUrl: "https://api.example/" }));
  assert.deepEqual(body, completed);
  assert.equal(fetch.calls[0].url, `https://api.example/api/vpr/status/${jobId}`);
  assert.equal(fetch.calls[0].headers.get("Authorization"), `Bearer ${token}`);
  assert.deepEqual(gaps(fetch.calls), [2000, 2000]);
  assert.equal(clock.timers.size, 0, "timers left behind");
});

test("FAILED is a result, not an error", async (t) => {
  const clock = new FakeClock(t);
  const fetch = fakeFetch(clock, [{ status: 200, body: failed }]);
  assert.deepEqual(await clock.settle(pollStatus(jobId, { token, fetch })), failed);
  assert.equal(fetch.calls[0].url, `/api/vpr/status/${jobId}`);
});

test("the job id is escaped into the path", async (t) => {
  const clock = new FakeClock(t);
  const fetch = fakeFetch(clock, [{ status: 404, body: problem(404, "Job not found") }]);
  await rejectsWith(clock, pollStatus("../x?y", { token, fetch }), "not_found", 404);
  assert.equal(fetch.calls[0].url, "/api/vpr/status/..%2Fx%3Fy");
});

test("Retry-After is honoured, within the bounds", async (t) => {
  const cases = [
    { name: "delay-seconds", retryAfter: "5", want: 5000 },
    { name: "absent: the service's 2 s", retryAfter: undefined, want: 2000 },
    { name: "zero: raised to minIntervalMs", retryAfter: "0", want: 1000 },
    { name: "beyond maxIntervalMs: capped", retryAfter: "120", want: 30000 },
    { name: "IMF-fixdate", retryAfter: "Mon, 30 Nov 2026 12:00:07 GMT", want: 7000 },
    { name: "RFC 850 date", retryAfter: "Monday, 30-Nov-26 12:00:04 GMT", want: 4000 },
    { name: "asctime date", retryAfter: "Mon Nov 30 12:00:03 2026", want: 3000 },
    { name: "a date in the past: raised to minIntervalMs", retryAfter: "Mon, 30 Nov 2026 11:00:00 GMT", want: 1000 },
    { name: "malformed: negative", retryAfter: "-1", want: 2000 },
    { name: "malformed: fraction", retryAfter: "1.5", want: 2000 },
    { name: "malformed: words", retryAfter: "soon", want: 2000 },
    { name: "malformed: not a date", retryAfter: "Mon, 31 Feb 2026 12:00:07 GMT", want: 2000 },
    { name: "custom bounds: raised", retryAfter: "1", want: 1500, options: { minIntervalMs: 1500, maxIntervalMs: 4000 } },
    { name: "custom bounds: capped", retryAfter: "9", want: 4000, options: { minIntervalMs: 1500, maxIntervalMs: 4000 } },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const clock = new FakeClock(t);
      jitterAt(t, 0);
      const headers = c.retryAfter === undefined ? {} : { "Retry-After": c.retryAfter };
      const fetch = fakeFetch(clock, [{ status: 202, body: pending, headers }, { status: 200, body: completed }]);
      await clock.settle(pollStatus(jobId, { token, fetch, ...c.options }));
      assert.deepEqual(gaps(fetch.calls), [c.want]);
    });
  }
});

test("jitter lengthens a wait by at most 10 %, never past maxIntervalMs, never shortens it", async (t) => {
  for (const [r, retryAfter, want] of [
    [0, "4", 4000],
    [0.5, "4", 4200],
    [0.999, "4", 4399.6],
    [0.999, "29", 30000], // 31.9 s with jitter: capped
    [0.999, "120", 30000],
  ]) {
    await t.test(`random ${r}, Retry-After ${retryAfter}`, async (t) => {
      const clock = new FakeClock(t);
      jitterAt(t, r);
      const fetch = fakeFetch(clock, [
        { status: 202, body: pending, headers: { "Retry-After": retryAfter } },
        { status: 200, body: completed },
      ]);
      await clock.settle(pollStatus(jobId, { token, fetch }));
      const [gap] = gaps(fetch.calls);
      // The clock's epoch milliseconds keep about 1/4096 ms of a fraction.
      assert.ok(Math.abs(gap - want) < 1e-3, `waited ${gap}, want ${want}`);
    });
  }
});

test("If-None-Match carries the last ETag; a 304 keeps the last body and is no update", async (t) => {
  const clock = new FakeClock(t);
  jitterAt(t, 0);
  const updates = [];
  const fetch = fakeFetch(clock, [
    { status: 202, body: pending, headers: { "Retry-After": "2", ETag: '"p1"' } },
    { status: 304, headers: { "Retry-After": "3", ETag: '"p1"' } },
    { status: 202, body: processing, headers: { "Retry-After": "2", ETag: '"p2"' } },
    { status: 202, body: { ...processing, started_at: "2026-11-30T12:00:04Z" }, headers: { ETag: '"p3"' } },
    { status: 304, headers: { ETag: '"p3"' } },
    { status: 200, body: completed },
  ]);
  const onUpdate = (body, res) => updates.push([body.status, res.status]);
  const body = await clock.settle(pollStatus(jobId, { token, fetch, onUpdate }));
  assert.deepEqual(body, completed);
  assert.deepEqual(
    fetch.calls.map((c) => c.headers.get("If-None-Match")),
    [null, '"p1"', '"p1"', '"p2"', '"p3"', '"p3"'],
  );
  // Only state changes are updates: not the 304s, not a new ETag in the same state.
  assert.deepEqual(updates, [
    ["PENDING", 202],
    ["PROCESSING", 202],
    ["COMPLETED", 200],
  ]);
  assert.deepEqual(gaps(fetch.calls), [2000, 3000, 2000, 2000, 2000], "a 304's Retry-After counts too");
});

test("a 304 before any body is a server error", async (t) => {
  const clock = new FakeClock(t);
  const fetch = fakeFetch(clock, [{ status: 304 }]);
  await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "server", 304);
});

test("onUpdate: awaited, and what it throws rejects the poll", async (t) => {
  await t.test("awaited", async (t) => {
    const clock = new FakeClock(t);
    jitterAt(t, 0);
    const fetch = fakeFetch(clock, [{ status: 202, body: pending }, { status: 200, body: completed }]);
    const onUpdate = (body) =>
      body.status === "PENDING" ? new Promise((resolve) => setTimeout(resolve, 5000)) : undefined;
    await clock.settle(pollStatus(jobId, { token, fetch, onUpdate }));
    assert.deepEqual(gaps(fetch.calls), [7000]);
  });
  await t.test("aborts, and returns a promise that rejects later", async (t) => {
    const clock = new FakeClock(t);
    const ctl = new AbortController();
    const reason = new Error("navigated away");
    const fetch = fakeFetch(clock, [{ status: 202, body: pending }]);
    const onUpdate = () => {
      ctl.abort(reason);
      return new Promise((_, reject) => setTimeout(() => reject(new Error("late, and handled")), 10));
    };
    await assert.rejects(clock.settle(pollStatus(jobId, { token, fetch, onUpdate, signal: ctl.signal })), reason);
    await clock.settle(new Promise((resolve) => setTimeout(resolve, 20)));
  });
  await t.test("throws", async (t) => {
    const clock = new FakeClock(t);
    const boom = new Error("boom");
    const fetch = fakeFetch(clock, [{ status: 202, body: pending }]);
    const p = pollStatus(jobId, {
      token,
      fetch,
      onUpdate: () => {
        throw boom;
      },
    });
    await assert.rejects(clock.settle(p), boom);
    assert.equal(fetch.calls.length, 1);
  });
});

test("401: getToken is asked once more for a fresh token, then the poll fails", async (t) => {
  const unauthorized = {
    status: 401,
    body: problem(401, "Unauthorized", "The bearer token is invalid or expired"),
    headers: { "WWW-Authenticate": 'Bearer realm="vprstatus", error="invalid_token"' },
  };
  await t.test("a second 401 in a row fails with unauthorized", async (t) => {
    const clock = new FakeClock(t);
    const asked = [];
    const getToken = async ({ forceRefresh, signal }) => {
      assert.ok(signal instanceof AbortSignal);
      asked.push(forceRefresh);
      return `tok${asked.length}`;
    };
    const fetch = fakeFetch(clock, [unauthorized, unauthorized]);
    const err = await rejectsWith(clock, pollStatus(jobId, { getToken, fetch }), "unauthorized", 401);
    assert.deepEqual(asked, [false, true]);
    assert.deepEqual(
      fetch.calls.map((c) => c.headers.get("Authorization")),
      ["Bearer tok1", "Bearer tok2"],
    );
    assert.deepEqual(gaps(fetch.calls), [0], "the request is repeated at once");
    assert.equal(err.body.error, "Unauthorized");
    assert.match(err.message, /invalid or expired/);
  });
  await t.test("a fresh token that works carries on, and a later 401 may refresh again", async (t) => {
    const clock = new FakeClock(t);
    const asked = [];
    const getToken = ({ forceRefresh }) => (asked.push(forceRefresh), "fresh"); // sync is fine too
    const fetch = fakeFetch(clock, [
      unauthorized,
      { status: 202, body: pending },
      unauthorized,
      { status: 200, body: completed },
    ]);
    assert.deepEqual(await clock.settle(pollStatus(jobId, { getToken, fetch })), completed);
    assert.deepEqual(asked, [false, true, false, true]);
  });
  await t.test("a fixed token fails at the first 401", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [unauthorized]);
    await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "unauthorized", 401);
    assert.equal(fetch.calls.length, 1);
  });
  await t.test("what getToken throws rejects the poll", async (t) => {
    const clock = new FakeClock(t);
    const signedOut = new Error("signed out");
    const fetch = fakeFetch(clock, []);
    const getToken = async () => {
      throw signedOut;
    };
    await assert.rejects(clock.settle(pollStatus(jobId, { getToken, fetch })), signedOut);
    assert.equal(fetch.calls.length, 0);
  });
});

test("each error code", async (t) => {
  const cases = [
    { name: "403", step: { status: 403, body: problem(403, "Forbidden") }, code: "forbidden", status: 403 },
    { name: "404", step: { status: 404, body: problem(404, "Job not found (may have expired after 10 minutes)") }, code: "not_found", status: 404 },
    {
      name: "410",
      step: { status: 410, body: problem(410, "Result expired or deleted", "Please regenerate the VPR") },
      code: "gone",
      status: 410,
      message: /regenerate/,
    },
    { name: "500", step: { status: 500, body: problem(500, "Internal server error") }, code: "server", status: 500 },
    { name: "400", step: { status: 400, body: problem(400, "Bad request") }, code: "server", status: 400 },
    { name: "502 without a body", step: { status: 502 }, code: "server", status: 502 },
    { name: "502 in HTML", step: { status: 502, body: "<h1>Bad Gateway</h1>", headers: { "Content-Type": "text/html" } }, code: "server", status: 502 },
    { name: "a body that is not JSON", step: { status: 202, body: "not json" }, code: "server", status: 202 },
    { name: "202 of a finished state", step: { status: 202, body: completed }, code: "server", status: 202 },
    { name: "200 of an unfinished state", step: { status: 200, body: pending }, code: "server", status: 200 },
    { name: "an unknown state", step: { status: 200, body: { ...completed, status: "DONE" } }, code: "server", status: 200 },
    { name: "COMPLETED without result_url", step: { status: 200, body: { ...completed, result_url: undefined } }, code: "server", status: 200 },
    {
      name: "429 asking past maxIntervalMs",
      step: { status: 429, body: problem(429, "Too many requests"), headers: { "Retry-After": "60" } },
      code: "rate_limited",
      status: 429,
      retryAfterMs: 60000,
    },
    {
      name: "503 asking past maxIntervalMs",
      step: { status: 503, body: problem(503, "Service unavailable"), headers: { "Retry-After": "31" } },
      code: "unavailable",
      status: 503,
      retryAfterMs: 31000,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const clock = new FakeClock(t);
      const fetch = fakeFetch(clock, [c.step]);
      const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch }), c.code, c.status);
      assert.equal(fetch.calls.length, 1, "not retried");
      assert.equal(clock.now, start, "failed without waiting");
      if (c.step.body?.type) {
        assert.deepEqual(err.body, c.step.body);
      }
      if (c.message) {
        assert.match(err.message, c.message);
      }
      assert.equal(err.retryAfterMs, c.retryAfterMs);
      assert.equal(err.name, "VprStatusError");
    });
  }
});

test("network errors, 429 and 503 share a budget of 4 retries with backoff", async (t) => {
  const netErr = () => new TypeError("fetch failed");
  const cases = [
    { name: "network", step: netErr, code: "network", status: 0 },
    { name: "503 without Retry-After", step: () => ({ status: 503, body: problem(503, "Service unavailable") }), code: "unavailable", status: 503 },
    { name: "429 without Retry-After", step: () => ({ status: 429, body: problem(429, "Too many requests") }), code: "rate_limited", status: 429 },
  ];
  for (const c of cases) {
    await t.test(`${c.name}: 1, 2, 4, 8 s, then fails`, async (t) => {
      const clock = new FakeClock(t);
      jitterAt(t, 0);
      const fetch = fakeFetch(clock, Array.from({ length: 5 }, c.step));
      const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch }), c.code, c.status);
      assert.deepEqual(gaps(fetch.calls), [1000, 2000, 4000, 8000]);
      if (c.code === "network") {
        assert.ok(err.cause instanceof TypeError);
      }
    });
  }
  await t.test("a 304 resets the count too", async (t) => {
    const clock = new FakeClock(t);
    jitterAt(t, 0);
    const four503s = Array.from({ length: 4 }, () => ({ status: 503 }));
    const fetch = fakeFetch(clock, [
      { status: 202, body: pending, headers: { ETag: '"a"' } },
      ...four503s,
      { status: 304, headers: { ETag: '"a"' } },
      ...four503s,
      { status: 200, body: completed },
    ]);
    assert.deepEqual(await clock.settle(pollStatus(jobId, { token, fetch })), completed);
    assert.equal(fetch.calls.length, 11);
  });
  await t.test("backoff is capped by maxIntervalMs, and jittered", async (t) => {
    const clock = new FakeClock(t);
    jitterAt(t, 0.5);
    const fetch = fakeFetch(clock, [netErr(), netErr(), netErr(), netErr(), { status: 200, body: completed }]);
    await clock.settle(pollStatus(jobId, { token, fetch, maxIntervalMs: 3000 }));
    assert.deepEqual(gaps(fetch.calls), [1050, 2100, 3000, 3000]);
  });
  await t.test("Retry-After within the bounds is a hard wait, raised to minIntervalMs", async (t) => {
    const clock = new FakeClock(t);
    jitterAt(t, 0);
    const fetch = fakeFetch(clock, [
      { status: 429, body: problem(429, "Too many requests"), headers: { "Retry-After": "3" } },
      { status: 503, body: problem(503, "Service unavailable"), headers: { "Retry-After": "0" } },
      { status: 503, headers: { "Retry-After": "30" } },
      { status: 200, body: completed },
    ]);
    await clock.settle(pollStatus(jobId, { token, fetch }));
    assert.deepEqual(gaps(fetch.calls), [3000, 1000, 30000]);
  });
  await t.test("mixed failures count together; an answer resets the count", async (t) => {
    const clock = new FakeClock(t);
    jitterAt(t, 0);
    const s503 = { status: 503 };
    const s429 = { status: 429 };
    const fetch = fakeFetch(clock, [
      netErr(),
      s503,
      s429,
      netErr(),
      { status: 202, body: pending, headers: { "Retry-After": "2" } }, // resets
      s503,
      s429,
      netErr(),
      s503,
      s429, // the fifth in a row
    ]);
    const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "rate_limited", 429);
    assert.deepEqual(gaps(fetch.calls), [1000, 2000, 4000, 8000, 2000, 1000, 2000, 4000, 8000]);
    assert.equal(err.retryAfterMs, undefined);
  });
});

test("abort rejects with the signal's reason and clears every timer", async (t) => {
  await t.test("before the call", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, []);
    const reason = new Error("left the page");
    await assert.rejects(pollStatus(jobId, { token, fetch, signal: AbortSignal.abort(reason) }), reason);
    assert.equal(fetch.calls.length, 0);
  });
  await t.test("during a wait", async (t) => {
    const clock = new FakeClock(t);
    const ctl = new AbortController();
    const fetch = fakeFetch(clock, [
      (call) => {
        queueMicrotask(() => setTimeout(() => ctl.abort(), 500)); // while the 2 s wait runs
        return { status: 202, body: pending, headers: { "Retry-After": "2" } };
      },
    ]);
    const p = pollStatus(jobId, { token, fetch, signal: ctl.signal, maxWaitMs: 60000 });
    await assert.rejects(clock.settle(p), (err) => err.name === "AbortError");
    assert.equal(clock.now, start + 500);
    assert.equal(clock.timers.size, 0, "timers left behind");
    assert.equal(fetch.calls.length, 1);
  });
  await t.test("during a request", async (t) => {
    const clock = new FakeClock(t);
    const ctl = new AbortController();
    const reason = new Error("cancelled");
    const fetch = fakeFetch(clock, [
      (call) =>
        new Promise((_, reject) => {
          call.init.signal.addEventListener("abort", () => reject(call.init.signal.reason));
          setTimeout(() => ctl.abort(reason), 100);
        }),
    ]);
    await assert.rejects(clock.settle(pollStatus(jobId, { token, fetch, signal: ctl.signal })), reason);
    assert.equal(clock.timers.size, 0);
  });
  await t.test("during getToken, even one that ignores the signal", async (t) => {
    const clock = new FakeClock(t);
    const ctl = new AbortController();
    const reason = new Error("cancelled");
    const fetch = fakeFetch(clock, []);
    const getToken = () =>
      new Promise((_, reject) => {
        setTimeout(() => ctl.abort(reason), 100);
        setTimeout(() => reject(new Error("too late, and not unhandled")), 200);
      });
    await assert.rejects(clock.settle(pollStatus(jobId, { getToken, fetch, signal: ctl.signal })), reason);
    await clock.settle(new Promise((resolve) => setTimeout(resolve, 300)));
    assert.equal(fetch.calls.length, 0);
  });
});

test("maxWaitMs: a wait that would end past the deadline fails at once", async (t) => {
  await t.test("before a wait", async (t) => {
    const clock = new FakeClock(t);
    jitterAt(t, 0);
    const fetch = fakeFetch(clock, [
      { status: 202, body: pending, headers: { "Retry-After": "2" } },
      { status: 304, headers: { "Retry-After": "2" } },
    ]);
    const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch, maxWaitMs: 3000 }), "timeout", 0);
    assert.equal(clock.now, start + 2000, "failed when the second wait could not end in time, without waiting it");
    assert.equal(fetch.calls.length, 2);
    assert.equal(clock.timers.size, 0, "the deadline's timer is cleared");
    assert.match(err.message, /maxWaitMs/);
  });
  await t.test("a request still unanswered at the deadline", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [
      (call) => new Promise((_, reject) => call.init.signal.addEventListener("abort", () => reject(call.init.signal.reason))),
    ]);
    await rejectsWith(clock, pollStatus(jobId, { token, fetch, maxWaitMs: 5000 }), "timeout", 0);
    assert.equal(clock.now, start + 5000);
  });
  await t.test("a wait that ends before the deadline is waited", async (t) => {
    const clock = new FakeClock(t);
    jitterAt(t, 0);
    const fetch = fakeFetch(clock, [
      { status: 202, body: pending, headers: { "Retry-After": "2" } },
      { status: 200, body: completed },
    ]);
    assert.deepEqual(await clock.settle(pollStatus(jobId, { token, fetch, maxWaitMs: 2001 })), completed);
  });
});

test("options are checked at the call", async (t) => {
  const fetch = async () => assert.fail("no request expected");
  for (const [name, options, type] of [
    ["neither token nor getToken", { fetch }, TypeError],
    ["both", { token, getToken: () => token, fetch }, TypeError],
    ["a token that is no header value", { token: "a b\r\n", fetch }, TypeError],
    ["min above max", { token, fetch, minIntervalMs: 5000, maxIntervalMs: 1000 }, RangeError],
    ["negative", { token, fetch, maxWaitMs: -1 }, RangeError],
    ["past what setTimeout can wait", { token, fetch, maxIntervalMs: 2 ** 31 }, RangeError],
    ["not a signal", { token, fetch, signal: {} }, TypeError],
  ]) {
    await assert.rejects(pollStatus(jobId, options), type, name);
  }
  await assert.rejects(pollStatus("", { token, fetch }), TypeError);
  await assert.rejects(fetchResult(pending, { token, fetch }), TypeError);
  await assert.rejects(fetchResult(failed, { token, fetch }), TypeError);
});

test("fetchResult", async (t) => {
  const report = { job_id: jobId, headline: "A report" };
  const fresh = { ...completed, result_url: "https://results.example/r/1.json?sig=b", result_url_expires_at: "2026-11-30T14:00:00Z" };
  const refreshed = { status: 200, body: fresh };

  await t.test("fetches result_url without the Authorization header", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 200, body: report }]);
    assert.deepEqual(await clock.settle(fetchResult(completed, { token, fetch })), report);
    assert.equal(fetch.calls.length, 1);
    assert.equal(fetch.calls[0].url, completed.result_url);
    assert.equal(fetch.calls[0].headers.get("Authorization"), null);
    assert.equal(fetch.calls[0].init.credentials, "omit");
  });
  await t.test("an expired URL is refreshed by one status request first", async (t) => {
    const clock = new FakeClock(t, Date.parse(completed.result_url_expires_at));
    const fetch = fakeFetch(clock, [refreshed, { status: 200, body: report }]);
    assert.deepEqual(await clock.settle(fetchResult(completed, { token, fetch, baseUrl: "https://api.example" })), report);
    assert.deepEqual(
      fetch.calls.map((c) => c.url),
      [`https://api.example/api/vpr/status/${jobId}`, fresh.result_url],
    );
    assert.equal(fetch.calls[0].headers.get("Authorization"), `Bearer ${token}`);
    assert.equal(fetch.calls[1].headers.get("Authorization"), null);
  });
  await t.test("a 403 from the storage is refreshed once", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [
      { status: 403, body: "<Error><Code>AccessDenied</Code></Error>", headers: { "Content-Type": "application/xml" } },
      refreshed,
      { status: 200, body: report },
    ]);
    assert.deepEqual(await clock.settle(fetchResult(completed, { token, fetch })), report);
    assert.deepEqual(
      fetch.calls.map((c) => c.url),
      [completed.result_url, `/api/vpr/status/${jobId}`, fresh.result_url],
    );
  });
  await t.test("a second 403 fails with forbidden", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 403 }, refreshed, { status: 403 }]);
    await rejectsWith(clock, fetchResult(completed, { token, fetch }), "forbidden", 403);
    assert.equal(fetch.calls.length, 3);
  });
  await t.test("an expired URL then a 403 is not refreshed twice", async (t) => {
    const clock = new FakeClock(t, Date.parse("2026-11-30T15:00:00Z"));
    const fetch = fakeFetch(clock, [{ status: 200, body: { ...fresh, result_url_expires_at: "2026-11-30T16:00:00Z" } }, { status: 403 }]);
    await rejectsWith(clock, fetchResult(completed, { token, fetch }), "forbidden", 403);
    assert.equal(fetch.calls.length, 2);
  });
  await t.test("410 while refreshing: gone", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 403 }, { status: 410, body: problem(410, "Result expired or deleted", "Please regenerate the VPR") }]);
    const err = await rejectsWith(clock, fetchResult(completed, { token, fetch }), "gone", 410);
    assert.equal(err.body.message, "Please regenerate the VPR");
  });
  await t.test("a 401 while refreshing gets one fresh token", async (t) => {
    const clock = new FakeClock(t, Date.parse("2026-11-30T15:00:00Z"));
    const asked = [];
    const getToken = ({ forceRefresh }) => (asked.push(forceRefresh), "t");
    const fetch = fakeFetch(clock, [{ status: 401 }, refreshed, { status: 200, body: report }]);
    assert.deepEqual(await clock.settle(fetchResult(completed, { getToken, fetch })), report);
    assert.deepEqual(asked, [false, true]);
  });
  await t.test("a missing object: not_found", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 404, body: "no such key", headers: { "Content-Type": "text/plain" } }]);
    await rejectsWith(clock, fetchResult(completed, { token, fetch }), "not_found", 404);
  });
  await t.test("a result that is not JSON: server", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 200, body: "<html>", headers: { "Content-Type": "text/html" } }]);
    await rejectsWith(clock, fetchResult(completed, { token, fetch }), "server", 200);
  });
  await t.test("a network error: network, not retried", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [new TypeError("fetch failed")]);
    await rejectsWith(clock, fetchResult(completed, { token, fetch }), "network", 0);
  });
  await t.test("abort", async (t) => {
    const clock = new FakeClock(t);
    const reason = new Error("gone away");
    const ctl = new AbortController();
    const fetch = fakeFetch(clock, [
      (call) =>
        new Promise((_, reject) => {
          call.init.signal.addEventListener("abort", () => reject(call.init.signal.reason));
          setTimeout(() => ctl.abort(reason), 10);
        }),
    ]);
    await assert.rejects(clock.settle(fetchResult(completed, { token, fetch, signal: ctl.signal })), reason);
    assert.equal(clock.timers.size, 0);
  });
});
