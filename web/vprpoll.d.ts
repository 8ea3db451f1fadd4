// Types of vprpoll.js: polling the VPR status API from a web page.
// The rules the functions follow are in vprpoll.js's module comment, the
// Go client's too (package client). In short, every answer is untrusted:
// status requests are never redirected; bodies are read with byte limits
// (64 KiB for status and error bodies, maxResultBytes for a result) and
// every request, headers and body, within requestTimeoutMs; a status body
// must be for the job asked, with a state that agrees with its code, a
// string error when FAILED and an https: result_url when COMPLETED; no
// error message or cause holds a URL's query.

/** A job's state, as the status API reports it. */
export type JobState = "PENDING" | "PROCESSING" | "COMPLETED" | "FAILED";

/** The 202 answer while the job runs. */
export interface RunningBody {
  job_id: string;
  status: "PENDING" | "PROCESSING";
  created_at: string;
  started_at?: string;
}

/** What the model consumed to produce the report. */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
}

/** The 200 answer of a completed job. */
export interface CompletedBody {
  job_id: string;
  status: "COMPLETED";
  created_at: string;
  completed_at?: string;
  /** A bearer secret until result_url_expires_at: never log it. */
  result_url: string;
  /** RFC 3339 UTC. */
  result_url_expires_at: string;
  token_usage?: TokenUsage;
}

/** The 200 answer of a failed job: a result, not an error. */
export interface FailedBody {
  job_id: string;
  status: "FAILED";
  created_at: string;
  error: string;
}

/** Any status body. */
export type StatusBody = RunningBody | CompletedBody | FailedBody;

/** What pollStatus resolves with. */
export type FinalBody = CompletedBody | FailedBody;

/** RFC 9457 problem details, with the service's error and message members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  error: string;
  message?: string;
  [member: string]: unknown;
}

/** What a VprStatusError's code says; see VprStatusError. */
export type VprStatusErrorCode =
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "gone"
  | "rate_limited"
  | "unavailable"
  | "server"
  | "network"
  | "timeout";

/** What getToken is called with. */
export interface GetTokenRequest {
  /** True after a 401: the token last handed out was refused, do not return it from a cache. */
  forceRefresh: boolean;
  /** Aborts when the poll is aborted or times out. */
  signal: AbortSignal;
}

/** Options shared by pollStatus and fetchResult. Give exactly one of token and getToken. */
export interface CommonOptions {
  /** Where the API is, e.g. "https://api.example.com"; "" (the default) is the page's own origin. */
  baseUrl?: string;
  /** A fixed bearer token: a 401 fails at once. */
  token?: string;
  /** Called before each request; after a 401, once more with forceRefresh before giving up. */
  getToken?: (request: GetTokenRequest) => string | Promise<string>;
  /** Aborting rejects with signal.reason and clears every timer. */
  signal?: AbortSignal;
  /** An overall deadline, in milliseconds: passing it rejects with code "timeout". */
  maxWaitMs?: number;
  /**
   * The longest one request may take, headers and whole body, in
   * milliseconds (default 30000, as the Go client's). Expiry counts as a
   * network failure: pollStatus retries it like one, and gives up with code
   * "network"; fetchResult does not retry.
   */
  requestTimeoutMs?: number;
  /** Replaces globalThis.fetch, e.g. in tests or to observe every answer. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/** Options of pollStatus. */
export interface PollOptions extends CommonOptions {
  /**
   * Called when the job's state changes (the first answer counts), never on
   * a 304. If it returns a promise, polling waits for it; if it throws or
   * rejects, the poll rejects with that error.
   */
  onUpdate?: (body: StatusBody, response: Response) => void | Promise<void>;
  /** The shortest wait between polls, in milliseconds (default 1000). */
  minIntervalMs?: number;
  /** The longest wait between polls, in milliseconds (default 30000). */
  maxIntervalMs?: number;
}

/** Options of fetchResult. */
export interface ResultOptions extends CommonOptions {
  /**
   * The largest result body to read, in bytes, after decompression (default
   * 33554432, 32 MiB). A result over it rejects with code "server"; reading
   * stops at the limit.
   */
  maxResultBytes?: number;
}

/** Why a poll or a result fetch failed. */
export class VprStatusError extends Error {
  constructor(
    message: string,
    init: { code: VprStatusErrorCode; status?: number; body?: unknown; retryAfterMs?: number; cause?: unknown },
  );
  readonly name: "VprStatusError";
  /**
   * unauthorized (401: sign in again), forbidden (403), not_found (404),
   * gone (410: regenerate the report), rate_limited (429), unavailable (503),
   * server (any other answer: a redirect, an unexpected body, one over its
   * byte limit), network (no complete answer within requestTimeoutMs; a
   * CORS refusal looks the same), timeout (maxWaitMs passed).
   */
  readonly code: VprStatusErrorCode;
  /** The HTTP status; 0 when there was no answer (network, timeout) or a browser's opaque redirect. */
  readonly status: number;
  /**
   * The parsed body of the answer, when it was JSON within its limit: the
   * problem details (a Problem) of an error answer, or the unexpected body
   * of a "server" error, its result_url cut to origin and path.
   */
  readonly body: unknown;
  /** What Retry-After asked, in milliseconds, on a 429 or 503 that sent it. */
  readonly retryAfterMs: number | undefined;
}

/**
 * Polls a job until it is COMPLETED or FAILED and resolves with that body.
 * Rejects with a VprStatusError, with signal.reason on abort, or with what
 * getToken or onUpdate threw.
 */
export function pollStatus(jobId: string, options: PollOptions): Promise<FinalBody>;

/**
 * Fetches and parses the result a COMPLETED body points at, asking the status
 * once for a fresh URL when the URL has expired or the storage answers 403.
 */
export function fetchResult<T = unknown>(body: CompletedBody, options: ResultOptions): Promise<T>;
