// Unit tests of vprpoll.js against a hostile local server, with Node's own
// fetch, on the real clock with small limits: node --test web/
//
// A file of its own: Node's fetch keeps timers of its own (keep-alive),
// which the fake clock of the other files must not meet. What needs no real
// socket is in untrusted.test.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { inspect } from "node:util";
import zlib from "node:zlib";

import { pollStatus, fetchResult, VprStatusError } from "./vprpoll.js";
import { jobId, token, completed, failOnUnhandledRejections } from "./testkit.js";

failOnUnhandledRejections();

const secret = "sig=secret";

/** A COMPLETED body whose result is at url, not expiring (the real clock runs). */
const completedAt = (url) => ({ ...completed, result_url: url, result_url_expires_at: "2999-01-01T00:00:00Z" });

/** Asserts nothing reachable from err (message, causes, body, any property) holds text. */
function assertNotIn(err, ...texts) {
  const all = inspect(err, { depth: 10, showHidden: true }) + JSON.stringify(err.body ?? null);
  for (const text of texts) {
    assert.ok(!all.includes(text), `the error holds ${JSON.stringify(text)}:\n${all}`);
  }
}

/** Starts a local HTTP server for the test; resolves with its base URL. */
async function serve(t, handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${server.address().port}`;
}

test("a real redirect to another port: no request reaches the other listener", async (t) => {
  const reached = [];
  const other = await serve(t, (req, res) => {
    reached.push(req.headers.authorization ?? "");
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(completed));
  });
  const api = await serve(t, (req, res) => res.writeHead(302, { Location: `${other}${req.url}` }).end());
  const err = await pollStatus(jobId, { token, baseUrl: api }).catch((e) => e);
  assert.ok(err instanceof VprStatusError && err.code === "server" && err.status === 302, `${err}`);
  assert.ok(err.message.includes(`${other}/api/vpr/status/${jobId}`), err.message);
  assert.deepEqual(reached, [], "the other listener got a request");
});

test("a gzip bomb is cut at the limit (Node's fetch, a local server)", async (t) => {
  // One gzip member of 1 MiB of zeros, about 1 KiB, sent again and again:
  // a body that inflates without end, until the client hangs up.
  const member = zlib.gzipSync(Buffer.alloc(1 << 20), { level: 9 });
  let hungUp = 0;
  const base = await serve(t, (req, res) => {
    res.on("close", () => hungUp++);
    const isStatus = req.url.startsWith("/api/vpr/status/");
    res.writeHead(isStatus ? 202 : 200, { "Content-Type": "application/json", "Content-Encoding": "gzip" });
    const write = () => {
      while (!res.destroyed && res.write(member));
    };
    res.on("drain", write);
    write();
  });
  const status = await pollStatus(jobId, { token, baseUrl: base }).catch((e) => e);
  assert.ok(status instanceof VprStatusError && status.code === "server" && /over 65536 bytes/.test(status.message), `${status}`);
  const result = await fetchResult(completedAt(`${base}/r.json?${secret}`), { token, baseUrl: base, maxResultBytes: 4 << 20 }).catch(
    (e) => e,
  );
  assert.ok(result instanceof VprStatusError && result.code === "server" && /maxResultBytes/.test(result.message), `${result}`);
  // The client hung up on both (the server saw the connections close).
  for (let i = 0; i < 100 && hungUp < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(hungUp, 2);
});

test("requestTimeoutMs against a real server that stalls (Node's fetch, the real clock)", async (t) => {
  const timeoutMs = 100;
  const handlers = {
    // Headers, then a byte every 50 ms, for ever.
    dripping: (req, res) => {
      res.writeHead(202, { "Content-Type": "application/json" });
      const timer = setInterval(() => res.write(" "), 50);
      res.on("close", () => clearInterval(timer));
    },
    // Nothing at all.
    silent: () => {},
  };
  for (const [name, handler] of Object.entries(handlers)) {
    await t.test(name, async (t) => {
      let requests = 0;
      const base = await serve(t, (req, res) => {
        requests++;
        handler(req, res);
      });
      const options = { token, baseUrl: base, requestTimeoutMs: timeoutMs, minIntervalMs: 0, maxIntervalMs: 10 };
      let began = performance.now();
      const err = await pollStatus(jobId, options).catch((e) => e);
      let took = performance.now() - began;
      assert.ok(err instanceof VprStatusError && err.code === "network", `${err}`);
      assert.equal(requests, 5);
      // Five attempts of about requestTimeoutMs, and 10 ms waits: generous bounds.
      assert.ok(took >= 5 * timeoutMs - 50 && took < 10000, `took ${took} ms`);

      began = performance.now();
      const res = await fetchResult(completedAt(`${base}/r.json?${secret}`), options).catch((e) => e);
      took = performance.now() - began;
      assert.ok(res instanceof VprStatusError && res.code === "network", `${res}`);
      assert.ok(took >= timeoutMs - 50 && took < 5000, `took ${took} ms`);
      assertNotIn(res, secret);
    });
  }
});

test("a refused connection: no query in the error", async () => {
  const err = await fetchResult(completedAt(`https://127.0.0.1:1/r.json?${secret}`), { token }).catch((e) => e);
  assert.ok(err instanceof VprStatusError && err.code === "network", `${err}`);
  assertNotIn(err, secret);
});
