// The browser side of the websocket/browser parity scenario: the official
// NATS browser client (nats.ws) connects to the server URL in ?ws=, talks
// to the scenario's peer (a raw TCP client in Rust) and to itself, and puts
// what it saw in window.__result for run.mjs to collect.
import { connect, headers, StringCodec } from "/nats.js";

const sc = StringCodec();
const ws = new URLSearchParams(location.search).get("ws");

/** SHA-256 of the bytes, in hex: how payloads are compared with the peer's. */
async function sha256(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `size` bytes of "0123456789" repeated; the peer checks the same bytes. */
function digits(size) {
  return Uint8Array.from({ length: size }, (_, i) => 48 + (i % 10));
}

function within(ms, what, promise) {
  let timer;
  const expiry = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}

async function run(r) {
  const nc = await connect({ servers: ws, reconnect: false, timeout: 5000, name: "parity-browser" });
  r.connected = true;
  r.info = nc.info;

  // Everything the peer publishes on browser.in, up to its "end".
  const inbound = nc.subscribe("browser.in");
  const received = (async () => {
    for await (const m of inbound) {
      const h = m.headers ? Array.from(m.headers, ([k, v]) => [k, v]) : null;
      r.received.push({ subject: m.subject, size: m.data.length, sha256: await sha256(m.data), headers: h });
      if (sc.decode(m.data) === "end") break;
    }
  })();
  // A responder in the page, for a request/reply through the server and back.
  nc.subscribe("browser.svc", {
    callback: (err, m) => {
      if (!err) m.respond(sc.encode(`echo:${sc.decode(m.data)}`));
    },
  });
  await nc.flush();

  const peer = await nc.request("browser.req", sc.encode("hello"), { timeout: 10000 });
  r.peer_reply = sc.decode(peer.data);
  await within(10000, "the peer's messages", received);
  const self = await nc.request("browser.svc", sc.encode("ping"), { timeout: 5000 });
  r.self_reply = sc.decode(self.data);

  nc.publish("browser.out", sc.encode("from the browser"));
  nc.publish("browser.out", digits(150000));
  const h = headers();
  h.set("X-Browser", "chromium");
  nc.publish("browser.out", sc.encode("with headers"), { headers: h });
  await nc.flush();
  await within(5000, "drain", nc.drain());
  const closed = await within(5000, "close", nc.closed());
  r.closed = closed ? String(closed) : "clean";
}

const result = { connected: false, info: null, received: [], peer_reply: null, self_reply: null, closed: null, error: null };
run(result)
  .catch((e) => {
    result.error = String(e && e.message ? e.message : e);
  })
  .finally(() => {
    window.__result = result;
  });
