package service

import "github.com/avowhq/avow/attestation/dcapquote"

// The service's collateral is what the DCAP types need.
var _ dcapquote.Collateral = (*collateralAccess)(nil)
