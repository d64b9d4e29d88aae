/**
 * Which models a key may use, and the one answer for a model it may not: the same 404 `model_not_found` as for a
 * model that does not exist, so a key limited to some models cannot learn which others are served.
 */
import { ApiError } from './api-error.ts';
import type { Tenant } from './tenancy.ts';

export const mayUseModel = (tenant: Tenant, id: string): boolean =>
  !tenant.models || tenant.models.includes(id);

export const modelNotFound = (id: string): ApiError =>
  new ApiError(
    404,
    'not_found_error',
    `The model '${id}' does not exist or you do not have access to it`,
    {
      param: 'model',
      code: 'model_not_found',
    },
  );
