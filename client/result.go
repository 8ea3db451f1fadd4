package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// maxResultBody bounds what FetchResult reads: a report is tens of KiB.
const maxResultBody = 32 << 20

// FetchResult fetches the result JSON of a COMPLETED job from s.ResultURL.
// The request carries no Authorization header: a presigned URL carries its
// own authorisation, and S3 refuses a request that has two.
//
// When s.ResultURLExpiresAt has passed, or the storage answers 403, it makes
// one [Client.Status] request for a freshly signed URL and tries once more;
// a 410 to that request is [ErrResultGone]. s is not modified. A storage
// error answer is an [*APIError] (a second 403, [ErrForbidden]); a body
// over 32 MiB, or that is not JSON, is an error too, and so is a
// ResultURL the package documentation's rules refuse. Result requests
// follow redirects: they carry no token. No error holds the URL's query,
// where its signature is.
func (c *Client) FetchResult(ctx context.Context, s *Status) ([]byte, error) {
	if s == nil || s.State != stateCompleted || s.ResultURL == "" {
		return nil, errors.New("vprstatus client: FetchResult needs the status of a COMPLETED job, with its result_url")
	}
	if why := resultURLProblem(s.ResultURL, c.baseScheme); why != "" {
		return nil, fmt.Errorf("vprstatus client: FetchResult: unusable result_url: %s", why)
	}
	cur, refreshed := s, false
	refresh := func() error {
		fresh, err := c.Status(ctx, s.JobID)
		if err != nil {
			return err
		}
		if fresh.State != stateCompleted {
			return fmt.Errorf("vprstatus client: job %s is %s now, no longer COMPLETED", s.JobID, fresh.State)
		}
		cur, refreshed = fresh, true
		return nil
	}
	if !s.ResultURLExpiresAt.IsZero() && !c.now().Before(s.ResultURLExpiresAt) {
		if err := refresh(); err != nil {
			return nil, err
		}
	}
	for {
		b, err := c.getResult(ctx, cur.ResultURL)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusForbidden && !refreshed {
			if err := refresh(); err != nil {
				return nil, err
			}
			continue
		}
		return b, err
	}
}

// getResult GETs a result URL once.
func (c *Client) getResult(ctx context.Context, rawURL string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, errors.New("vprstatus client: unusable result_url")
	}
	req.Header.Set("Accept", "application/json")
	c.setUserAgent(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("vprstatus client: fetching the result: %w", redact(err))
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		// Storage bodies are small; keep what the status bound allows.
		body, _ := readAtMost(resp.Body, resp.ContentLength, maxStatusBody)
		retryAfter, _ := parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
		return nil, &APIError{
			StatusCode: resp.StatusCode,
			Title:      http.StatusText(resp.StatusCode),
			Detail:     "answered by the result storage",
			Body:       body,
			RetryAfter: retryAfter,
		}
	}
	b, err := readAtMost(resp.Body, resp.ContentLength, maxResultBody)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("vprstatus client: reading the result: %w", err)
	}
	if !json.Valid(b) {
		return nil, errors.New("vprstatus client: the result is not JSON")
	}
	return b, nil
}

// redact removes the query and fragment, where a presigned URL's signature
// is, from the URL a transport error names.
func redact(err error) error {
	ue, ok := err.(*url.Error) // what http.Client.Do returns
	if !ok {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return &url.Error{Op: ue.Op, URL: "(result URL)", Err: ue.Err}
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
}
