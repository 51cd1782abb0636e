// Real upstream HTTP servers for the end-to-end tests, on loopback ports:
//   3990, 3991  answer every request with a small JSON body (and /health with 200), with the
//               status a `status=NNN` query parameter asks for (200 otherwise);
//   3992        the same, and can be stopped and started (its listener really closes);
//   3993        control: POST /stop/3992 and POST /start/3992;
//   3994        like 3990, for the route only the alert tests send to (its errors fire a rule).
import http from "node:http";

const servers = new Map();

function serve(port) {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const status = Number(/[?&]status=(\d{3})\b/.exec(req.url ?? "")?.[1] ?? 200);
    res.statusCode = status;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ upstream: port, path: req.url }));
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(port, "127.0.0.1");
  servers.set(port, { server, sockets });
}

function stop(port) {
  const entry = servers.get(port);
  if (!entry) return false;
  entry.server.close();
  for (const socket of entry.sockets) socket.destroy();
  servers.delete(port);
  return true;
}

for (const port of [3990, 3991, 3992, 3994]) serve(port);

http
  .createServer((req, res) => {
    const match = /^\/(stop|start)\/(\d+)$/.exec(req.url ?? "");
    if (req.method !== "POST" || !match) {
      res.statusCode = 404;
      return res.end("POST /stop/<port> or /start/<port>\n");
    }
    const port = Number(match[2]);
    if (match[1] === "stop") stop(port);
    else if (!servers.has(port)) serve(port);
    res.end("ok\n");
  })
  .listen(3993, "127.0.0.1", () => console.log("e2e upstreams ready"));
