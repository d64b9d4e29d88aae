/** The D1 tenant store inside workerd (Miniflare), held to the TenantStore contract (store-contract.ts). */
import { startWorker } from '../fixtures/tenants/harness.ts';
import { tenantStoreContract } from '../fixtures/tenants/store-contract.ts';

tenantStoreContract('D1 tenant store (workerd)', () => startWorker());
