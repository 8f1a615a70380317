// Checks a JWT access token (RFC 9068) the way a resource server does, with node:crypto only:
// the signature against the issuer's JWKS (kid + alg), typ at+jwt, iss, aud, exp/iat/nbf, and
// optionally sub. Used by selftest.sh (through verify_jwt.mjs) and by the stand-in resource server
// resource_server.mjs. Not a general JOSE library: RS256/PS256/ES256/ES384/EdDSA signatures only.
import crypto from "node:crypto";

/** Why a token was refused (the message names the failed check). */
export class TokenError extends Error {
    constructor(message) {
        super(message);
        this.name = "TokenError";
    }
}

const ALGS = {
    RS256: { hash: "sha256", kty: "RSA" },
    PS256: { hash: "sha256", kty: "RSA", padding: crypto.constants.RSA_PKCS1_PSS_PADDING },
    ES256: { hash: "sha256", kty: "EC", crv: "P-256", dsa: "ieee-p1363" },
    ES384: { hash: "sha384", kty: "EC", crv: "P-384", dsa: "ieee-p1363" },
    EdDSA: { hash: null, kty: "OKP" },
};

function part(segment, what) {
    try {
        return JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    } catch {
        throw new TokenError(`the token's ${what} is not base64url JSON`);
    }
}

/** The header and claims of a compact JWS, unverified. */
export function decode(token) {
    const segments = String(token).split(".");
    if (segments.length !== 3) throw new TokenError("not a compact JWS (three dot-separated parts)");
    return { header: part(segments[0], "header"), claims: part(segments[1], "payload"), segments };
}

/** Fetches the JWKS of `issuer` through its metadata's jwks_uri. */
export async function fetchJwks(issuer) {
    const base = issuer.replace(/\/$/, "");
    let meta;
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
        const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) });
        if (response.ok) {
            meta = await response.json();
            break;
        }
    }
    if (!meta?.jwks_uri) throw new TokenError(`no metadata with a jwks_uri at ${issuer}`);
    if (meta.issuer !== issuer) throw new TokenError(`the metadata names issuer ${meta.issuer}, not ${issuer}`);
    const response = await fetch(meta.jwks_uri, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new TokenError(`GET ${meta.jwks_uri}: HTTP ${response.status}`);
    return response.json();
}

/**
 * Verifies `token` and returns { header, claims }. Throws a TokenError naming the first failed
 * check. expected: { issuer (required), audience (required), jwks (required, {keys: [...]}),
 * sub, algs (allowed algorithms; default all above), clockToleranceSeconds (default 5) }.
 */
export function verifyAccessToken(token, expected) {
    const { issuer, audience, jwks, sub, algs = Object.keys(ALGS), clockToleranceSeconds = 5 } = expected;
    const { header, claims, segments } = decode(token);
    if (!algs.includes(header.alg) || !ALGS[header.alg]) throw new TokenError(`alg ${header.alg} is not accepted (${algs.join(", ")})`);
    if (String(header.typ).toLowerCase() !== "at+jwt" && String(header.typ).toLowerCase() !== "application/at+jwt") {
        throw new TokenError(`typ ${header.typ} is not at+jwt`);
    }
    if (typeof header.kid !== "string") throw new TokenError("the header has no kid");
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    if (!jwk) throw new TokenError(`kid ${header.kid} is not in the JWKS`);
    const alg = ALGS[header.alg];
    if (jwk.kty !== alg.kty || (alg.crv && jwk.crv !== alg.crv) || (jwk.alg && jwk.alg !== header.alg) || (jwk.use && jwk.use !== "sig")) {
        throw new TokenError(`key ${header.kid} (${jwk.kty} ${jwk.crv ?? ""} ${jwk.alg ?? ""}) does not fit alg ${header.alg}`);
    }
    const key = crypto.createPublicKey({ key: jwk, format: "jwk" });
    const signed = Buffer.from(`${segments[0]}.${segments[1]}`);
    const signature = Buffer.from(segments[2], "base64url");
    const options = { key, ...(alg.padding ? { padding: alg.padding, saltLength: 32 } : {}), ...(alg.dsa ? { dsaEncoding: alg.dsa } : {}) };
    if (!crypto.verify(alg.hash, signed, options, signature)) throw new TokenError("bad signature");

    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== issuer) throw new TokenError(`iss ${claims.iss} is not ${issuer}`);
    const auds = [claims.aud].flat();
    if (!auds.includes(audience)) throw new TokenError(`aud ${JSON.stringify(claims.aud)} does not hold ${audience}`);
    if (typeof claims.exp !== "number") throw new TokenError("no exp");
    if (claims.exp + clockToleranceSeconds <= now) throw new TokenError(`expired at ${claims.exp} (now ${now})`);
    if (typeof claims.iat !== "number" || claims.iat - clockToleranceSeconds > now) throw new TokenError(`iat ${claims.iat} is missing or in the future`);
    if (claims.nbf !== undefined && claims.nbf - clockToleranceSeconds > now) throw new TokenError(`not valid before ${claims.nbf}`);
    if (typeof claims.sub !== "string" || !claims.sub) throw new TokenError("no sub");
    if (sub !== undefined && claims.sub !== sub) throw new TokenError(`sub ${claims.sub} is not ${sub}`);
    return { header, claims };
}
