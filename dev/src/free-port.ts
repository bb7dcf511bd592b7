import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that is free right now, picked at random in [min, max).
 *
 * For servers we cannot hand port 0 (postgres takes `-p N`). The default range stays below 32768:
 * Linux hands out ephemeral ports from 32768 up (net.ipv4.ip_local_port_range), so a port there can
 * be taken by some outgoing connection between our probe and the server's bind.
 */
export async function freePort({ min = 15_000, max = 32_768, attempts = 50 } = {}): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const port = min + Math.floor(Math.random() * (max - min));
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port found in [${min}, ${max}) after ${attempts} attempts`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
