// Drives the real Euler Stream WebSocket SDK (@eulerstream/euler-websocket-sdk) against ttsign's relay:
// the SDK builds the URL (createWebSocketUrl, EULER_WS_URL as its base), names the close codes
// (ClientCloseCode) and decodes raw frames (deserializeWebSocketMessage); `ws` opens the socket.
// Prints one JSON line per event: {"event":"message",type,data} for JSON bundles, {"event":"raw",...} per
// message of a binary frame, then {"event":"close",code,name,reason}. Exit 0 on a close, 4 on a timeout.
import WebSocket from "ws";

function arg(name, fallback = undefined) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const base = arg("url");
process.env.EULER_WS_URL = base; // read by the SDK when it is imported
const sdk = await import("@eulerstream/euler-websocket-sdk");
const { createWebSocketUrl, ClientCloseCode, deserializeWebSocketMessage, SchemaVersion } = sdk.default ?? sdk;

const options = { uniqueId: arg("unique-id", "emu_streamer"), features: JSON.parse(arg("features", "{}")) };
if (arg("api-key")) options.apiKey = arg("api-key");
if (arg("jwt-key")) options.jwtKey = arg("jwt-key");
const url = createWebSocketUrl(options);
const timeoutS = Number(arg("timeout", "30"));

const print = (obj) =>
  process.stdout.write(JSON.stringify(obj, (_, v) => (typeof v === "bigint" ? v.toString() : v)) + "\n");
print({ event: "url", url: url.replace(/(apiKey|jwtKey)=[^&]*/g, "$1=***") });

const ws = new WebSocket(url);
const timer = setTimeout(() => {
  print({ event: "timeout" });
  process.exit(4);
}, timeoutS * 1000);

ws.on("message", (data, isBinary) => {
  if (!isBinary) {
    const bundle = JSON.parse(data.toString("utf8"));
    for (const message of bundle.messages) print({ event: "message", timestamp: bundle.timestamp, ...message });
    return;
  }
  const frame = deserializeWebSocketMessage(new Uint8Array(data), SchemaVersion.v2);
  for (const message of frame.protoMessageFetchResult?.messages ?? []) {
    print({ event: "raw", type: message.type, data: message.decodedData?.data ?? null });
  }
});
ws.on("close", (code, reason) => {
  clearTimeout(timer);
  print({ event: "close", code, name: ClientCloseCode[code] ?? null, reason: reason.toString("utf8") });
  process.exit(0);
});
ws.on("error", (error) => print({ event: "error", message: String(error.message) }));
