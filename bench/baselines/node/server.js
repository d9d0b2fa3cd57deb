// The Node baseline of bench/: the ERP app's real-time server the way the original
// teams wrote it — express + socket.io 4.8, one process, JSON body, no extras.
//   socket "module:subscribe" { moduleKey } -> join `module:${moduleKey}`, ack
//       { success, room } when asked, and emit the snapshot `kpi:update:${moduleKey}` ([]:
//       no KPI store in the baseline; switchboard with an empty database sends [] too)
//   POST /api/v1/publish { event, data, rooms } -> io.to(room).emit(event, data) per room
//       (no rooms: io.emit), answers { success, data: { delivered_to_rooms, timestamp } }
//   GET /health
// Port: first CLI arg, else $PORT, else 3000. Binds 127.0.0.1 only. Prints "listening".
"use strict";
const http = require("http");
const express = require("express");
const { Server } = require("socket.io");

const port = parseInt(process.argv[2] || process.env.PORT || "3000", 10);
const app = express();
app.use(express.json({ limit: "1mb" }));
const server = http.createServer(app);
const io = new Server(server, { cors: { origin: "*" } });

io.on("connection", (socket) => {
  socket.on("module:subscribe", (payload, ack) => {
    const moduleKey = payload && payload.moduleKey;
    if (typeof moduleKey !== "string" || !moduleKey) {
      if (typeof ack === "function") ack({ success: false, error: "moduleKey required" });
      return;
    }
    const room = `module:${moduleKey}`;
    socket.join(room);
    if (typeof ack === "function") ack({ success: true, room });
    socket.emit(`kpi:update:${moduleKey}`, []);
  });
  socket.on("module:unsubscribe", (payload) => {
    if (payload && typeof payload.moduleKey === "string") socket.leave(`module:${payload.moduleKey}`);
  });
});

app.post("/api/v1/publish", (req, res) => {
  const { event, data, rooms } = req.body || {};
  if (typeof event !== "string" || !event) {
    return res.status(422).json({ success: false, error: { code: "validation_failed", message: "event is required" } });
  }
  const targets = Array.isArray(rooms) ? rooms : [];
  if (targets.length === 0) io.emit(event, data);
  else for (const room of targets) io.to(room).emit(event, data);
  res.json({ success: true, data: { delivered_to_rooms: targets, timestamp: new Date().toISOString() } });
});

app.get("/health", (_req, res) => res.json({ success: true, data: { status: "healthy" } }));

// socket.io's package.json is not in its "exports": read it from disk.
const version = (pkg) =>
  JSON.parse(require("fs").readFileSync(require("path").join(__dirname, "node_modules", pkg, "package.json"), "utf8")).version;

server.listen(port, "127.0.0.1", () => {
  console.log(
    `node baseline (express ${version("express")}, socket.io ${version("socket.io")}) listening on 127.0.0.1:${port} pid=${process.pid}`
  );
});

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
