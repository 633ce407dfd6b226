package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/avowhq/avow/client"
)

// benchConn is one kept-alive HTTP/1.1 connection of the load generator.
// It writes a request prepared once (request line, headers and body in one
// buffer) and reads the answer with http.ReadResponse. avow bench shares
// the machine with the server it measures, so its own CPU per request
// must stay close to an independent tool's (wrk's): net/http's Transport
// costs about twice as much per request (a reader and a writer goroutine
// per connection, channels, a header map and a context per request), and
// that CPU is taken from the server.
type benchConn struct {
	dial    func(ctx context.Context) (net.Conn, error)
	timeout time.Duration // per request

	conn net.Conn
	br   *bufio.Reader
}

// benchRequest is a prepared POST: the bytes sent on the wire.
type benchRequest []byte

// newBenchRequest prepares a POST of body to target (an absolute URL).
func newBenchRequest(target *url.URL, contentType string, body []byte) benchRequest {
	head := "POST " + target.RequestURI() + " HTTP/1.1\r\n" +
		"Host: " + target.Host + "\r\n" +
		"User-Agent: avow-bench\r\n" +
		"Content-Type: " + contentType + "\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	return append([]byte(head), body...)
}

// benchDialer dials target's host the way the client's transport would:
// TLS with its configuration for https, only HTTP/1.1 offered.
func benchDialer(target *url.URL, hc *http.Client) func(ctx context.Context) (net.Conn, error) {
	addr := target.Host
	if target.Port() == "" {
		if target.Scheme == "https" {
			addr = net.JoinHostPort(target.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(target.Hostname(), "80")
		}
	}
	nd := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if target.Scheme != "https" {
		return func(ctx context.Context) (net.Conn, error) { return nd.DialContext(ctx, "tcp", addr) }
	}
	var cfg *tls.Config
	if t, ok := hc.Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		cfg = t.TLSClientConfig.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = target.Hostname()
	}
	cfg.NextProtos = []string{"http/1.1"}
	td := &tls.Dialer{NetDialer: nd, Config: cfg}
	return func(ctx context.Context) (net.Conn, error) { return td.DialContext(ctx, "tcp", addr) }
}

// connect opens the connection when it is not open.
func (c *benchConn) connect(ctx context.Context) error {
	if c.conn != nil {
		return nil
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	c.conn = conn
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 16<<10)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

// close drops the connection; the next request dials again.
func (c *benchConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// benchAnswer is what one request got back.
type benchAnswer struct {
	status int
	body   []byte // only for answers other than 200, or when asked for
}

// do sends req and reads the answer. The body of a 200 is read and dropped
// unless keepBody; other answers keep up to client.MaxErrorBodySize.
func (c *benchConn) do(ctx context.Context, req benchRequest, keepBody bool) (benchAnswer, error) {
	if err := c.connect(ctx); err != nil {
		return benchAnswer{}, err
	}
	if c.timeout > 0 {
		c.conn.SetDeadline(time.Now().Add(c.timeout))
	}
	// Cancelling ctx (the command's time limit, an interrupt) ends a
	// request waiting for its answer.
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.conn.Write(req); err != nil {
		c.close()
		return benchAnswer{}, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("the server closed the connection")
		}
		return benchAnswer{}, err
	}
	a := benchAnswer{status: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusOK && !keepBody:
		_, err = io.Copy(io.Discard, resp.Body)
	case resp.StatusCode == http.StatusOK:
		a.body, err = io.ReadAll(io.LimitReader(resp.Body, client.MaxResponseSize))
	default:
		a.body, err = io.ReadAll(io.LimitReader(resp.Body, client.MaxErrorBodySize))
		if err == nil {
			// The rest of an oversized error body is not kept.
			_, err = io.Copy(io.Discard, resp.Body)
		}
	}
	resp.Body.Close()
	if err != nil {
		c.close()
		return benchAnswer{}, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.Close {
		c.close()
	}
	return a, nil
}
