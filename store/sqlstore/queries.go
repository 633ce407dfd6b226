package sqlstore

const (
	providerCols = `id, name, trust_model, accepted_tcb, grace_ns, settings_extra,
	subscription, resource_group, location, tags, created_at, updated_at, version`
	policyCols     = `pr.name, po.attestation_type, po.document, po.policy_text, po.hash, po.signer_cert, po.updated_at, po.version`
	keyCols        = `pr.name, k.kid, k.sealed_key, k.certificate, k.created_at, k.retired_at, k.active`
	tokenCols      = `id, hash, role, description, created_at, revoked_at`
	collateralMeta = `id, tee, fmspc, pce_id, size, sha256, issue_date, next_update, fetched_at, source, tcb_eval, pinned`
	auditCols      = `logged_at, kind, actor, provider, operation, outcome, details, request_id`
)

// queries are the store's statements, rendered once for a dialect.
type queries struct {
	changeVersion string

	getProvider, listProviders, providerID, providerIDLock string
	getPolicy, listPolicies, listSigners                   string
	activeKey, listKeys, tokenByHash, listTokens           string
	getCollateral, collateralByID, listCollateral          string
	collateralHistory, activeKeys                          string
	collateralForNumber, listCollateralNumbers             string
	getTypeCollateral, listTypeCollateral                  string

	createProvider, updateProvider, deleteProvider string
	upsertPolicy, updatePolicy, deletePolicy       string
	addSigner, removeSigner                        string
	keyExists, retireKey, insertKey, pruneKeys     string
	createToken, revokeToken                       string
	putCollateral, pruneCollateral                 string
	pruneAttestations, putTypeCollateral           string
}

func newQueries(d Dialect) *queries {
	r := func(tmpl string) string { return render(d, tmpl) }
	return &queries{
		changeVersion: r(`SELECT version FROM change_version WHERE id = 1`),

		getProvider:    r(`SELECT ` + providerCols + ` FROM providers WHERE fold(name) = fold(?)`),
		listProviders:  r(`SELECT ` + providerCols + ` FROM providers ORDER BY foldorder(name), id`),
		providerID:     r(`SELECT id, name FROM providers WHERE fold(name) = fold(?)`),
		providerIDLock: r(`SELECT id, name FROM providers WHERE fold(name) = fold(?) {lock}`),
		getPolicy: r(`SELECT ` + policyCols + ` FROM policies po JOIN providers pr ON pr.id = po.provider_id
			WHERE fold(pr.name) = fold(?) AND fold(po.attestation_type) = fold(?)`),
		listPolicies: r(`SELECT ` + policyCols + ` FROM policies po JOIN providers pr ON pr.id = po.provider_id
			WHERE po.provider_id = ? ORDER BY foldorder(po.attestation_type)`),
		listSigners: r(`SELECT thumbprint, certificate, added_at FROM signers
			WHERE provider_id = ? ORDER BY added_at, {insertorder:signers}`),
		activeKey: r(`SELECT ` + keyCols + ` FROM signing_keys k JOIN providers pr ON pr.id = k.provider_id
			WHERE fold(pr.name) = fold(?) AND k.active = {true}`),
		activeKeys: r(`SELECT ` + keyCols + ` FROM signing_keys k JOIN providers pr ON pr.id = k.provider_id
			WHERE k.active = {true} ORDER BY foldorder(pr.name), pr.id`),
		getTypeCollateral: r(`SELECT ` + typeCollateralCols + ` FROM type_collateral
			WHERE type = ? AND kind = ? AND key = ?`),
		listTypeCollateral: r(`SELECT ` + typeCollateralCols + ` FROM type_collateral
			WHERE ? = '' OR type = ? ORDER BY type, kind, key`),
		putTypeCollateral: r(`INSERT INTO type_collateral (` + typeCollateralCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (type, kind, key) DO UPDATE SET data = excluded.data, sha256 = excluded.sha256,
			not_after = excluded.not_after, fetched_at = excluded.fetched_at, source = excluded.source`),
		listKeys: r(`SELECT ` + keyCols + ` FROM signing_keys k JOIN providers pr ON pr.id = k.provider_id
			WHERE k.provider_id = ? ORDER BY k.active DESC, k.created_at DESC, k.id DESC`),
		tokenByHash: r(`SELECT ` + tokenCols + ` FROM admin_tokens WHERE hash = ?`),
		listTokens:  r(`SELECT ` + tokenCols + ` FROM admin_tokens ORDER BY created_at, {insertorder:admin_tokens}`),
		// The key's current collateral: its latest row not pinned to a TCB
		// evaluation data number (a TCB baseline's collateral).
		getCollateral: r(`SELECT ` + collateralMeta + `, bundle FROM collateral
			WHERE tee = ? AND fmspc = ? AND pce_id = ? AND pinned = {false} ORDER BY id DESC LIMIT 1`),
		collateralByID: r(`SELECT ` + collateralMeta + `, bundle FROM collateral WHERE id = ?`),
		listCollateral: r(d.LatestPerKey("(SELECT * FROM collateral WHERE pinned = {false}) c", "tee, fmspc, pce_id", collateralMeta)),
		collateralForNumber: r(`SELECT ` + collateralMeta + `, bundle FROM collateral
			WHERE tee = ? AND fmspc = ? AND pce_id = ? AND tcb_eval = ? ORDER BY id DESC LIMIT 1`),
		listCollateralNumbers: r(d.LatestPerKey("collateral", "tee, fmspc, pce_id, tcb_eval", collateralMeta)),
		collateralHistory: r(`SELECT ` + collateralMeta + ` FROM collateral
			WHERE tee = ? AND fmspc = ? AND pce_id = ? ORDER BY id DESC`),

		// ON CONFLICT DO NOTHING: a taken name, thumbprint or token is no
		// error inside the database (which would abort a PostgreSQL
		// transaction), just no row.
		createProvider: r(`INSERT INTO providers (name, trust_model, accepted_tcb, grace_ns, settings_extra,
			subscription, resource_group, location, tags, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING RETURNING ` + providerCols),
		// Under READ COMMITTED the WHERE is re-checked after waiting for a
		// concurrent update: a stale version is a conflict, never a lost
		// update.
		updateProvider: r(`UPDATE providers SET trust_model = ?, accepted_tcb = ?, grace_ns = ?,
			settings_extra = ?, subscription = ?, resource_group = ?, location = ?, tags = ?, updated_at = ?,
			version = version + 1 WHERE fold(name) = fold(?) AND version = ? RETURNING ` + providerCols),
		deleteProvider: r(`DELETE FROM providers WHERE fold(name) = fold(?)`),
		upsertPolicy: r(`INSERT INTO policies (provider_id, attestation_type, document, policy_text, hash,
			signer_cert, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)
			ON CONFLICT (provider_id, fold(attestation_type)) DO UPDATE SET document = excluded.document,
			policy_text = excluded.policy_text, hash = excluded.hash, signer_cert = excluded.signer_cert,
			updated_at = excluded.updated_at, version = policies.version + 1
			RETURNING attestation_type, version`),
		updatePolicy: r(`UPDATE policies SET document = ?, policy_text = ?, hash = ?, signer_cert = ?,
			updated_at = ?, version = version + 1
			WHERE provider_id = ? AND fold(attestation_type) = fold(?) AND version = ?
			RETURNING attestation_type, version`),
		deletePolicy: r(`DELETE FROM policies WHERE provider_id = ? AND fold(attestation_type) = fold(?)`),
		addSigner: r(`INSERT INTO signers (provider_id, thumbprint, certificate, added_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`),
		removeSigner: r(`DELETE FROM signers WHERE provider_id = ? AND thumbprint = ?`),
		keyExists:    r(`SELECT count(*) FROM signing_keys WHERE provider_id = ? AND kid = ?`),
		retireKey:    r(`UPDATE signing_keys SET active = {false}, retired_at = ? WHERE provider_id = ? AND active = {true}`),
		insertKey: r(`INSERT INTO signing_keys (provider_id, kid, sealed_key, certificate, created_at, retired_at, active)
			VALUES (?, ?, ?, ?, ?, NULL, {true})`),
		pruneKeys: r(`DELETE FROM signing_keys WHERE active = {false} AND retired_at < ?`),
		createToken: r(`INSERT INTO admin_tokens (id, hash, role, description, created_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		revokeToken: r(`UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`),
		putCollateral: r(`INSERT INTO collateral (tee, fmspc, pce_id, bundle, size, sha256, issue_date,
			next_update, fetched_at, source, tcb_eval, pinned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		// History goes; the current collateral of each key and the latest
		// row of each key and TCB evaluation data number stay.
		pruneCollateral: r(`DELETE FROM collateral WHERE fetched_at < ?
			AND id NOT IN (SELECT max(id) FROM collateral WHERE pinned = {false} GROUP BY tee, fmspc, pce_id)
			AND id NOT IN (SELECT max(id) FROM collateral GROUP BY tee, fmspc, pce_id, tcb_eval)`),
		pruneAttestations: r(`DELETE FROM audit WHERE kind = 'attestation' AND logged_at < ?`),
	}
}
