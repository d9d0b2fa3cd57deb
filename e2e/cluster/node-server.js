'use strict';
// A Node socket.io 4.8 server with @socket.io/redis-streams-adapter, as a team would run
// next to switchboard nodes on the same stream. PORT, REDIS_URL, STREAM from the
// environment. Clients: `join` (room, ack), `pub` ({ rooms, except, event, data }, ack).

const http = require('node:http');
const { Server } = require('socket.io');
const { createClient } = require('redis');
const { createAdapter } = require('@socket.io/redis-streams-adapter');

(async () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  await redis.connect();
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(redis, { streamName: process.env.STREAM }) });
  io.on('connection', (s) => {
    s.on('join', (room, ack) => {
      s.join(room);
      ack(true);
    });
    s.on('pub', ({ rooms, except = [], event, data }, ack) => {
      let op = io.to(rooms);
      if (except.length) op = op.except(except);
      op.emit(event, data);
      ack(true);
    });
  });
  httpServer.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(`node listening on ${process.env.PORT}`));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
