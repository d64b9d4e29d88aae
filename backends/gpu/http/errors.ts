/** The internal API's error: the OpenAI envelope {"error":{message,type,param,code}} with a status and headers. */

export interface PoolHttpErrorOptions {
  param?: string | null;
  code?: string | null;
  headers?: Record<string, string>;
}

export class PoolHttpError extends Error {
  override name = 'PoolHttpError';
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(readonly status: number, readonly type: string, message: string, { param = null, code = null, headers = {} }: PoolHttpErrorOptions = {}) {
    super(message);
    this.param = param;
    this.code = code;
    this.headers = headers;
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  toResponse(): Response {
    return new Response(JSON.stringify(this.toJSON()), {
      status: this.status,
      headers: { 'content-type': 'application/json', ...this.headers },
    });
  }
}

export const unavailable = (message: string, code: string, retryAfterS: number) =>
  new PoolHttpError(503, 'service_unavailable_error', message, { code, headers: { 'retry-after': String(retryAfterS) } });
