// Runs page.mjs in headless Chromium against a NATS WebSocket URL and prints
// one JSON line: what the page reported, the WebSocket handshake as the
// browser saw it, and the page's console and errors.
//
//   node run.mjs WS_URL PROFILE_DIR CHROMIUM TIMEOUT_MS
//
// The page and the nats.ws bundle are served from 127.0.0.1 on a port the
// OS picks. Chromium runs with the fresh profile folder PROFILE_DIR, is
// always closed before exit, and the run gives up after TIMEOUT_MS. Should
// this process be killed instead, Chromium exits when its DevTools pipe
// closes.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const FILES = {
  "/": ["index.html", "text/html"],
  "/page.mjs": ["page.mjs", "text/javascript"],
  "/nats.js": ["node_modules/nats.ws/esm/nats.js", "text/javascript"],
};

/** Serves FILES on 127.0.0.1 and an OS-assigned port; resolves to the server. */
function serve() {
  const server = createServer(async (req, res) => {
    const file = FILES[new URL(req.url, "http://x").pathname];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": file[1] }).end(await readFile(here(file[0])));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

async function main(wsUrl, profile, executablePath, timeoutMs) {
  const out = { page: null, handshake: null, console: [], page_errors: [], error: null };
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const http = await serve();
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      timeout: left(),
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => out.console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => out.page_errors.push(String(e)));
    // The handshake's headers are only visible through the DevTools protocol.
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    const handshake = { request: null, status: null, response: null };
    cdp.on("Network.webSocketWillSendHandshakeRequest", (e) => (handshake.request = e.request.headers));
    cdp.on("Network.webSocketHandshakeResponseReceived", (e) => {
      handshake.status = e.response.status;
      handshake.response = e.response.headers;
    });
    const { port } = http.address();
    await page.goto(`http://127.0.0.1:${port}/?ws=${encodeURIComponent(wsUrl)}`, { timeout: left() });
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: left() });
    out.page = await page.evaluate(() => window.__result);
    out.handshake = handshake;
  } catch (e) {
    out.error = String(e && e.message ? e.message : e);
  } finally {
    if (context) await context.close().catch(() => {});
    http.close();
  }
  return out;
}

const args = process.argv.slice(2);
const timeoutMs = Number(args[3]);
if (args.length !== 4 || !(timeoutMs > 0)) {
  console.error("usage: node run.mjs WS_URL PROFILE_DIR CHROMIUM TIMEOUT_MS");
  process.exit(2);
}
const out = await main(args[0], args[1], args[2], timeoutMs);
process.stdout.write(JSON.stringify(out) + "\n");
