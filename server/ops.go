package server

import (
	"time"

	"github.com/avowhq/avow/api"
	"github.com/avowhq/avow/service"
)

// Operations configures what a node does for its operators: the audit log
// of attestations, /metrics, and the limits that keep it up under load.
type Operations struct {
	// AuditRetention is how long attestation records are kept (pruned
	// hourly; 0: service.DefaultAuditRetention, 30 days; negative: kept
	// forever). Management records are never pruned.
	AuditRetention time.Duration
	// AuditQueue bounds the attestation records waiting to be written
	// (0: service.DefaultAuditQueue); beyond it records are dropped and
	// counted in avow_audit_records_dropped_total.
	AuditQueue int
	// NoAttestationAudit turns attestation records off.
	NoAttestationAudit bool
	// Metrics is who may read /metrics: api.MetricsReader, api.MetricsPublic
	// or api.MetricsOff. Default: reader, public in development mode
	// (Config.Dev), where load scripts and dashboards on the workstation
	// read it without a token.
	Metrics string
	// Limits: per-client management rate, attestation concurrency.
	Limits api.Limits
	// ReadHeaderTimeout drops clients that do not send their request
	// headers in time (default 10 s); the body must arrive within
	// ReadTimeout (default 30 s).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
}

// metricsAccess is who may read /metrics (see Metrics).
func (o Operations) metricsAccess(dev bool) string {
	switch {
	case o.Metrics != "":
		return o.Metrics
	case dev:
		return api.MetricsPublic
	}
	return api.MetricsReader
}

func (o Operations) retention() time.Duration {
	switch {
	case o.AuditRetention == 0:
		return service.DefaultAuditRetention
	case o.AuditRetention < 0:
		return 0
	}
	return o.AuditRetention
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
