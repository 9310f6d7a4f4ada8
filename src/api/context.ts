/**
 * What the auth layer attaches to every authenticated request. Route plugins read `request.tenant`; they never
 * look at credentials themselves, and every repository call they make is scoped by `request.tenant.id`.
 */
export interface TenantContext {
  id: string;
  email: string;
  /** Id of the API key used (for audit), when authenticated by key. */
  keyId?: string;
  /**
   * The key's environment. A test key's `id` is the test twin of the account (store.tenants.testTwin), so test
   * requests see and write test data only; `liveId` is the account's live tenant.
   */
  environment: 'production' | 'test';
  liveId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    tenant: TenantContext;
  }
}
