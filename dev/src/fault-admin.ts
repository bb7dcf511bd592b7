import type { IncomingMessage, ServerResponse } from 'node:http';
import { isObject } from '@strata/runtime';

/**
 * The admin endpoint through which a chaos test switches an emulator's faults while it runs: dev/
 * only, never served by a service. `GET` answers the settings and the counts of faults injected
 * so far, `POST` with a JSON object changes the settings it names (the others stay), `DELETE`
 * clears them all. Errors have the house shape `{ error, reason }`.
 */
export const FAULTS_PATH = '/_strata/faults';

export interface FaultAdmin<State> {
  state(): State;
  /** Applies a POSTed body; a string says why it was refused (400). */
  change(body: Record<string, unknown>): State | string;
  clear(): State;
}

/** The admin answer for `/_strata/faults`; false, without touching `res`, for any other path. */
export function serveFaultAdmin<State>(req: IncomingMessage, res: ServerResponse, admin: FaultAdmin<State>): boolean {
  if (new URL(req.url ?? '/', 'http://localhost').pathname !== FAULTS_PATH) return false;
  const answer = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
  };
  if (req.method === 'GET') answer(200, admin.state());
  else if (req.method === 'DELETE') answer(200, admin.clear());
  else if (req.method === 'POST') {
    void readText(req).then((text) => {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return answer(400, { error: 'invalid_json', reason: 'the body must be a JSON object of fault settings' });
      }
      if (!isObject(body)) return answer(400, { error: 'invalid_request', reason: 'the body must be a JSON object of fault settings' });
      const changed = admin.change(body);
      if (typeof changed === 'string') answer(400, { error: 'invalid_request', reason: changed });
      else answer(200, changed);
    }, () => res.destroy());
  } else answer(405, { error: 'method_not_allowed', reason: `${FAULTS_PATH} takes GET, POST or DELETE` });
  return true;
}

async function readText(req: IncomingMessage): Promise<string> {
  let text = '';
  req.setEncoding('utf8');
  for await (const chunk of req as AsyncIterable<string>) text += chunk;
  return text;
}

/** A test's side of the endpoint: `POST` with `body`, `GET` without, `DELETE` to clear. */
export async function requestFaults<State>(baseUrl: string, method: 'GET' | 'POST' | 'DELETE', body?: object): Promise<State> {
  const res = await fetch(new URL(FAULTS_PATH, baseUrl), {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const answer = (await res.json()) as State & { reason?: string };
  if (!res.ok) throw new Error(`${method} ${FAULTS_PATH} answered ${res.status}: ${answer.reason ?? JSON.stringify(answer)}`);
  return answer;
}
