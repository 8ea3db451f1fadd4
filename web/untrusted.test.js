// Unit tests of vprpoll.js against a broken or hostile server: node --test web/
//
// Redirects, bodies without end, stalls, answers that contradict themselves
// or point elsewhere, and errors that must not carry a URL's query, on the
// fake clock and fetch of testkit.js. untrusted-net.test.js has the cases
// that need Node's own fetch and a real local server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";

import { pollStatus, fetchResult, VprStatusError } from "./vprpoll.js";
import {
  jobId,
  token,
  start,
  pending,
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

const secret = "sig=secret";
const chunkSize = 16 * 1024;

/**
 * A body that never ends: a chunk of spaces (JSON whitespace) on each read,
 * counted, and whether it was cancelled. highWaterMark 0: nothing is read
 * ahead, so what was pulled is what the module asked for.
 */
function endless(chunk = new Uint8Array(chunkSize).fill(0x20)) {
  const s = { pulled: 0, cancelled: false };
  s.stream = new ReadableStream(
    {
      pull(ctl) {
        s.pulled += chunk.byteLength;
        ctl.enqueue(chunk);
      },
      cancel() {
        s.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return s;
}

/** A body that sends nothing, ever (on the fake clock, or the real one). */
function silent() {
  const s = { cancelled: false };
  s.stream = new ReadableStream(
    {
      pull: () => new Promise(() => {}),
      cancel() {
        s.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return s;
}

/** A body that sends a space every everyMs, on the clock's setTimeout. */
function dripping(everyMs) {
  const s = { pulled: 0, cancelled: false, timer: undefined };
  s.stream = new ReadableStream(
    {
      pull: (ctl) =>
        new Promise((resolve) => {
          s.timer = setTimeout(() => {
            s.pulled++;
            ctl.enqueue(new Uint8Array([0x20]));
            resolve();
          }, everyMs);
        }),
      cancel() {
        s.cancelled = true;
        clearTimeout(s.timer);
      },
    },
    { highWaterMark: 0 },
  );
  return s;
}

/** A fetch step that never answers, and rejects with the signal's reason on abort. */
const neverAnswers = (call) =>
  new Promise((_, reject) => call.init.signal.addEventListener("abort", () => reject(call.init.signal.reason)));

/** Asserts nothing reachable from err (message, causes, body, any property) holds text. */
function assertNotIn(err, ...texts) {
  const all = inspect(err, { depth: 10, showHidden: true }) + JSON.stringify(err.body ?? null);
  for (const text of texts) {
    assert.ok(!all.includes(text), `the error holds ${JSON.stringify(text)}:\n${all}`);
  }
}

test("status requests are not redirected: a redirect is a server error naming its Location, without its query", async (t) => {
  for (const status of [301, 302, 303, 307, 308]) {
    await t.test(String(status), async (t) => {
      const clock = new FakeClock(t);
      const fetch = fakeFetch(clock, [{ status, headers: { Location: `https://evil.example/steal?${secret}#x` } }]);
      const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "server", status);
      assert.equal(fetch.calls.length, 1, "no second request, no retry");
      assert.equal(fetch.calls[0].init.redirect, "manual");
      assert.match(err.message, /redirected \(\d+\) to https:\/\/evil\.example\/steal: not followed/);
      assertNotIn(err, secret);
    });
  }
  await t.test("a browser's opaque redirect", async (t) => {
    const clock = new FakeClock(t);
    const opaque = { type: "opaqueredirect", status: 0, ok: false, headers: new Headers(), body: null };
    const fetch = fakeFetch(clock, [{ response: opaque }]);
    const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "server", 0);
    assert.match(err.message, /redirected: not followed/);
    assert.equal(fetch.calls.length, 1);
  });
  await t.test("the refresh of fetchResult too", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 403 }, { status: 302, headers: { Location: "/elsewhere" } }]);
    await rejectsWith(clock, fetchResult(completed, { token, fetch }), "server", 302);
    assert.equal(fetch.calls[1].init.redirect, "manual");
    assert.equal(fetch.calls[0].init.redirect, undefined, "a result fetch follows redirects: it carries no token");
  });
});

test("bodies are read with a limit, and the stream is cancelled there", async (t) => {
  await t.test("an endless 202: server, cut at 64 KiB", async (t) => {
    const clock = new FakeClock(t);
    const body = endless();
    const fetch = fakeFetch(clock, [{ status: 202, body: body.stream, headers: { "Content-Type": "application/json" } }]);
    const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "server", 202);
    assert.match(err.message, /over 65536 bytes/);
    assert.ok(body.pulled <= 64 * 1024 + chunkSize, `read ${body.pulled} bytes`);
    assert.ok(body.cancelled, "the stream was not cancelled");
    assert.equal(fetch.calls.length, 1, "not retried");
  });
  await t.test("an endless result: server, cut at maxResultBytes", async (t) => {
    const clock = new FakeClock(t);
    const body = endless();
    const fetch = fakeFetch(clock, [{ status: 200, body: body.stream }]);
    const err = await rejectsWith(clock, fetchResult(completed, { token, fetch, maxResultBytes: 1 << 20 }), "server", 200);
    assert.match(err.message, /^result: the body is over maxResultBytes \(1048576 bytes\)$/);
    assert.ok(body.pulled <= (1 << 20) + chunkSize, `read ${body.pulled} bytes`);
    assert.ok(body.cancelled);
  });
  await t.test("a result within maxResultBytes", async (t) => {
    const clock = new FakeClock(t);
    const report = JSON.stringify({ headline: "x".repeat(1000) });
    const fetch = fakeFetch(clock, [{ status: 200, body: report }]);
    const got = await clock.settle(fetchResult(completed, { token, fetch, maxResultBytes: report.length }));
    assert.equal(got.headline.length, 1000);
  });
  await t.test("a Content-Length over the limit is not read at all", async (t) => {
    for (const [name, step, call, code, status] of [
      ["a 202", { status: 202 }, (fetch) => pollStatus(jobId, { token, fetch }), "server", 202],
      ["a result", { status: 200 }, (fetch) => fetchResult(completed, { token, fetch, maxResultBytes: 1000 }), "server", 200],
      ["a 404", { status: 404 }, (fetch) => pollStatus(jobId, { token, fetch }), "not_found", 404],
    ]) {
      await t.test(name, async (t) => {
        const clock = new FakeClock(t);
        const body = endless();
        const headers = { "Content-Length": String(10 ** 9), "Content-Type": "application/json" };
        const fetch = fakeFetch(clock, [{ ...step, body: body.stream, headers }]);
        await rejectsWith(clock, call(fetch), code, status);
        assert.equal(body.pulled, 0, "read a body whose Content-Length is over the limit");
        assert.ok(body.cancelled);
      });
    }
  });
  await t.test("the status code counts before the size", async (t) => {
    const big = () => ({ status: 0, body: endless().stream, headers: { "Content-Type": "application/problem+json" } });
    await t.test("401 over the limit, twice: unauthorized", async (t) => {
      const clock = new FakeClock(t);
      const fetch = fakeFetch(clock, [
        { ...big(), status: 401 },
        { ...big(), status: 401 },
      ]);
      const err = await rejectsWith(clock, pollStatus(jobId, { getToken: () => token, fetch }), "unauthorized", 401);
      assert.equal(fetch.calls.length, 2, "the fresh token was tried");
      assert.equal(err.body, undefined, "no body: it was over the limit");
    });
    await t.test("503 over the limit: retried", async (t) => {
      const clock = new FakeClock(t);
      jitterAt(t, 0);
      const fetch = fakeFetch(clock, [
        { ...big(), status: 503 },
        { ...big(), status: 503, headers: { "Retry-After": "3", "Content-Type": "application/problem+json" } },
        { status: 200, body: completed },
      ]);
      assert.deepEqual(await clock.settle(pollStatus(jobId, { token, fetch })), completed);
      assert.deepEqual(gaps(fetch.calls), [1000, 3000]);
    });
    await t.test("404 over the limit: not_found", async (t) => {
      const clock = new FakeClock(t);
      const fetch = fakeFetch(clock, [{ ...big(), status: 404 }]);
      await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "not_found", 404);
    });
  });
});

test("requestTimeoutMs bounds every request, headers and body; expiry is a network failure, retried", async (t) => {
  await t.test("a silent server: five attempts, each cut at requestTimeoutMs", async (t) => {
    const clock = new FakeClock(t);
    jitterAt(t, 0);
    const fetch = fakeFetch(clock, Array.from({ length: 5 }, () => neverAnswers));
    const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch, requestTimeoutMs: 5000 }), "network", 0);
    assert.deepEqual(gaps(fetch.calls), [6000, 7000, 9000, 13000], "5 s each, then the 1, 2, 4 s backoff");
    assert.equal(clock.now, start + 5 * 5000 + 1000 + 2000 + 4000 + 8000, "ended when the fifth timed out");
    assert.equal(err.cause.name, "TimeoutError");
    assert.match(err.message, /requestTimeoutMs \(5000 ms\)/);
    assert.equal(clock.timers.size, 0, "timers left behind");
  });
  await t.test("the default is 30 s", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [neverAnswers, { status: 200, body: completed }]);
    assert.deepEqual(await clock.settle(pollStatus(jobId, { token, fetch })), completed);
    assert.ok(gaps(fetch.calls)[0] >= 31000 && gaps(fetch.calls)[0] <= 31100, `${gaps(fetch.calls)}`);
  });
  await t.test("a dripping body is cut at requestTimeoutMs, then retried", async (t) => {
    const clock = new FakeClock(t);
    jitterAt(t, 0);
    const drip = dripping(2000);
    const fetch = fakeFetch(clock, [
      { status: 202, body: drip.stream, headers: { "Content-Type": "application/json" } },
      { status: 200, body: completed },
    ]);
    assert.deepEqual(await clock.settle(pollStatus(jobId, { token, fetch, requestTimeoutMs: 5000 })), completed);
    assert.deepEqual(gaps(fetch.calls), [5000 + 1000]);
    assert.equal(drip.pulled, 2, "two drops in 5 s");
    assert.ok(drip.cancelled);
    assert.equal(clock.timers.size, 0);
  });
  await t.test("a silent body of a result: network, not retried", async (t) => {
    const clock = new FakeClock(t);
    const body = silent();
    const fetch = fakeFetch(clock, [{ status: 200, body: body.stream }]);
    const err = await rejectsWith(clock, fetchResult(completed, { token, fetch, requestTimeoutMs: 2000 }), "network", 0);
    assert.equal(clock.now, start + 2000);
    assert.ok(body.cancelled);
    assert.equal(err.cause.name, "TimeoutError");
  });
  await t.test("a fetch option that ignores the signal is bounded too", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [() => new Promise(() => {})]);
    await rejectsWith(clock, fetchResult(completed, { token, fetch, requestTimeoutMs: 2000 }), "network", 0);
    assert.equal(clock.now, start + 2000);
  });
  await t.test("an abort by the caller during a body still rejects with its reason", async (t) => {
    const clock = new FakeClock(t);
    const ctl = new AbortController();
    const reason = new Error("left the page");
    const body = silent();
    const fetch = fakeFetch(clock, [
      () => {
        setTimeout(() => ctl.abort(reason), 100);
        return { status: 202, body: body.stream, headers: { "Content-Type": "application/json" } };
      },
    ]);
    await assert.rejects(clock.settle(pollStatus(jobId, { token, fetch, signal: ctl.signal, requestTimeoutMs: 5000 })), reason);
    assert.equal(clock.now, start + 100);
    assert.ok(body.cancelled);
    assert.equal(clock.timers.size, 0);
  });
  await t.test("maxWaitMs before requestTimeoutMs: timeout", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 202, body: silent().stream, headers: { "Content-Type": "application/json" } }]);
    await rejectsWith(clock, pollStatus(jobId, { token, fetch, maxWaitMs: 3000, requestTimeoutMs: 5000 }), "timeout", 0);
    assert.equal(clock.now, start + 3000);
  });
});

test("a state that contradicts the code is a server error", async (t) => {
  for (const [status, body] of [
    [202, completed],
    [202, failed],
    [200, pending],
    [200, { ...pending, status: "PROCESSING" }],
  ]) {
    await t.test(`${body.status} on a ${status}`, async (t) => {
      const clock = new FakeClock(t);
      const fetch = fakeFetch(clock, [{ status, body }]);
      const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "server", status);
      assert.match(err.message, new RegExp(`a ${body.status} state, which a ${status} does not carry`));
      assert.equal(fetch.calls.length, 1);
      assertNotIn(err, secret.replace("secret", "a"));
    });
  }
  await t.test("while refreshing a result URL", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 403 }, { status: 202, body: completed }]);
    await rejectsWith(clock, fetchResult(completed, { token, fetch }), "server", 202);
  });
});

test("the answer must be for the job asked", async (t) => {
  const other = "22222222-2222-4222-8222-222222222222";
  await t.test("pollStatus", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 202, body: { ...pending, job_id: other } }]);
    const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "server", 202);
    assert.match(err.message, /job_id of another job/);
    assert.equal(fetch.calls.length, 1, "not polled on, not retried");
  });
  await t.test("a missing job_id", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 200, body: { ...failed, job_id: undefined } }]);
    await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "server", 200);
  });
  await t.test("the refresh of fetchResult", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 403 }, { status: 200, body: { ...completed, job_id: other } }]);
    await rejectsWith(clock, fetchResult(completed, { token, fetch }), "server", 200);
    assert.equal(fetch.calls.length, 2, "the other job's result was not fetched");
  });
  await t.test("letter case aside", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 200, body: { ...failed, job_id: jobId.toUpperCase() } }]);
    assert.equal((await clock.settle(pollStatus(jobId, { token, fetch }))).status, "FAILED");
  });
});

test("a FAILED body's error must be a string", async (t) => {
  for (const [name, error] of [
    ["a number", 42],
    ["null", null],
    ["an object", { why: "x" }],
    ["absent", undefined],
  ]) {
    await t.test(name, async (t) => {
      const clock = new FakeClock(t);
      const fetch = fakeFetch(clock, [{ status: 200, body: { ...failed, error } }]);
      const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch }), "server", 200);
      assert.match(err.message, /FAILED status whose error is not a string/);
    });
  }
});

test("result_url must be https: (http: under an http: API), without credentials, with a valid port", async (t) => {
  const bad = [
    ["data:", 'data:application/json,{"headline":"forged"}', "https://api.example"],
    ["javascript:", `javascript:alert(1)//?${secret}`, "https://api.example"],
    ["http: under an https: API", `http://results.example/r.json?${secret}`, "https://api.example"],
    ["http: under the page's origin, outside a page", `http://results.example/r.json?${secret}`, ""],
    ["a bad port", `https://results.example:99999/r.json?${secret}`, "https://api.example"],
    ["port 0", `https://results.example:0/r.json?${secret}`, "https://api.example"],
    ["user:pass@", `https://user:pass@results.example/r.json?${secret}`, "https://api.example"],
    ["relative", `/r.json?${secret}`, "https://api.example"],
    ["not a string", 42, "https://api.example"],
  ];
  for (const [name, url, baseUrl] of bad) {
    await t.test(name, async (t) => {
      const clock = new FakeClock(t);
      const fetch = fakeFetch(clock, [{ status: 200, body: { ...completed, result_url: url } }]);
      const err = await rejectsWith(clock, pollStatus(jobId, { token, fetch, baseUrl }), "server", 200);
      assert.match(err.message, /unusable result_url/);
      assertNotIn(err, secret, "user:pass", "forged");

      if (typeof url !== "string") {
        return; // fetchResult's own TypeError
      }
      // A body given to fetchResult is refused the same way, without a request.
      const direct = fakeFetch(clock, []);
      const err2 = await rejectsWith(clock, fetchResult({ ...completed, result_url: url }, { token, fetch: direct, baseUrl }), "server");
      assert.match(err2.message, /^result: an unusable result_url/);
      assert.equal(direct.calls.length, 0);
      assertNotIn(err2, secret, "user:pass", "forged");
    });
  }
  for (const [name, url, baseUrl] of [
    ["https:", completed.result_url, ""],
    ["http: under an http: API", "http://127.0.0.1:9000/r.json?sig=a", "http://127.0.0.1:8080"],
  ]) {
    await t.test(`accepted: ${name}`, async (t) => {
      const clock = new FakeClock(t);
      const fetch = fakeFetch(clock, [
        { status: 200, body: { ...completed, result_url: url } },
        { status: 200, body: { headline: "ok" } },
      ]);
      const body = await clock.settle(pollStatus(jobId, { token, fetch, baseUrl }));
      assert.deepEqual(await clock.settle(fetchResult(body, { token, fetch, baseUrl })), { headline: "ok" });
    });
  }
});

test("no error message or cause holds a URL's query or credentials", async (t) => {
  const url = `https://results.example/r.json?X-Amz-Credential=AKIA&X-Amz-${secret}`;
  await t.test("a fetch error naming the URL (as Node's does), with a cause that has it too", async (t) => {
    const clock = new FakeClock(t);
    const cause = Object.assign(new TypeError("Invalid URL"), { code: "ERR_INVALID_URL", input: url });
    const fetch = fakeFetch(clock, [new TypeError(`Failed to parse URL from ${url}`, { cause })]);
    const err = await rejectsWith(clock, fetchResult({ ...completed, result_url: url }, { token, fetch }), "network", 0);
    assert.ok(err.cause instanceof TypeError);
    assert.equal(err.cause.message, "Failed to parse URL from https://results.example/r.json");
    assert.equal(err.cause.cause.code, "ERR_INVALID_URL", "the code is kept");
    assertNotIn(err, secret, "AKIA");
  });
  await t.test("another URL in the text, with credentials", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [new TypeError(`redirected to https://u:p@cdn.example/x?${secret} and failed`)]);
    const err = await rejectsWith(clock, fetchResult(completed, { token, fetch }), "network", 0);
    assert.match(err.message, /https:\/\/cdn\.example\/x\?… and failed/);
    assertNotIn(err, secret, "u:p@");
  });
  await t.test("a result that is not JSON, quoting a URL", async (t) => {
    const clock = new FakeClock(t);
    const fetch = fakeFetch(clock, [{ status: 200, body: `<a href="${url}">`, headers: { "Content-Type": "text/html" } }]);
    const err = await rejectsWith(clock, fetchResult(completed, { token, fetch }), "server", 200);
    assert.ok(err.cause instanceof Error);
    assertNotIn(err, secret, "AKIA");
  });
});

test("requestTimeoutMs and maxResultBytes are checked at the call", async () => {
  const fetch = async () => assert.fail("no request expected");
  for (const [name, options] of [
    ["requestTimeoutMs 0", { requestTimeoutMs: 0 }],
    ["requestTimeoutMs negative", { requestTimeoutMs: -1 }],
    ["requestTimeoutMs past setTimeout", { requestTimeoutMs: 2 ** 31 }],
    ["requestTimeoutMs not a number", { requestTimeoutMs: "5000" }],
    ["maxResultBytes 0", { maxResultBytes: 0 }],
    ["maxResultBytes a fraction", { maxResultBytes: 1.5 }],
    ["maxResultBytes not a number", { maxResultBytes: "1000" }],
  ]) {
    await assert.rejects(pollStatus(jobId, { token, fetch, ...options }), RangeError, name);
    await assert.rejects(fetchResult(completed, { token, fetch, ...options }), RangeError, name);
  }
});
