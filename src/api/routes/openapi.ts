/** OpenAPI pieces every route shares: the error responses and the SSE body. */
import { z } from '@hono/zod-openapi';
import { ErrorSchema } from '../protocol/schemas.ts';

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
});

export const errorResponses = {
  400: error('Invalid request (the envelope names the field in `param`)'),
  401: error('Missing, invalid, revoked or expired key'),
  404: error('Unknown model, or one this key may not use'),
  429: error('Rate limit or quota (see Retry-After and the x-ratelimit-* headers)'),
  503: error('The model or its GPU pool is unavailable (see Retry-After)'),
};

/** The errors of a route with a request body, besides errorResponses. */
export const bodyErrorResponses = {
  413: error('The request body is larger than the limit (1 MiB by default)'),
  415: error('The request body is compressed (any content-encoding but identity)'),
};

export const sseStream = {
  'text/event-stream': {
    schema: z.string().openapi({
      description:
        '`data: <chunk JSON>` events, then `data: [DONE]`; `: keep-alive` comments while waiting',
    }),
  },
};
