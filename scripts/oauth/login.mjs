// The browser's part of an OAuth authorization code flow, over plain HTTP, for tests:
//
//   import { completeLogin, deliverRedirect } from "./login.mjs";
//   const redirect = await completeLogin(authorizationUrl, "alice@example.com");
//   // -> "http://127.0.0.1:PORT/callback?code=...&state=...&iss=..."
//
// completeLogin GETs the authorization URL and follows the authorization server's redirects
// (keeping its cookies, like a browser), fills the login form's name field (the first text or
// e-mail input; a password field, if any, gets a dummy value), submits every further form
// (a consent form), and stops at the first redirect that leaves the authorization server (or goes
// to the request's redirect_uri). It returns that redirect's URL without requesting it: the
// client's redirect_uri with `code` and `state` (or `error` when the server refused). Made for
// scripts/oauth/provider.mjs (login form + automatic consent); oidc-provider's devInteractions
// pages work too. No JavaScript is run: a page that needs it fails with a LoginError.
//
// deliverRedirect(url) then GETs that URL, when it is a loopback http(s) URL, the way the browser
// would land on a client's callback listener (mcp-remote, MCP Inspector, ...).

/** A failure of the scripted login (the message says which step and what the server said). */
export class LoginError extends Error {
    constructor(message) {
        super(message);
        this.name = "LoginError";
    }
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** A small RFC 6265 cookie jar: host-only cookies, Path matching, Max-Age/Expires. */
class CookieJar {
    #cookies = [];

    store(url, setCookieHeaders) {
        for (const header of setCookieHeaders) {
            const [pair, ...attributes] = header.split(";");
            const eq = pair.indexOf("=");
            if (eq <= 0) continue;
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            let path = defaultPath(url.pathname);
            let expires;
            for (const attribute of attributes) {
                const [key, ...rest] = attribute.split("=");
                const v = rest.join("=").trim();
                switch (key.trim().toLowerCase()) {
                    case "path":
                        if (v.startsWith("/")) path = v;
                        break;
                    case "max-age":
                        expires = Date.now() + Number(v) * 1000;
                        break;
                    case "expires":
                        if (expires === undefined && !Number.isNaN(Date.parse(v))) expires = Date.parse(v);
                        break;
                }
            }
            this.#cookies = this.#cookies.filter((c) => !(c.host === url.host && c.name === name && c.path === path));
            if (expires === undefined || expires > Date.now()) this.#cookies.push({ host: url.host, name, value, path, expires });
        }
    }

    header(url) {
        const now = Date.now();
        this.#cookies = this.#cookies.filter((c) => c.expires === undefined || c.expires > now);
        return this.#cookies
            .filter((c) => c.host === url.host && pathMatches(url.pathname, c.path))
            .sort((a, b) => b.path.length - a.path.length)
            .map((c) => `${c.name}=${c.value}`)
            .join("; ");
    }
}

function defaultPath(pathname) {
    const slash = pathname.lastIndexOf("/");
    return slash <= 0 ? "/" : pathname.slice(0, slash);
}

function pathMatches(requestPath, cookiePath) {
    if (requestPath === cookiePath) return true;
    if (!requestPath.startsWith(cookiePath)) return false;
    return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'", "#x27": "'", "#x2F": "/", "#47": "/" };
const decodeEntities = (s) => s.replace(/&(#?[a-zA-Z0-9]+);/g, (m, e) => ENTITIES[e] ?? (e.startsWith("#x") ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith("#") ? String.fromCodePoint(Number(e.slice(1))) : m));

function attributes(tag) {
    const out = {};
    for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
        out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
    }
    return out;
}

/** The forms of an HTML page: action, method and fields (inputs and named buttons). */
function parseForms(html) {
    const forms = [];
    for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
        const attrs = attributes(m[1]);
        const inputs = [...m[2].matchAll(/<input\b([^>]*)>/gi)].map((i) => attributes(i[1]));
        const buttons = [...m[2].matchAll(/<button\b([^>]*)>/gi)].map((b) => attributes(b[1]));
        forms.push({ action: attrs.action ?? "", method: (attrs.method || "get").toLowerCase(), inputs, buttons });
    }
    return forms;
}

/** The visible text of an error page, shortened, for error messages. */
function pageText(html) {
    return decodeEntities(html.replace(/<style[\s\S]*?<\/style>/gi, "").replace(/<script[\s\S]*?<\/script>/gi, "").replace(/<[^>]+>/g, " "))
        .replace(/\s+/g, " ")
        .trim()
        .slice(0, 500);
}

function sameEndpoint(a, b) {
    return a.origin === b.origin && a.pathname === b.pathname;
}

/**
 * Performs the browser's part of the authorization request `authorizationUrl` as the user
 * `loginName` and returns the URL the authorization server finally redirects to (the client's
 * redirect_uri with code and state, or with error). Never requests that URL itself.
 *
 * options: { deny: false (press Cancel instead of signing in), timeoutMs: 10000 (per request),
 *            maxSteps: 20, log: (line) => {} (one line per request, for debugging) }
 */
export async function completeLogin(authorizationUrl, loginName, options = {}) {
    const { deny = false, timeoutMs = 10_000, maxSteps = 20, log = () => {} } = options;
    if (typeof loginName !== "string" || loginName.length === 0) throw new LoginError("the login name must be a non-empty string");
    let url;
    try {
        url = new URL(authorizationUrl);
    } catch {
        throw new LoginError(`not an absolute URL: ${authorizationUrl}`);
    }
    const server = url.origin;
    const redirectParam = url.searchParams.get("redirect_uri");
    const redirectUri = redirectParam && URL.canParse(redirectParam) ? new URL(redirectParam) : undefined;
    const isFinal = (location) => location.origin !== server || (redirectUri && sameEndpoint(location, redirectUri));

    const jar = new CookieJar();
    let method = "GET";
    let body;
    let submittedLogin = false;
    for (let step = 0; step < maxSteps; step++) {
        const headers = { accept: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "user-agent": "scripts/oauth/login.mjs" };
        const cookie = jar.header(url);
        if (cookie) headers.cookie = cookie;
        if (body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
        let response;
        try {
            response = await fetch(url, { method, headers, body, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
        } catch (e) {
            throw new LoginError(`${method} ${url.origin}${url.pathname} failed: ${e.cause?.message || e.message}`);
        }
        jar.store(url, response.headers.getSetCookie());
        log(`${method} ${url.href} -> ${response.status}`);

        if (response.status >= 300 && response.status < 400) {
            await response.body?.cancel();
            const location = response.headers.get("location");
            if (!location) throw new LoginError(`${response.status} from ${url.pathname} without a Location`);
            const next = new URL(location, url);
            if (isFinal(next)) return next.href;
            url = next;
            method = "GET";
            body = undefined;
            continue;
        }

        const html = await response.text();
        if (response.status !== 200) {
            throw new LoginError(`HTTP ${response.status} from ${url.pathname}: ${pageText(html)}`);
        }
        const forms = parseForms(html);

        if (deny) {
            const cancel = [...html.matchAll(/<a\b([^>]*)>/gi)].map((a) => attributes(a[1]).href).find((href) => href && /abort|cancel/i.test(href));
            if (cancel) {
                url = new URL(cancel, url);
                method = "GET";
                body = undefined;
                continue;
            }
        }

        const textField = (form) => form.inputs.find((i) => ["text", "email", ""].includes((i.type ?? "").toLowerCase()) && i.name);
        const loginForm = forms.find(textField);
        const form = loginForm ?? forms.find((f) => f.method === "post") ?? forms[0];
        if (!form) {
            if (html.includes("<script")) throw new LoginError(`page ${url.pathname} has no form (it needs JavaScript?): ${pageText(html)}`);
            throw new LoginError(`page ${url.pathname} has neither a form nor a redirect: ${pageText(html)}`);
        }
        if (loginForm && submittedLogin) {
            throw new LoginError(`the login form came back after signing in as ${JSON.stringify(loginName)}: ${pageText(html)}`);
        }
        const fields = new URLSearchParams();
        for (const input of form.inputs) {
            const type = (input.type ?? "text").toLowerCase();
            if (!input.name || ["submit", "button", "image", "reset", "file"].includes(type)) continue;
            if ((type === "checkbox" || type === "radio") && !("checked" in input)) continue;
            if (input === textField(form)) fields.set(input.name, loginName);
            else if (type === "password") fields.set(input.name, input.value || "test-password");
            else fields.set(input.name, input.value ?? "");
        }
        // The first named submit button, as a browser sends when it is the one pressed.
        const submit = form.buttons.find((b) => b.name && (b.type ?? "submit").toLowerCase() === "submit" && !(deny === false && /abort|cancel/i.test(b.name)));
        if (submit) fields.set(submit.name, submit.value ?? "");
        if (loginForm) submittedLogin = true;

        const action = new URL(form.action || url.href, url);
        if (isFinal(action)) {
            throw new LoginError(`the server answers with a form posted to ${action.origin}${action.pathname} (response_mode=form_post?); only redirects are supported`);
        }
        if (form.method === "post") {
            method = "POST";
            body = fields.toString();
            url = action;
        } else {
            method = "GET";
            body = undefined;
            action.search = fields.toString();
            url = action;
        }
    }
    throw new LoginError(`no redirect to the client after ${maxSteps} requests`);
}

/**
 * GETs `redirectUrl` (the result of completeLogin) when it is an http(s) URL on 127.0.0.1,
 * localhost or [::1], as a browser landing on a client's callback listener does. Returns
 * { status, body } (body shortened to 500 characters). Throws a LoginError for any other URL or
 * when the request fails.
 */
export async function deliverRedirect(redirectUrl, { timeoutMs = 30_000 } = {}) {
    const url = new URL(redirectUrl);
    if (!["http:", "https:"].includes(url.protocol) || !LOOPBACK_HOSTS.has(url.hostname)) {
        throw new LoginError(`not delivering to ${url.origin}: only loopback http(s) callbacks are delivered`);
    }
    let response;
    try {
        response = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
        throw new LoginError(`GET ${url.origin}${url.pathname} failed: ${e.cause?.message || e.message}`);
    }
    const text = await response.text().catch(() => "");
    return { status: response.status, body: pageText(text) };
}
