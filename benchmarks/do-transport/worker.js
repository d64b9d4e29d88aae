// The Worker bench:do-transport runs in workerd: one Durable Object answering the same admission-sized message
// over fetch + JSON and over JS RPC; GET /?transport=rpc|fetch&n=N makes N sequential calls and answers the mean.
// Inside workerd the clock advances across I/O, and each call is I/O, so the Worker can time its own calls.
import { DurableObject } from 'cloudflare:workers';

const answer = (message) => ({
  ok: true,
  leaseId: crypto.randomUUID(),
  keyId: message.keyHash.slice(0, 8),
  headers: { 'x-ratelimit-limit-requests': '1000000', 'x-ratelimit-remaining-requests': '999999' },
});

export class Limiter extends DurableObject {
  admit(message) {
    return answer(message);
  }
  async fetch(request) {
    return Response.json(answer(await request.json()));
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get('n'));
    const rpc = url.searchParams.get('transport') === 'rpc';
    const message = JSON.parse(url.searchParams.get('message'));
    const started = Date.now();
    for (let i = 0; i < n; i++) {
      const stub = env.LIMITER.get(env.LIMITER.idFromName('tenant'));
      if (rpc) await stub.admit(message);
      else {
        const response = await stub.fetch('https://limiter/admit', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(message),
        });
        await response.json();
      }
    }
    return Response.json({ meanMs: (Date.now() - started) / n });
  },
};
